/**
 * Micro-batching: concurrent requests are coalesced into one `scorer.score(records)` run, because one ONNX
 * Runtime run over 64 rows costs about as much as a run over one row (dispatch overhead dominates small models,
 * and a matrix product amortises much better than 64 vector products for an MLP).
 *
 * The policy is adaptive, like Triton's dynamic batcher with a queue delay: a batch is dispatched as soon as a
 * run slot is free AND (nothing is running, or the batch is full, or its oldest record has waited maxWaitMs).
 * So a lone request never waits for company it will not get, while under load records pile up behind the busy
 * slots and leave in full batches. Dispatch happens on `setImmediate`, so every request parsed in the same
 * event-loop turn joins the same batch at no cost to a lone request.
 *
 * Tensor requests (Open Inference Protocol) coalesce the same way along dimension 0, in queues keyed by their
 * shape past dimension 0 (and the record queue is one more), so a run never mixes requests whose other dimensions
 * differ; a request without a key (a model with no batch axis) runs alone. The oldest waiting request decides
 * which queue runs next; deadlines, shedding and the bounds count rows across all queues.
 *
 * Every request carries a deadline and the queue is bounded. Under overload a request is refused on arrival
 * (reason "shed") when the work queued ahead of it would keep it past its deadline at the queue's measured drain
 * rate; one that was admitted but whose deadline still nears is refused just before it ("timeout"),
 * and MAX_QUEUE bounds memory ("queue_full"). The caller gets a `ScoringRejectedError` and answers the
 * configured fallback or 503 + Retry-After at once, instead of holding the client until the deadline. Shedding
 * never leaves the model idle whatever the estimate says: a request that would go into the next run of every
 * slot is always admitted, so a full batch per slot is always waiting while the model is overloaded.
 */
import { Gauge, type Registry } from "prom-client";
import { performance } from "node:perf_hooks";
import { HotHistogram, type HistogramSeries } from "../metrics/hot-metrics";
import { BATCH_SIZE_BUCKETS, METRICS, QUEUE_WAIT_BUCKETS_SECONDS } from "../contract";
import type { RowValues } from "../tasks/task";
import type { LoopDelay } from "./loop-delay";
import { concatRows, sliceRows, type HostTensor, type TensorMap } from "./tensors";
import {
  ScoringRejectedError,
  type FeatureRecord,
  type ScoreOptions,
  type Scorer,
  type ServingScorer,
  type TensorRequest,
  type TensorScorer,
} from "./types";

type BatcherLabels = { readonly model: string; readonly variant: string };

/** The batcher's Prometheus instruments, labelled {model, variant}. */
export interface BatcherMetrics {
  readonly batchSize: HotHistogram<"model" | "variant">;
  readonly queueWaitSeconds: HotHistogram<"model" | "variant">;
  /**
   * Reports `source.depth` in inference_queue_depth{model, variant} at every scrape (summed over the batchers
   * sharing the labels, e.g. two versions during a hot swap) until the returned function is called: the hot
   * path never touches the gauge.
   */
  trackDepth(source: { readonly depth: number }, labels: BatcherLabels): () => void;
}

const instrumentsByRegistry = new WeakMap<Registry, BatcherMetrics>();

/** The batcher instruments of `registry`, created on first use (every batcher of an app shares them). */
export function batcherMetrics(registry: Registry): BatcherMetrics {
  const existing = instrumentsByRegistry.get(registry);
  if (existing) return existing;
  const labelNames = ["model", "variant"] as const;
  const sources = new Map<{ readonly depth: number }, BatcherLabels>();
  // Label sets seen once keep reporting (0 when idle) rather than vanishing between versions.
  const seen = new Map<string, BatcherLabels>();
  new Gauge({
    name: METRICS.inferenceQueueDepth,
    help: "Records waiting for a batch slot.",
    labelNames,
    registers: [registry],
    collect() {
      const totals = new Map<string, number>();
      for (const key of seen.keys()) totals.set(key, 0);
      for (const [source, labels] of sources) {
        const key = `${labels.model}\u0000${labels.variant}`;
        totals.set(key, (totals.get(key) ?? 0) + source.depth);
      }
      for (const [key, value] of totals) this.set({ ...seen.get(key)! }, value);
    },
  });
  const metrics: BatcherMetrics = {
    batchSize: new HotHistogram({
      name: METRICS.inferenceBatchSize,
      help: "Records per ONNX Runtime run.",
      labelNames,
      buckets: [...BATCH_SIZE_BUCKETS],
      registers: [registry],
    }),
    queueWaitSeconds: new HotHistogram({
      name: METRICS.inferenceQueueWaitSeconds,
      help: "Time a record waited in the batch queue before its run started.",
      labelNames,
      buckets: [...QUEUE_WAIT_BUCKETS_SECONDS],
      registers: [registry],
    }),
    trackDepth(source, labels) {
      seen.set(`${labels.model}\u0000${labels.variant}`, { model: labels.model, variant: labels.variant });
      sources.set(source, labels);
      return () => void sources.delete(source);
    },
  };
  instrumentsByRegistry.set(registry, metrics);
  return metrics;
}

