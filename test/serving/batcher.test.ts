import { Registry } from "prom-client";
import { performance } from "node:perf_hooks";
import { METRICS } from "../../service/src/contract";
import { MicroBatcher, batcherMetrics } from "../../service/src/model/batcher";
import type { TensorMap } from "../../service/src/model/tensors";
import { ScoringRejectedError, type FeatureRecord, type Scorer, type TensorRequest, type TensorScorer } from "../../service/src/model/types";

/** A scorer that answers record.x / 100 after `delayMs`, recording every batch it was given. */
class RecordingScorer implements Scorer {
  readonly batches: number[] = [];
  running = 0;
  maxRunning = 0;
  closed = false;
  constructor(public delayMs = 0, private readonly fail?: Error) {}
  async score(records: readonly FeatureRecord[]): Promise<Float32Array> {
    this.batches.push(records.length);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());
    this.running--;
    if (this.fail) throw this.fail;
    return Float32Array.from(records, (r) => (r.x as number) / 100);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const record = (x: number): FeatureRecord => ({ x });

function rejectionOf(promise: Promise<unknown>): Promise<ScoringRejectedError> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: ScoringRejectedError) => error,
  );
}

describe("MicroBatcher", () => {
  it("runs a lone request at once instead of waiting maxWaitMs for company", async () => {
    const scorer = new RecordingScorer();
    const batcher = new MicroBatcher(scorer, { maxWaitMs: 2000, maxBatchSize: 64 });
    const started = performance.now();
    const [p] = await batcher.score([record(42)]);
    expect(performance.now() - started).toBeLessThan(1000); // generous: the machine may be busy, the wait is 2 s
    expect(p).toBeCloseTo(0.42);
    expect(scorer.batches).toEqual([1]);
  });

  it("coalesces requests made in the same event-loop turn into one run, answers in order", async () => {
    const scorer = new RecordingScorer();
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 64 });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.score([record(i)])));
    expect(scorer.batches).toEqual([10]);
    answers.forEach((a, i) => expect(a[0]).toBeCloseTo(i / 100));
  });

  it("splits at maxBatchSize and batches requests that arrive while a run is in progress", async () => {
    const scorer = new RecordingScorer(20);
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 4 });
    const first = batcher.score([record(1)]);
    await new Promise((resolve) => setTimeout(resolve, 5)); // first run is now in progress
    const later = Array.from({ length: 6 }, (_, i) => batcher.score([record(i)]));
    await Promise.all([first, ...later]);
    expect(scorer.batches).toEqual([1, 4, 2]);
    expect(scorer.maxRunning).toBe(1);
  });

  it("keeps multi-record requests together and slices each caller's answers out of the batch", async () => {
    const scorer = new RecordingScorer();
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 8 });
    const [a, b, c] = await Promise.all([
      batcher.score([record(1), record(2), record(3)]),
      batcher.score([record(4), record(5)]),
      batcher.score(Array.from({ length: 10 }, (_, i) => record(10 + i))), // larger than maxBatchSize: runs alone
    ]);
    expect(Array.from(a)).toEqual([0.01, 0.02, 0.03].map(Math.fround));
    expect(Array.from(b)).toEqual([0.04, 0.05].map(Math.fround));
    expect(c).toHaveLength(10);
    expect(c[9]).toBeCloseTo(0.19);
    expect(scorer.batches).toEqual([5, 10]);
  });

  it("with several slots, holds a partial batch up to maxWaitMs only while another run is in progress", async () => {
    const scorer = new RecordingScorer(40);
    const batcher = new MicroBatcher(scorer, { concurrency: 2, maxWaitMs: 15, maxBatchSize: 64 });
    const first = batcher.score([record(1)]); // nothing running: dispatched at once
    await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    const second = batcher.score([record(2)]);
    setTimeout(() => void batcher.score([record(3)]), 5);
    await second;
    await first;
    // The second request waited ~15 ms for company (a free slot was there), and the third joined it.
    expect(scorer.batches).toEqual([1, 2]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(14 + 40 - 5);
  });

  it("rejects with reason timeout once the deadline passes, even while the run is still going", async () => {
    const scorer = new RecordingScorer(3000);
    const batcher = new MicroBatcher(scorer, { timeoutMs: 30 });
    const started = performance.now();
    const running = rejectionOf(batcher.score([record(1)]));
    const queued = rejectionOf(batcher.score([record(2)], { deadline: performance.now() + 50 }));
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = rejectionOf(batcher.score([record(3)], { deadline: performance.now() + 40 }));
    const [r1, r2, r3] = await Promise.all([running, queued, waiting]);
    expect(performance.now() - started).toBeLessThan(1500); // well before the 3 s run ends
    for (const r of [r1, r2, r3]) {
      expect(r).toBeInstanceOf(ScoringRejectedError);
      expect(r.reason).toBe("timeout");
    }
    expect(r3.message).toMatch(/waiting for a batch slot/);
    expect(batcher.depth).toBe(0);
  });

  it("sheds thousands of expired requests cheaply and keeps serving those behind them", async () => {
    const scorer = new RecordingScorer(1000); // outlives every 10 ms deadline below, however busy the machine
    const batcher = new MicroBatcher(scorer, { maxQueue: 5000, maxBatchSize: 64, timeoutMs: 10_000 });
    const first = batcher.score([record(1)]);
    await new Promise((resolve) => setImmediate(resolve)); // the first run is in progress
    const expired = Array.from({ length: 3000 }, (_, i) => rejectionOf(batcher.score([record(i)], { deadline: performance.now() + 10 })));
    const survivor = batcher.score([record(99)], { deadline: performance.now() + 5000 });
    expect(batcher.depth).toBe(3001);
    const reasons = new Set((await Promise.all(expired)).map((r) => r.reason));
    expect(reasons).toEqual(new Set(["timeout"]));
    expect(batcher.depth).toBe(1);
    await first;
    expect((await survivor)[0]).toBeCloseTo(0.99);
    expect(scorer.batches).toEqual([1, 1]);
    expect(batcher.depth).toBe(0);
  });

  it("sheds on arrival what the measured drain rate cannot finish before the deadline, and keeps the model busy", async () => {
    const scorer = new RecordingScorer(20); // ~20 ms a run, one record a run: ~50 records/s
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 1, timeoutMs: 10_000 });
    // Backlog it for a few runs so the drain rate is measured.
    await Promise.all(Array.from({ length: 6 }, (_, i) => batcher.score([record(i)])));
    // Now 30 requests with 200 ms deadlines arrive at once: ~8 fit (200 ms x 0.8 / ~20 ms), the rest are shed.
    const started = performance.now();
    const outcomes = Array.from({ length: 30 }, (_, i) =>
      batcher.score([record(i)], { deadline: performance.now() + 200 }).then(
        () => ({ ok: true as const, at: performance.now() - started }),
        (error: ScoringRejectedError) => ({ ok: false as const, reason: error.reason, message: error.message, at: performance.now() - started }),
      ),
    );
    const results = await Promise.all(outcomes);
    const shed = results.flatMap((r) => (!r.ok && r.reason === "shed" ? [r] : []));
    const answered = results.filter((r) => r.ok);
    expect(shed.length).toBeGreaterThanOrEqual(15);
    expect(answered.length).toBeGreaterThanOrEqual(3);
    // Shed at arrival, not at the deadline; the admitted ones are answered (or time out) before it.
    for (const r of shed) expect(r.at).toBeLessThan(50);
    expect(shed[0]!.message).toMatch(/records queued ahead need ~\d+(\.\d)? ms, past this request's deadline in \d+(\.\d)? ms/);
    for (const r of results) expect(r.at).toBeLessThan(200 + 100); // generous for a busy machine
    // The first records of the burst are admitted whatever the estimate: the model never idles while overloaded.
    expect(results[0]!.ok).toBe(true);
  });

  it("corrects a pessimistic drain estimate while shedding, from the runs the floor keeps admitting", async () => {
    const scorer = new RecordingScorer(40);
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 1, timeoutMs: 10_000 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => batcher.score([record(i)]))); // measured: ~40 ms a record
    scorer.delayMs = 2; // the model gets fast (a cold start, a noisy neighbour gone)
    const burst = async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () => batcher.score([record(1)], { deadline: performance.now() + 100 }).then(() => "ok", (e: ScoringRejectedError) => e.reason)),
      );
      return outcomes.filter((o) => o === "shed").length;
    };
    // Overloaded with short deadlines, only the next run is admitted at first (the estimate says 40 ms a record)...
    const first = await burst();
    expect(first).toBeGreaterThanOrEqual(15);
    // ...but each of those runs is measured, so within a second of such traffic the estimate follows the model.
    const until = performance.now() + 1200;
    while (performance.now() < until) await burst();
    expect(await burst()).toBeLessThanOrEqual(5);
  });

  it("always admits what goes into the next run of a slot, however slow the estimate says the model is", async () => {
    const scorer = new RecordingScorer(60);
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 4, timeoutMs: 10_000 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.score([record(i)]))); // 60 ms per 4 records
    const first = batcher.score([record(1)]);
    await new Promise((resolve) => setImmediate(resolve)); // running: the estimate now says any wait is too long
    // A 10 ms deadline is hopeless by the estimate, but these 4 would be the very next run: admitted, then timed out.
    const next = await Promise.all(Array.from({ length: 4 }, () => rejectionOf(batcher.score([record(2)], { deadline: performance.now() + 10 }))));
    expect(next.map((r) => r.reason)).toEqual(["timeout", "timeout", "timeout", "timeout"]);
    // A fifth would wait behind them: shed on arrival.
    const fifth = batcher.score([record(3)], { deadline: performance.now() + 10 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(batcher.depth).toBeLessThanOrEqual(4);
    await expect(rejectionOf(fifth)).resolves.toBeInstanceOf(ScoringRejectedError);
    await first;
  });

  it("fires the deadline timer early by the headroom, or by the loop's recent delay when that is larger", async () => {
    const timeoutAfter = async (loopDelayMs: number) => {
      const batcher = new MicroBatcher(new RecordingScorer(2000), { timeoutMs: 200, loopDelay: { p99Ms: () => loopDelayMs } });
      const started = performance.now();
      const error = await rejectionOf(batcher.score([record(1)]));
      expect(error.reason).toBe("timeout");
      return performance.now() - started;
    };
    const quiet = await timeoutAfter(0); // 10% of 200 ms: fires at ~180 ms
    const busy = await timeoutAfter(60); // the loop has been running 60 ms late: fires at ~140 ms
    const swamped = await timeoutAfter(500); // later than the whole window: still no earlier than half of it
    expect(quiet).toBeGreaterThanOrEqual(175);
    expect(quiet).toBeLessThan(200);
    expect(busy).toBeGreaterThanOrEqual(135);
    expect(busy).toBeLessThan(175);
    expect(swamped).toBeGreaterThanOrEqual(95);
    expect(swamped).toBeLessThan(135);
  });

  it("keeps scoring the next run's worth however far behind the loop is", async () => {
    const batcher = new MicroBatcher(new RecordingScorer(1), { maxBatchSize: 4, timeoutMs: 100, loopDelay: { p99Ms: () => 10_000 } });
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => batcher.score([record(i)])));
    expect(answers.map((a) => a[0])).toEqual([0, 0.01, 0.02, 0.03].map(Math.fround));
  });

  it("refuses at once with reason queue_full when maxQueue records are already waiting", async () => {
    const scorer = new RecordingScorer(50);
    const batcher = new MicroBatcher(scorer, { maxQueue: 3, maxBatchSize: 1 });
    const accepted = [batcher.score([record(1)])];
    await new Promise((resolve) => setImmediate(resolve)); // record 1 is running, the queue is empty again
    accepted.push(batcher.score([record(2)]), batcher.score([record(3), record(4)]));
    const refused = await rejectionOf(batcher.score([record(5)]));
    expect(refused.reason).toBe("queue_full");
    expect(refused.message).toMatch(/3 of 3/);
    await expect(Promise.all(accepted)).resolves.toHaveLength(3);
  });

  it("fails every request of a batch whose run fails, with the scorer's error", async () => {
    const batcher = new MicroBatcher(new RecordingScorer(0, new Error("bad tensor")));
    const results = await Promise.allSettled([batcher.score([record(1)]), batcher.score([record(2)])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe("bad tensor");
  });

  it("reports batch size, queue wait and queue depth into a Prometheus registry", async () => {
    const registry = new Registry();
    const labels = { model: "m", variant: "stable" };
    const batcher = new MicroBatcher(new RecordingScorer(5), { metrics: { instruments: batcherMetrics(registry), labels } });
    await Promise.all(Array.from({ length: 5 }, (_, i) => batcher.score([record(i)])));
    // A second batcher on the same registry reuses the instruments (no "already registered" error).
    new MicroBatcher(new RecordingScorer(), { metrics: { instruments: batcherMetrics(registry), labels: { ...labels, variant: "shadow" } } });
    const text = await registry.metrics();
    expect(text).toContain(`${METRICS.inferenceBatchSize}_count{model="m",variant="stable"} 1`);
    expect(text).toContain(`${METRICS.inferenceBatchSize}_sum{model="m",variant="stable"} 5`);
    expect(text).toContain(`${METRICS.inferenceQueueWaitSeconds}_count{model="m",variant="stable"} 5`);
    expect(text).toContain(`${METRICS.inferenceQueueDepth}{model="m",variant="stable"} 0`);
    expect(text).toContain(`${METRICS.inferenceQueueDepth}{model="m",variant="shadow"} 0`);
  });

  it("reads the live queue depth at scrape time, summed over batchers sharing labels, until a batcher closes", async () => {
    const registry = new Registry();
    const labels = { model: "m", variant: "stable" };
    const depth = async () => Number(new RegExp(`${METRICS.inferenceQueueDepth}\\{model="m",variant="stable"\\} (\\S+)`).exec(await registry.metrics())?.[1]);
    const first = new MicroBatcher(new RecordingScorer(30), { maxBatchSize: 2, metrics: { instruments: batcherMetrics(registry), labels } });
    // A hot swap: the next version's batcher reports under the same labels while the old one drains.
    const second = new MicroBatcher(new RecordingScorer(30), { maxBatchSize: 2, metrics: { instruments: batcherMetrics(registry), labels } });
    const calls = [...Array.from({ length: 6 }, (_, i) => first.score([record(i)])), ...Array.from({ length: 3 }, (_, i) => second.score([record(i)]))];
    await new Promise((resolve) => setImmediate(resolve)); // each batcher has started its first batch of 2
    expect(await depth()).toBe(4 + 1);
    await Promise.all(calls);
    expect(await depth()).toBe(0);
    second.score([record(1)]).catch(() => undefined);
    await first.close();
    expect(await depth()).toBe(1); // only the open batcher's waiting record
    await second.close();
    expect(await depth()).toBe(0); // the series stays, at 0, instead of vanishing
  });

  it("close() lets queued requests finish, then closes the scorer and refuses new calls", async () => {
    const scorer = new RecordingScorer(10);
    const batcher = new MicroBatcher(scorer);
    const inFlight = batcher.score([record(7)]);
    await batcher.close();
    await expect(inFlight).resolves.toHaveLength(1);
    expect(scorer.closed).toBe(true);
    await expect(batcher.score([record(1)])).rejects.toThrow(/closed/);
  });

  it("validates its options with the bad value in the message", () => {
    expect(() => new MicroBatcher(new RecordingScorer(), { maxBatchSize: 0 })).toThrow(/maxBatchSize must be a positive integer, got 0/);
    expect(() => new MicroBatcher(new RecordingScorer(), { maxWaitMs: -1 })).toThrow(/maxWaitMs .* got -1/);
    expect(() => new MicroBatcher(new RecordingScorer(), { headroom: 0.5 })).toThrow(/headroom must be in \[0, 0.5\), got 0.5/);
  });
});

