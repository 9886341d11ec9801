/**
 * A thread doing one kind of work for a sink, one request at a time (the sink awaits each). The thread starts on
 * the first request and does not keep the process alive between requests; if it dies, the pending request fails
 * (the sink's write fails and is retried from the journal) and the next request starts a new thread.
 */
import { Worker } from "node:worker_threads";
import { workerScript } from "../paths";

export type WorkerReply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export class WorkerClient<Request> {
  private worker: Worker | undefined;

  /** `script`: the worker's module name beside this one (e.g. "parquet-encoder-worker"). */
  constructor(
    private readonly script: string,
    private readonly what: string,
  ) {}

  /** A request without an answer (the next call's answer comes after it: messages keep their order). */
  post(request: Request): void {
    this.thread().postMessage(request);
  }

  call<T>(request: Request): Promise<T> {
    const worker = this.thread();
    // Referenced while a call is out: a process with nothing else to do (a drain at exit) waits for the answer.
    worker.ref();
    return new Promise<T>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the ${this.what} thread exited with code ${code}`));
      worker.once("exit", onExit);
      worker.once("message", (reply: WorkerReply<T>) => {
        worker.off("exit", onExit);
        worker.unref();
        if (reply.ok) resolve(reply.value);
        else reject(new Error(reply.message));
      });
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerScript(__dirname, `${this.script}.js`));
    worker.unref();
    worker.once("exit", () => {
      if (this.worker === worker) this.worker = undefined;
    });
    // An uncaught error ends the thread; the pending call fails on its exit event.
    worker.on("error", () => undefined);
    this.worker = worker;
    return worker;
  }
}


/** What a worker answers: the value, or the error's message. */
export function replyOf<T>(work: () => T | Promise<T>): Promise<WorkerReply<T>> {
  return Promise.resolve()
    .then(work)
    .then(
      (value): WorkerReply<T> => ({ ok: true, value }),
      (error: unknown): WorkerReply<T> => ({ ok: false, message: (error as Error)?.message ?? String(error) }),
    );
}