export interface MicroBatcherOptions {
  /** Most records in one run. A single request larger than this runs alone. @default 64 */
  readonly maxBatchSize?: number;
  /**
   * Longest a record waits for company while another run is in progress and a slot is free. 0 = never wait
   * (batches still form behind busy slots). Irrelevant with one slot: a free slot means nothing is running.
   * @default 1
   */
  readonly maxWaitMs?: number;
  /** Runs in progress at once: 1 for an in-thread scorer, the worker count for a worker pool. @default 1 */
  readonly concurrency?: number;
  /** Most records waiting; more are refused with reason "queue_full". @default 1024 */
  readonly maxQueue?: number;
  /** Deadline for calls that bring none (ScoreOptions.deadline), in ms from the call; past it they reject with "timeout". @default 1000 */
  readonly timeoutMs?: number;
  /**
   * Share of each request's time window (arrival to deadline) kept for answering: the deadline timer fires this
   * share early (or by the loop's recent delay, if more), so a fallback or 503 still goes out in time, and a
   * request is admitted only when the queue ahead is expected to clear another share before that (estimate error).
   * @default 0.1
   */
  readonly headroom?: number;
  /** Recent event-loop delay: deadline timers fire at least this early. @default none (0) */
  readonly loopDelay?: LoopDelay;
  /** Instruments to report into, with the labels of this batcher. */
  readonly metrics?: { readonly instruments: BatcherMetrics; readonly labels: BatcherLabels };
}

interface Pending {
  /** A /predict request's records, or undefined for a tensor request. */
  readonly records: readonly FeatureRecord[] | undefined;
  readonly tensors: TensorRequest | undefined;
  /** Records, or rows along dimension 0 of a tensor request. */
  readonly rows: number;
  readonly enqueuedAt: number;
  readonly resolve: (result: RowValues | TensorMap) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** In the queue until its batch starts; settled = answered, timed out or failed (later outcomes are ignored). */
  state: "queued" | "running" | "settled";
  /** The queue it waits in (set when queued). */
  queue: PendingQueue | undefined;
}

/**
 * Time constant of the drain-rate average: long enough to smooth the run-to-run noise of a shared machine (runs
 * complete every few ms under load), short enough to follow a change of load or machine within a second.
 */
const DRAIN_WINDOW_MS = 500;

/**
 * FIFO of waiting requests with O(1) push and shift. A request that times out is only accounted out here and
 * skipped when it reaches the front: under overload thousands expire, and splicing each out would be O(n) apiece.
 */
class PendingQueue {
  private items: (Pending | undefined)[] = [];
  private head = 0;
  /** Live requests, and the rows they carry. */
  size = 0;
  rows = 0;

  constructor(readonly key: string | undefined) {}

  push(pending: Pending): void {
    this.items.push(pending);
    this.size++;
    this.rows += pending.rows;
  }

