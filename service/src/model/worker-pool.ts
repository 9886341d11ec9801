/**
 * A Scorer that runs ONNX Runtime sessions in worker threads, one session per worker, so inference uses every
 * core and a slow model never blocks the event loop (session.run() is a synchronous native call: in-thread, a
 * 5 ms MLP run delays every other request, health probe and metrics scrape by 5 ms).
 *
 * Each worker loads the model file itself. A worker that dies fails only its in-flight runs and is replaced;
 * a replacement that fails to start is retried with backoff until one starts, so the pool always recovers.
 * While no worker is alive a run is refused with ScoringRejectedError("model_unavailable"): the caller answers a
 * retryable 503 (or the fallback) instead of a 500.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { workerScript } from "../paths";
import type { RowValues } from "../tasks/task";
import { ExecutionProviderError, type ExecutionProviderPlacement, type ExecutionProviderSettings } from "./execution-provider";
import type { ScorerModel } from "./model-contract";
import type { TensorMap } from "./tensors";
import { ModelRunError, ScoringRejectedError, type FeatureRecord, type ServingScorer, type TensorRequest } from "./types";
import type { ModelIo, RunRequest, WorkerMessage, WorkerModel } from "./worker-protocol";

export interface WorkerPoolOptions {
  /** Worker threads, each with its own session. @default availableParallelism() */
  readonly workers?: number;
  /** Run on every worker before the pool is returned: records (column models) and/or tensors. */
  readonly warmUp?: { readonly records?: readonly FeatureRecord[]; readonly tensors?: TensorRequest };
  /** Where each worker's session runs (verified with the warm-up tensors on a GPU provider). @default CPU */
  readonly provider?: ExecutionProviderSettings;
}

/** Backoff between attempts to replace a dead worker: doubles from the first to the last. */
const RESTART_BACKOFF_MS = { first: 100, max: 10_000 } as const;

interface Task {
  readonly resolve: (result: RowValues | TensorMap) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly thread: Worker;
  readonly tasks: Map<number, Task>;
}

export class WorkerPoolScorer implements ServingScorer {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;
  private closing = false;

  private constructor(
    private readonly start: WorkerModel,
    private readonly graphIo: ModelIo,
    /** The provider the workers' sessions run on (every worker checks its own at start). */
    readonly executionProvider: ExecutionProviderPlacement,
  ) {}

