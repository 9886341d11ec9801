/**
 * A thread doing one kind of work for a sink, one request at a time (the sink awaits each). The thread starts on
 * the first request and does not keep the process alive between requests; if it dies, the pending request fails
 * (the sink's write fails and is retried from the journal) and the next request starts a new thread.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { Worker, type Transferable } from "node:worker_threads";
import { projectRoot } from "../paths";

export type WorkerReply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string; readonly code?: string };

export class WorkerClient<Request> {
  private worker: Worker | undefined;

  /** `script`: the worker's module name beside this one (e.g. "parquet-encoder-worker"). */
  constructor(
    private readonly script: string,
    private readonly what: string,
    private readonly workerData?: unknown,
  ) {}

  /** A request without an answer (the next call's answer comes after it: messages keep their order). */
  post(request: Request): void {
    this.thread().postMessage(request);
  }

  call<T>(request: Request, transfer: readonly Transferable[] = []): Promise<T> {
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
        else reject(Object.assign(new Error(reply.message), reply.code === undefined ? {} : { code: reply.code }));
      });
      worker.postMessage(request, transfer as Transferable[]);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerScript(this.script), { workerData: this.workerData });
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

/** The compiled worker beside this module, or its build output when this module runs from source (jest). */
function workerScript(name: string): string {
  const sibling = join(__dirname, `${name}.js`);
  if (existsSync(sibling)) return sibling;
  const root = projectRoot(__dirname);
  return join(root, "dist", relative(root, __dirname), `${name}.js`);
}

/** What a worker answers: the value, or the error's message (and code, e.g. a PostgreSQL SQLSTATE). */
export function replyOf<T>(work: () => T | Promise<T>): Promise<WorkerReply<T>> {
  return Promise.resolve()
    .then(work)
    .then(
      (value): WorkerReply<T> => ({ ok: true, value }),
      (error: unknown): WorkerReply<T> => {
        const code = (error as { code?: unknown })?.code;
        return { ok: false, message: (error as Error)?.message ?? String(error), ...(typeof code === "string" ? { code } : {}) };
      },
    );
}