  /** The oldest live request. */
  peek(): Pending | undefined {
    while (this.head < this.items.length && this.items[this.head]!.state !== "queued") this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  shift(): Pending | undefined {
    const pending = this.peek();
    if (pending) {
      this.items[this.head++] = undefined;
      this.forget(pending);
    }
    return pending;
  }

  /** Accounts a request out (it left the queue or expired in it); an expired one is skipped later by peek. */
  forget(pending: Pending): void {
    this.size--;
    this.rows -= pending.rows;
  }
}

/** Key of the queue of tensor requests that never coalesce (no batch axis): taken one at a time. */
const SOLO = "\u0000solo";

/**
 * The record queue plus one queue per tensor shape, with totals across them. peek/shift act on the queue whose
 * head waited longest; a tensor queue that empties is dropped (shapes vary with sequence lengths and images).
 */
class BatchQueues {
  private readonly recordQueue = new PendingQueue(undefined);
  private readonly tensorQueues = new Map<string, PendingQueue>();
  size = 0;
  rows = 0;

  push(pending: Pending): void {
    let queue = this.recordQueue;
    if (pending.tensors) {
      const key = pending.tensors.key ?? SOLO;
      queue = this.tensorQueues.get(key) ?? new PendingQueue(key);
      this.tensorQueues.set(key, queue);
    }
    pending.queue = queue;
    queue.push(pending);
    this.size++;
    this.rows += pending.rows;
  }

  /** The queue holding the longest-waiting live request. */
  oldest(): PendingQueue | undefined {
    if (this.tensorQueues.size === 0) return this.recordQueue.size > 0 ? this.recordQueue : undefined;
    let oldest: PendingQueue | undefined;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const queue of [this.recordQueue, ...this.tensorQueues.values()]) {
      const head = queue.peek();
      if (head && head.enqueuedAt < oldestAt) {
        oldest = queue;
        oldestAt = head.enqueuedAt;
      }
    }
    return oldest;
  }

  peek(): Pending | undefined {
    return this.oldest()?.peek();
  }

  shiftFrom(queue: PendingQueue): Pending | undefined {
    const pending = queue.shift();
    if (pending) this.accountOut(queue, pending);
    return pending;
  }

  forget(pending: Pending): void {
    pending.queue!.forget(pending);
    this.accountOut(pending.queue!, pending);
  }

  private accountOut(queue: PendingQueue, pending: Pending): void {
    this.size--;
    this.rows -= pending.rows;
    if (queue.size === 0 && queue.key !== undefined) this.tensorQueues.delete(queue.key);
  }
}

/** A Scorer that coalesces concurrent calls into batched runs of the wrapped scorer. */
export class MicroBatcher implements ServingScorer {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  readonly headroom: number;
  private readonly loopDelay?: LoopDelay;
  private readonly queue = new BatchQueues();
  private running = 0;
  /**
   * How fast the queue drains while backlogged: time between run completions and records completed, each as a
   * moving sum decaying with DRAIN_WINDOW_MS, counted only for intervals after a completion that left records
   * waiting (so the freed slot went straight on to the next run: no idle time in the interval). Their ratio is
   * the drain time per record, and it includes everything a waiting record waits for: model time, handing
   * answers back, dispatch on a busy loop. The floor (the next run per slot is always admitted) keeps records
   * waiting under overload, so a pessimistic estimate is sampled again and corrects itself.
   */
  private drainBusyMs = 0;
  private drainRecords = 0;
  private lastDrainSampleAt = 0;
  /** Wall time of every run and its records, decaying alike: what runs take now, idle time excluded. */
  private runWallMs = 0;
  private runRecords = 0;
  private lastCompletionAt = 0;
  /** Records were waiting when the last run completed. */
  private backloggedAtLastCompletion = false;
  private dispatchScheduled = false;
  private waitTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Resolves close() once the last queued and running request is answered. */
  private onIdle: (() => void) | undefined;
  private readonly batchSize?: HistogramSeries;
  private readonly queueWait?: HistogramSeries;
  private untrackDepth?: () => void;