  /**
   * Starts the workers and resolves once every one has loaded the model and scored its input example, so no
   * request pays for a session's lazy initialisation (the model manager's own warm-up reaches one worker only).
   */
  static async create(model: ScorerModel, options: WorkerPoolOptions = {}): Promise<WorkerPoolScorer> {
    const count = options.workers ?? availableParallelism();
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`worker pool size must be a positive integer, got ${count}`);
    const start: WorkerModel = { model, provider: options.provider, verifyWith: options.warmUp?.tensors };
    const started = await Promise.allSettled(Array.from({ length: count }, () => startWorker(start)));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failure) {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.thread.terminate() : undefined)));
      throw failure.reason;
    }
    const ready = started.map((s) => (s as PromiseFulfilledResult<StartedWorker>).value);
    const pool = new WorkerPoolScorer(start, ready[0].io, ready[0].placement);
    for (const { thread } of ready) pool.adopt(thread);
    const { records, tensors } = options.warmUp ?? {};
    const runs = pool.workers.flatMap((worker) => [
      ...(records && records.length > 0 && model.rowOutput !== undefined ? [pool.runOn(worker, { id: pool.nextId++, records })] : []),
      ...(tensors ? [pool.runOn(worker, { id: pool.nextId++, tensors: tensors.tensors })] : []),
    ]);
    await Promise.all(runs).catch(async (error: Error) => {
      await pool.close();
      throw new Error(`warm-up run failed: ${error.message}`);
    });
    return pool;
  }

  /** Graph inputs and outputs in Open Inference Protocol terms, as the workers' sessions report them. */
  io(): ModelIo {
    return this.graphIo;
  }

  /** Number of live workers: the useful concurrency for a MicroBatcher in front of this pool. */
  get size(): number {
    return this.workers.length;
  }

  score(records: readonly FeatureRecord[]): Promise<RowValues> {
    if (this.closing) return Promise.reject(new Error("worker pool is closed"));
    if (records.length === 0) return Promise.resolve(new Float32Array(0));
    if (this.workers.length === 0) return noLiveWorker();
    return this.runOn(this.leastBusy(), { id: this.nextId++, records }) as Promise<RowValues>;
  }

  run(request: TensorRequest): Promise<TensorMap> {
    if (this.closing) return Promise.reject(new Error("worker pool is closed"));
    if (this.workers.length === 0) return noLiveWorker();
    return this.runOn(this.leastBusy(), { id: this.nextId++, tensors: request.tensors }) as Promise<TensorMap>;
  }

  private leastBusy(): PoolWorker {
    let least = this.workers[0]!;
    for (const worker of this.workers) if (worker.tasks.size < least.tasks.size) least = worker;
    return least;
  }

  async close(): Promise<void> {
    this.closing = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.thread.terminate()));
    for (const worker of workers) failAll(worker, new Error("worker pool closed"));
  }

  private runOn(worker: PoolWorker, request: RunRequest): Promise<RowValues | TensorMap> {
    return new Promise<RowValues | TensorMap>((resolve, reject) => {
      worker.tasks.set(request.id, { resolve, reject });
      worker.thread.postMessage(request);
    });
  }

  private adopt(thread: Worker): void {
    const worker: PoolWorker = { thread, tasks: new Map() };
    this.workers.push(worker);
    thread.on("message", (message: WorkerMessage) => {
      if (message.kind !== "rows" && message.kind !== "tensors" && message.kind !== "error") return;
      const task = worker.tasks.get(message.id);
      if (!task) return;
      worker.tasks.delete(message.id);
      if (message.kind === "rows") task.resolve(message.rows);
      else if (message.kind === "tensors") task.resolve(message.outputs);
      else task.reject(message.runFailed ? new ModelRunError(message.error) : new Error(`inference failed: ${message.error}`));
    });
    thread.on("error", (error) => failAll(worker, new Error(`inference worker crashed: ${error.message}`)));
    thread.on("exit", (code) => {
      failAll(worker, new Error(`inference worker exited with code ${code}`));
      const index = this.workers.indexOf(worker);
      if (index < 0 || this.closing) return;
      this.workers.splice(index, 1);
      // Replace it; until the new one is ready, the remaining workers carry the load.
      this.replace(RESTART_BACKOFF_MS.first);
    });
  }

  /** Starts a replacement worker, retrying with backoff (the model file may be briefly unreadable, memory short). */
  private replace(nextDelayMs: number): void {
    if (this.closing) return;
    startWorker(this.start).then(
      ({ thread }) => (this.closing ? void thread.terminate() : this.adopt(thread)),
      () => {
        setTimeout(() => this.replace(Math.min(RESTART_BACKOFF_MS.max, nextDelayMs * 2)), nextDelayMs).unref();
      },
    );
  }
}

function failAll(worker: PoolWorker, error: Error): void {
  for (const task of worker.tasks.values()) task.reject(error);
  worker.tasks.clear();
}

interface StartedWorker {
  readonly thread: Worker;
  readonly io: ModelIo;
  readonly placement: ExecutionProviderPlacement;
}

function startWorker(start: WorkerModel): Promise<StartedWorker> {
  const model = start.model;
  return new Promise((resolve, reject) => {
    const thread = new Worker(workerScript(__dirname, "inference-worker.js"), { workerData: start });
    const onExit = (code: number) => reject(new Error(`inference worker exited with code ${code} while loading ${model.onnxPath}`));
    thread.once("error", reject);
    thread.once("exit", onExit);
    thread.once("message", (message: WorkerMessage) => {
      thread.off("error", reject);
      thread.off("exit", onExit);
      if (message.kind === "ready") resolve({ thread, io: message.io, placement: message.placement });
      else {
        void thread.terminate();
        // A provider refusal keeps its own words: it is what /readyz shows.
        const error = message.kind === "failed" ? message.error : message.kind;
        reject(message.kind === "failed" && message.providerError ? new ExecutionProviderError(error) : new Error(`cannot load ${model.onnxPath} in an inference worker: ${error}`));
      }
    });
  });
}


/** Every worker crashed and none is back yet: a retryable refusal (503 + Retry-After, or the fallback), not a 500. */
function noLiveWorker(): Promise<never> {
  return Promise.reject(new ScoringRejectedError("model_unavailable", "no live inference worker: the crashed ones are being restarted"));
}