/** A tensor scorer: y = x + 1 per element, [rows, width]; records every run's rows and width. */
class TensorRecorder implements Scorer, TensorScorer {
  readonly runs: { rows: number; width: number }[] = [];
  constructor(
    public delayMs = 0,
    private readonly failOn?: number,
    private readonly outputRows?: (rows: number) => number,
  ) {}
  async score(records: readonly FeatureRecord[]): Promise<Float32Array> {
    return new Float32Array(records.length);
  }
  async run(request: TensorRequest): Promise<TensorMap> {
    const x = request.tensors.x!;
    const [rows, width] = x.dims as [number, number];
    this.runs.push({ rows, width });
    await new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());
    const data = Float32Array.from(x.data as Float32Array, (v) => v + 1);
    if (this.failOn !== undefined && data.includes(this.failOn + 1)) throw new Error(`cannot run on ${this.failOn}`);
    const outRows = this.outputRows?.(rows) ?? rows;
    return { y: { type: "float32", dims: [outRows, width], data: data.subarray(0, outRows * width) } };
  }
  async close(): Promise<void> {}
}

const tensorRequest = (rows: number[][], coalesce = true): TensorRequest => ({
  tensors: { x: { type: "float32", dims: [rows.length, rows[0]!.length], data: Float32Array.from(rows.flat()) } },
  rows: rows.length,
  key: coalesce ? String(rows[0]!.length) : undefined,
});