  constructor(
    private readonly scorer: Scorer & Partial<TensorScorer>,
    options: MicroBatcherOptions = {},
  ) {
    this.maxBatchSize = positiveInteger("maxBatchSize", options.maxBatchSize ?? 64);
    this.concurrency = positiveInteger("concurrency", options.concurrency ?? 1);
    this.maxQueue = positiveInteger("maxQueue", options.maxQueue ?? 1024);
    this.maxWaitMs = nonNegative("maxWaitMs", options.maxWaitMs ?? 1);
    this.timeoutMs = nonNegative("timeoutMs", options.timeoutMs ?? 1000);
    this.headroom = options.headroom ?? 0.1;
    if (!(this.headroom >= 0 && this.headroom < 0.5)) throw new RangeError(`MicroBatcher headroom must be in [0, 0.5), got ${this.headroom}`);
    this.loopDelay = options.loopDelay;
    if (options.metrics) {
      const { instruments, labels } = options.metrics;
      this.batchSize = instruments.batchSize.labels(labels);
      this.queueWait = instruments.queueWaitSeconds.labels(labels);
      this.untrackDepth = instruments.trackDepth(this, labels);
    }
  }

  /** Records (and tensor rows) waiting for a run. */
  get depth(): number {
    return this.queue.rows;
  }

  score(records: readonly FeatureRecord[], options: ScoreOptions = {}): Promise<RowValues> {
    if (this.closed) return Promise.reject(new Error("MicroBatcher is closed"));
    if (records.length === 0) return Promise.resolve(new Float32Array(0));
    return this.submit(records, undefined, records.length, options) as Promise<RowValues>;
  }

  /** A tensor request, coalesced along dimension 0 with others of its key. */
  run(request: TensorRequest, options: ScoreOptions = {}): Promise<TensorMap> {
    if (this.closed) return Promise.reject(new Error("MicroBatcher is closed"));
    if (!this.scorer.run) return Promise.reject(new Error("the wrapped scorer cannot run tensors"));
    return this.submit(undefined, request, Math.max(1, request.rows), options) as Promise<TensorMap>;
  }

  private submit(records: readonly FeatureRecord[] | undefined, tensors: TensorRequest | undefined, rows: number, options: ScoreOptions): Promise<RowValues | TensorMap> {
    if (this.queue.rows + rows > this.maxQueue) {
      return Promise.reject(
        new ScoringRejectedError("queue_full", `batch queue is full (${this.queue.rows} of ${this.maxQueue} records waiting)`),
      );
    }
    const now = performance.now();
    const window = (options.deadline ?? now + this.timeoutMs) - now;
    const margin = this.headroom * window;
    // When the answer must leave: a timer fires late by however late the loop runs, so it is set that much early,
    // but never before half the window (a loop that far behind makes answers late whatever the timer does).
    const answerBy = window - Math.max(margin, Math.min(this.loopDelay?.p99Ms() ?? 0, window / 2));
    const waitMs = this.expectedWaitMs(rows);
    // The next run's worth is never shed (waitMs 0), so the model keeps working however behind the loop is.
    if (waitMs > 0 && waitMs > answerBy - margin) {
      return Promise.reject(
        new ScoringRejectedError(
          "shed",
          `the ${this.queue.rows} records queued ahead need ~${waitMs.toFixed(1)} ms, past this request's deadline in ${Math.max(0, window).toFixed(1)} ms`,
        ),
      );
    }
    return new Promise<RowValues | TensorMap>((resolve, reject) => {
      const pending: Pending = { records, tensors, rows, enqueuedAt: now, resolve, reject, timer: undefined, state: "queued", queue: undefined };
      pending.timer = setTimeout(() => this.expire(pending), Math.max(0, answerBy));
      this.queue.push(pending);
      this.scheduleDispatch();
    });
  }

  /**
   * Expected time until a request of `records` records arriving now is answered, at the measured drain rate.
   * 0 when it goes into the next run of some slot anyway (always admitted: the model must never idle because of
   * a wrong estimate).
   */
  private expectedWaitMs(records: number): number {
    const ahead = this.queue.rows + records;
    if (ahead <= this.concurrency * this.maxBatchSize) return 0;
    // What runs take now, spread over the slots (0 before the first run ends: the deadline timers are the backstop).
    const runMsPerRecord = this.runRecords > 0 ? this.runWallMs / this.runRecords / this.concurrency : 0;
    if (this.drainRecords === 0) return ahead * runMsPerRecord;
    // A drain rate not confirmed lately gives way to what runs take now: otherwise a pessimistic estimate that
    // sheds everything but the next run, under bursts that leave nothing waiting, would never be sampled again.
    const confirmed = Math.exp(-(performance.now() - this.lastDrainSampleAt) / DRAIN_WINDOW_MS);
    return ahead * (confirmed * (this.drainBusyMs / this.drainRecords) + (1 - confirmed) * runMsPerRecord);
  }

