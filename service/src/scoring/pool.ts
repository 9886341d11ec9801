/**
 * The scoring workers, one per core by default: started together (each loads the model), fed units on the
 * least busy worker, results returned per unit. A worker that dies fails the run: a batch job is re-run, not
 * patched up mid-way.
 */
import { Worker } from "node:worker_threads";
import { workerScript } from "../paths";
import { ScoringInputError } from "./errors";
import type { ScoringPlan } from "./plan";
import type { UnitResult, WorkerMessage, WorkerSetup, WorkUnit } from "./protocol";

interface Pending {
  readonly resolve: (result: UnitResult) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly thread: Worker;
  readonly pending: Map<number, Pending>;
}

export class ScoringPool {
  private closed = false;

  private constructor(private readonly workers: PoolWorker[]) {}

  static async start(size: number, setup: WorkerSetup): Promise<ScoringPool> {
    const started = await Promise.allSettled(Array.from({ length: size }, () => startWorker(setup)));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failure) {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.terminate() : undefined)));
      throw failure.reason;
    }
    const pool = new ScoringPool([]);
    for (const s of started) pool.adopt((s as PromiseFulfilledResult<Worker>).value);
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** What every worker scores by; sent before the first unit. */
  plan(plan: ScoringPlan): void {
    for (const w of this.workers) w.thread.postMessage({ kind: "plan", plan });
  }

  submit(unit: WorkUnit, transfer: ArrayBuffer[] = []): Promise<UnitResult> {
    if (this.closed) return Promise.reject(new Error("the scoring pool is closed"));
    let worker = this.workers[0]!;
    for (const w of this.workers) if (w.pending.size < worker.pending.size) worker = w;
    return new Promise((resolve, reject) => {
      worker.pending.set(unit.seq, { resolve, reject });
      worker.thread.postMessage(unit, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }

  private adopt(thread: Worker): void {
    const worker: PoolWorker = { thread, pending: new Map() };
    this.workers.push(worker);
    const failAll = (error: Error) => {
      for (const task of worker.pending.values()) task.reject(error);
      worker.pending.clear();
    };
    thread.on("message", (message: WorkerMessage) => {
      if (message.kind !== "done" && message.kind !== "error") return;
      const task = worker.pending.get(message.seq);
      if (!task) return;
      worker.pending.delete(message.seq);
      if (message.kind === "done") task.resolve(message);
      else task.reject(message.input ? new ScoringInputError(message.error) : new Error(`scoring failed: ${message.error}`));
    });
    thread.on("error", (error) => failAll(new Error(`a scoring worker crashed: ${error.message}`)));
    thread.on("exit", (code) => {
      if (!this.closed) failAll(new Error(`a scoring worker exited with code ${code}`));
    });
  }
}

function startWorker(setup: WorkerSetup): Promise<Worker> {
  return new Promise((resolve, reject) => {
    // The environment as this thread sees it now (credentials, AWS_REGION), not as the process started.
    const thread = new Worker(workerScript(__dirname, "worker.js"), { workerData: setup, env: { ...process.env } });
    const onExit = (code: number) => reject(new Error(`a scoring worker exited with code ${code} while loading the model`));
    thread.once("error", reject);
    thread.once("exit", onExit);
    thread.once("message", (message: WorkerMessage) => {
      thread.off("error", reject);
      thread.off("exit", onExit);
      if (message.kind === "ready") return resolve(thread);
      void thread.terminate();
      const text = message.kind === "failed" ? message.error : `unexpected ${message.kind}`;
      reject(message.kind === "failed" && message.input ? new ScoringInputError(text) : new Error(`a scoring worker could not start: ${text}`));
    });
  });
}