describe("MicroBatcher with tensor requests", () => {
  it("coalesces requests of one shape along dimension 0 and hands each its own rows of every output", async () => {
    const scorer = new TensorRecorder();
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 64 });
    const requests = Array.from({ length: 10 }, (_, i) => tensorRequest(i % 3 === 0 ? [[i, i], [i, -i]] : [[i, 0]]));
    const answers = await Promise.all(requests.map((r) => batcher.run(r)));
    expect(scorer.runs).toEqual([{ rows: 14, width: 2 }]);
    answers.forEach((answer, i) => {
      expect(answer.y!.dims).toEqual([requests[i]!.rows, 2]);
      expect(Array.from(answer.y!.data as Float32Array)).toEqual(Array.from(requests[i]!.tensors.x!.data as Float32Array, (v) => v + 1));
    });
  });

  it("never mixes shapes: requests of other dimensions past 0 go into their own runs, oldest queue first", async () => {
    const scorer = new TensorRecorder(5);
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 64 });
    const first = batcher.run(tensorRequest([[1, 2, 3]]));
    await new Promise((resolve) => setImmediate(resolve)); // running: the rest queue behind it
    const rest = [tensorRequest([[1, 2]]), tensorRequest([[1, 2, 3, 4]]), tensorRequest([[3, 4]]), tensorRequest([[5, 6, 7, 8]])].map((r) => batcher.run(r));
    const answers = await Promise.all([first, ...rest]);
    expect(scorer.runs).toEqual([
      { rows: 1, width: 3 },
      { rows: 2, width: 2 },
      { rows: 2, width: 4 },
    ]);
    expect(Array.from(answers[3]!.y!.data as Float32Array)).toEqual([4, 5]);
  });

  it("runs a request without a key (no batch axis) alone, and keeps record requests apart from tensors", async () => {
    const scorer = new TensorRecorder();
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 64 });
    const scored = jest.spyOn(scorer, "score");
    await Promise.all([batcher.run(tensorRequest([[1, 1]], false)), batcher.run(tensorRequest([[2, 2]], false)), batcher.score([record(1)]), batcher.score([record(2)])]);
    expect(scorer.runs).toEqual([
      { rows: 1, width: 2 },
      { rows: 1, width: 2 },
    ]);
    expect(scored.mock.calls.map((call) => call[0].length)).toEqual([2]);
  });

  it("re-runs a coalesced batch that failed one request at a time, so only the request that caused it fails", async () => {
    const scorer = new TensorRecorder(0, 7);
    const batcher = new MicroBatcher(scorer, { maxBatchSize: 64 });
    const outcomes = await Promise.all([1, 7, 3].map((v) => batcher.run(tensorRequest([[v, v]])).then((a) => (a.y!.data as Float32Array)[0], (e: Error) => e.message)));
    expect(outcomes).toEqual([2, "cannot run on 7", 4]);
    expect(scorer.runs.map((r) => r.rows)).toEqual([3, 1, 1, 1]);
  });

  it("fails a coalesced batch whose outputs do not follow dimension 0, naming the output", async () => {
    const batcher = new MicroBatcher(new TensorRecorder(0, undefined, () => 1), { maxBatchSize: 64 });
    const errors = await Promise.all([batcher.run(tensorRequest([[1, 1]])), batcher.run(tensorRequest([[2, 2]]))].map((p) => p.then(() => "ok", (e: Error) => e.message)));
    expect(errors).toEqual(errors.map(() => expect.stringMatching(/output "y" has 1 rows for 2 batched input rows/)));
  });

  it("counts tensor rows against maxQueue and the deadline like records", async () => {
    const batcher = new MicroBatcher(new TensorRecorder(50), { maxBatchSize: 2, maxQueue: 3 });
    const running = batcher.run(tensorRequest([[1, 1], [1, 1]]));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = batcher.run(tensorRequest([[1, 1], [1, 1]]));
    const refused = await rejectionOf(batcher.run(tensorRequest([[1, 1], [1, 1]])));
    expect(refused.reason).toBe("queue_full");
    expect(batcher.depth).toBe(2);
    await Promise.all([running, queued]);
  });
});