  /** Refuses new calls, lets queued and running ones finish, then closes the wrapped scorer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.size > 0 || this.running > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    clearTimeout(this.waitTimer);
    this.untrackDepth?.();
    await this.scorer.close();
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.running < this.concurrency && this.queue.size > 0) {
      if (this.running > 0 && this.queue.rows < this.maxBatchSize && this.maxWaitMs > 0) {
        const waited = performance.now() - this.queue.peek()!.enqueuedAt;
        if (waited < this.maxWaitMs) {
          // Another run is busy, so company is likely: hold the partial batch until it fills or ages out.
          if (!this.waitTimer) {
            this.waitTimer = setTimeout(() => {
              this.waitTimer = undefined;
              this.dispatch();
            }, this.maxWaitMs - waited);
          }
          return;
        }
      }
      this.runBatch(this.takeBatch());
    }
  }

  /** The oldest waiting request and those behind it in its queue, up to maxBatchSize rows (a solo request alone). */
  private takeBatch(): Pending[] {
    const queue = this.queue.oldest()!;
    const solo = queue.key === SOLO;
    const batch: Pending[] = [];
    let size = 0;
    for (let next = queue.peek(); next; next = queue.peek()) {
      if (batch.length > 0 && (solo || size + next.rows > this.maxBatchSize)) break;
      this.queue.shiftFrom(queue);
      next.state = "running";
      batch.push(next);
      size += next.rows;
    }
    return batch;
  }

  private runBatch(batch: Pending[]): void {
    const now = performance.now();
    let rows = 0;
    for (const pending of batch) {
      this.queueWait?.observe((now - pending.enqueuedAt) / 1000);
      rows += pending.rows;
    }
    this.batchSize?.observe(rows);
    this.running++;
    const startedAt = performance.now();
    const tensors = batch[0]!.tensors !== undefined;
    let run: Promise<RowValues | TensorMap>;
    try {
      run = tensors ? this.runTensors(batch, rows) : this.scorer.score(recordsOf(batch));
    } catch (error) {
      run = Promise.reject(error);
    }
    // Bookkeeping comes before the answers, so callers that score again at once see the freed slot.
    const finished = () => {
      this.running--;
      this.measureDrain(rows, startedAt);
      // Dispatch on the next check phase, not now: an in-thread run blocked the loop, and the requests that
      // arrived meanwhile are parsed in the poll phase before it, so they join the next batch.
      if (this.queue.size > 0) this.scheduleDispatch();
      else if (this.running === 0) this.onIdle?.();
    };
    run.then(
      (result) => {
        finished();
        if (tensors) this.answerTensors(batch, result as TensorMap, rows);
        else this.answerRows(batch, result as RowValues, rows);
      },
      (error: Error) => {
        if (tensors && batch.length > 1) {
          // One request's data can fail a coalesced run (an index past a vocabulary): each runs alone, so only
          // the request that caused it fails.
          void this.runEachAlone(batch).then((results) => {
            finished();
            results.forEach((result, i) => {
              const pending = batch[i]!;
              this.settle(pending, () => ("outputs" in result ? pending.resolve(result.outputs) : pending.reject(result.error)));
            });
          });
          return;
        }
        finished();
        for (const pending of batch) this.settle(pending, () => pending.reject(error));
      },
    );
  }

  private runEachAlone(batch: readonly Pending[]): Promise<({ outputs: TensorMap } | { error: Error })[]> {
    return Promise.all(
      batch.map((pending) =>
        Promise.resolve()
          .then(() => this.scorer.run!(pending.tensors!))
          .then(
            (outputs) => ({ outputs }),
            (error: Error) => ({ error }),
          ),
      ),
    );
  }

  /** Each request gets its records' share of the run's output: `width` values per record, as views on it. */
  private answerRows(batch: readonly Pending[], result: RowValues, rows: number): void {
    const width = result.length / rows;
    if (!Number.isInteger(width)) {
      const error = new Error(`the model returned ${result.length} values for ${rows} records`);
      for (const pending of batch) this.settle(pending, () => pending.reject(error));
      return;
    }
    let offset = 0;
    for (const pending of batch) {
      const end = offset + pending.rows * width;
      const start = offset;
      this.settle(pending, () => pending.resolve(result.subarray(start, end)));
      offset = end;
    }
  }

  private answerTensors(batch: readonly Pending[], outputs: TensorMap, rows: number): void {
    let answers: TensorMap[];
    try {
      answers = splitOutputs(outputs, batch, rows);
    } catch (error) {
      for (const pending of batch) this.settle(pending, () => pending.reject(error as Error));
      return;
    }
    batch.forEach((pending, i) => this.settle(pending, () => pending.resolve(answers[i]!)));
  }

  /** One run over the batch's tensors concatenated along dimension 0 (their key says the other dims agree). */
  private runTensors(batch: readonly Pending[], rows: number): Promise<TensorMap> {
    const first = batch[0]!.tensors!;
    if (batch.length === 1) return this.scorer.run!(first);
    const tensors: Record<string, HostTensor> = {};
    for (const name of Object.keys(first.tensors)) tensors[name] = concatRows(batch.map((p) => p.tensors!.tensors[name]!));
    return this.scorer.run!({ tensors, rows, key: first.key });
  }

  private measureDrain(records: number, startedAt: number): void {
    const now = performance.now();
    const sinceLastCompletion = now - this.lastCompletionAt;
    const runDecay = Math.exp(-sinceLastCompletion / DRAIN_WINDOW_MS);
    this.runWallMs = this.runWallMs * runDecay + (now - startedAt);
    this.runRecords = this.runRecords * runDecay + records;
    if (this.backloggedAtLastCompletion && records > 0) {
      // Decay by the time since the last sample, so a rate measured before a long idle spell counts for little.
      const decay = Math.exp(-(now - this.lastDrainSampleAt) / DRAIN_WINDOW_MS);
      this.drainBusyMs = this.drainBusyMs * decay + sinceLastCompletion;
      this.drainRecords = this.drainRecords * decay + records;
      this.lastDrainSampleAt = now;
    }
    this.lastCompletionAt = now;
    this.backloggedAtLastCompletion = this.queue.rows > 0;
  }

  private expire(pending: Pending): void {
    pending.timer = undefined;
    const queued = pending.state === "queued";
    if (queued) {
      this.queue.forget(pending);
    }
    const waited = Math.round(performance.now() - pending.enqueuedAt);
    const where = queued ? "waiting for a batch slot" : "while its batch ran";
    this.settle(pending, () => pending.reject(new ScoringRejectedError("timeout", `deadline passed after ${waited} ms ${where}`)));
    if (queued && this.queue.size === 0 && this.running === 0) this.onIdle?.();
  }

  private settle(pending: Pending, answer: () => void): void {
    if (pending.state === "settled") return;
    pending.state = "settled";
    clearTimeout(pending.timer);
    answer();
  }
}

function recordsOf(batch: readonly Pending[]): readonly FeatureRecord[] {
  if (batch.length === 1) return batch[0]!.records!;
  const records: FeatureRecord[] = [];
  for (const pending of batch) for (const record of pending.records!) records.push(record);
  return records;
}

/** Each request's rows of every output (a lone request gets the outputs as they are). */
function splitOutputs(outputs: TensorMap, batch: readonly Pending[], rows: number): TensorMap[] {
  if (batch.length === 1) return [outputs];
  const answers = batch.map(() => ({}) as Record<string, HostTensor>);
  for (const [name, tensor] of Object.entries(outputs)) {
    if (tensor.dims[0] !== rows) throw new Error(`output "${name}" has ${tensor.dims[0]} rows for ${rows} batched input rows: the model's dimension 0 is not a batch axis`);
    let offset = 0;
    batch.forEach((pending, i) => {
      answers[i]![name] = sliceRows(tensor, offset, offset + pending.rows);
      offset += pending.rows;
    });
  }
  return answers;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`MicroBatcher ${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`MicroBatcher ${name} must be a finite number >= 0, got ${value}`);
  return value;
}
