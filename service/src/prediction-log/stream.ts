/**
 * One log stream: a journal (journal.ts) and the sink it drains into (PostgreSQL COPY, Parquet on S3). Entries
 * are in the journal before their answers leave; one background loop reads batches from it in order, hands
 * them to the sink, and commits what the sink took, so per-replica order holds and nothing is written twice by
 * this loop (the sinks are also idempotent on the prediction id, for replays after a crash).
 *
 * While the sink is down the loop backs off (doubling, jittered, at most `backoff.maxMs`) and nothing cuts a
 * pause short but close(): a filling queue never turns into a reconnect attempt per request. The backlog beyond
 * the sink's normal window is reported as spilled (spill depth), the same backlog as before, and every entry is
 * on disk either way.
 */
import type { Logger } from "./logger";
import type { Journal, JournalChunk, JournalPosition } from "./journal";
import type { PredictionLogMetrics } from "./metrics";

/** What a sink is handed: the journal from the first entry it has not taken yet. */
export interface BatchSource {
  readonly start: JournalPosition;
  /**
   * The journal's end when the write began. A sink that reads in several chunks stops here: chasing entries that
   * arrive while it works turns a busy journal's tail into a stream of chunks of a few lines each.
   */
  readonly end: JournalPosition;
  read(from: JournalPosition, maxBytes: number, maxRows: number): Promise<JournalChunk | undefined>;
}

export interface RejectedRow {
  readonly id: string;
  readonly error: unknown;
}

export interface WriteOutcome {
  /** The journal up to here is taken: written, or refused for good (rejected). */
  readonly end: JournalPosition;
  readonly rows: number;
  readonly lastSeq: string;
  /** Rows stored by this write (retried rows already there are not counted). */
  readonly written: number;
  readonly rejected: readonly RejectedRow[];
}

export interface LogSink {
  /** For logs and status: where it writes, never credentials. */
  readonly target: string;
  /** One write takes at most maxRows / about maxBytes; a write is due at maxRows, maxBytes, or maxWaitMs after the oldest entry. */
  readonly batch: { readonly maxRows: number; readonly maxBytes: number; readonly maxWaitMs: number };
  /** Backlog beyond this is "spilled" (the sink is behind). */
  readonly window: { readonly rows: number; readonly bytes: number };
  /** Schema, bucket check: retried with backoff until it succeeds. */
  prepare(): Promise<void>;
  /** Housekeeping (partition maintenance), hourly. */
  maintain?(): Promise<void>;
  /** Writes the next batch; throws when the sink is unavailable (the batch stays in the journal). */
  write(source: BatchSource): Promise<WriteOutcome>;
  close?(): Promise<void>;
}

export interface LogStreamOptions {
  /** "predictions" or "feedback": in log lines. */
  readonly name: string;
  readonly journal: Journal;
  readonly sink: LogSink;
  readonly log: Logger;
  readonly metrics: PredictionLogMetrics;
  /** Retry delays after a failed write: doubling from initial to max, with jitter. @default 100 ms .. 2 s */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000;
/** While the sink stays down, repeat the degraded warning this often (not on every retry). */
const DEGRADED_REMINDER_MS = 60 * 1000;

export class LogStream {
  readonly journal: Journal;
  readonly sink: LogSink;
  private readonly name: string;
  private readonly log: Logger;
  private readonly metrics: PredictionLogMetrics;
  private readonly backoff: { readonly initialMs: number; readonly maxMs: number };

  /** Backlog entries beyond the sink's window (entries recovered from earlier lives count too). */
  private spilledOutstanding: number;
  private spilling: boolean;
  private backlogSince = 0;
  private settledWaiters: Array<{ target: JournalPosition; resolve: () => void }> = [];

  private ready = false;
  private healthy = false;
  private reason: string | undefined = "connecting";
  private failures = 0;
  private lastDegradedLog = 0;
  private nextMaintenance = 0;

  private closing = false;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private interruptPause: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: LogStreamOptions) {
    this.name = options.name;
    this.journal = options.journal;
    this.sink = options.sink;
    this.log = options.log;
    this.metrics = options.metrics;
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 2000 };
    this.spilledOutstanding = this.journal.backlogRows;
    this.spilling = this.spilledOutstanding > 0;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** The journal stored `rows` entries (called by the owner from the journal's stored event). */
  stored(rows: number): void {
    const backlog = this.journal.backlogRows;
    if (backlog === rows) {
      // The loop may be idling for an hour: let it count the batch window from now.
      this.backlogSince = Date.now();
      this.wake();
    }
    let spilled = this.spilling ? rows : 0;
    if (!this.spilling) {
      const beyondWindow = backlog - this.sink.window.rows;
      if (beyondWindow > 0 || this.journal.backlogBytes > this.sink.window.bytes) {
        this.spilling = true;
        spilled = beyondWindow > 0 ? Math.min(rows, beyondWindow) : rows;
        this.log.warn(
          { stream: this.name, backlog, spillDir: this.journal.dir, reason: this.reason },
          "prediction log: the sink is behind; entries wait in the local journal (spill) until it catches up",
        );
      }
    }
    if (spilled > 0) {
      this.spilledOutstanding += spilled;
      this.metrics.spilled.inc(spilled);
    }
    if (backlog >= this.sink.batch.maxRows || this.journal.backlogBytes >= this.sink.batch.maxBytes) this.wake();
  }

  get queueDepth(): number {
    return Math.max(0, this.journal.backlogRows - this.spilledOutstanding);
  }

  get spillDepth(): number {
    return Math.min(this.spilledOutstanding, this.journal.backlogRows);
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  get unhealthyReason(): string | undefined {
    return this.reason;
  }

  hasUnsettled(): boolean {
    return this.journal.hasPending || this.journal.backlogRows > 0;
  }

  /** Waits until everything recorded before the call is in the sink; false after timeoutMs. */
  async flush(timeoutMs: number): Promise<boolean> {
    this.journal.flush();
    const target = this.journal.end;
    if (this.settled(target)) return true;
    this.wake();
    return new Promise<boolean>((resolve) => {
      const waiter = { target, resolve: () => (clearTimeout(timer), resolve(true)) };
      const timer = setTimeout(() => {
        this.settledWaiters = this.settledWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.settledWaiters.push(waiter);
    });
  }

  /**
   * Writes the backlog within timeoutMs (one more attempt if the sink is down); whatever is left stays in the
   * journal for the next start. Entries recorded later go straight to the journal's file.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closing) return this.loop;
    this.closing = true;
    this.journal.flush();
    this.interruptPause?.();
    this.wake();
    const deadline = Date.now() + timeoutMs;
    const failuresAtClose = this.failures;
    while (this.journal.backlogRows > 0 && this.loop && Date.now() < deadline && this.failures <= failuresAtClose) {
      await sleep(Math.min(10, deadline - Date.now()));
    }
    const left = this.journal.backlogRows;
    if (left > 0) {
      this.log.warn(
        { stream: this.name, left, spillDir: this.journal.dir, target: this.sink.target },
        "prediction log: sink not reachable before the shutdown deadline; the journal keeps the rest for the next start",
      );
    }
    this.stopped = true;
    this.interruptPause?.();
    this.wake();
    this.journal.close();
    if (this.loop) await settleWithin(this.loop, Math.max(0, deadline - Date.now()));
    await this.sink.close?.().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
      } catch (error) {
        this.log.error({ err: error, stream: this.name }, "prediction log: writer loop error; retrying");
        this.failures++;
        await this.pause();
      }
    }
  }

  private async step(): Promise<void> {
    if (!this.ready) {
      try {
        await this.sink.prepare();
        this.ready = true;
        this.recovered();
      } catch (error) {
        this.degraded(error);
        await this.pause();
      }
      return;
    }
    if (this.sink.maintain && Date.now() >= this.nextMaintenance) {
      this.nextMaintenance = Date.now() + MAINTENANCE_INTERVAL_MS;
      await this.sink.maintain().catch((error) => this.log.warn({ err: error, stream: this.name }, "prediction log: maintenance failed; retried in an hour"));
    }
    const wait = this.untilDue();
    if (wait > 0) return this.idle(wait);
    const stopTimer = this.metrics.writeDuration.startTimer();
    const writeStarted = Date.now();
    let outcome: WriteOutcome;
    try {
      outcome = await this.sink.write({ start: this.journal.start, end: this.journal.end, read: (from, bytes, rows) => this.journal.read(from, bytes, rows) });
    } catch (error) {
      stopTimer();
      this.degraded(error);
      return this.pause();
    }
    stopTimer();
    this.taken(outcome, writeStarted);
    this.recovered();
    if (outcome.rows === 0 && this.journal.reconcile()) await this.idle(50); // nothing to read after all: no busy loop
  }

  /** 0 when a write is due now; otherwise how long to wait (woken earlier by a new backlog, a full batch, a flush). */
  private untilDue(): number {
    const backlog = this.journal.backlogRows;
    if (backlog === 0) return Math.max(1, this.nextMaintenanceIn());
    const { maxRows, maxBytes, maxWaitMs } = this.sink.batch;
    if (this.closing || this.settledWaiters.length > 0 || backlog >= maxRows || this.journal.backlogBytes >= maxBytes) return 0;
    return Math.max(0, maxWaitMs - (Date.now() - this.backlogSince));
  }

  private nextMaintenanceIn(): number {
    return this.sink.maintain ? this.nextMaintenance - Date.now() : MAINTENANCE_INTERVAL_MS;
  }

  private taken(outcome: WriteOutcome, writeStarted: number): void {
    const queued = Math.max(0, this.journal.backlogRows - this.spilledOutstanding);
    const fromSpill = Math.max(0, Math.min(this.spilledOutstanding, outcome.rows - queued));
    this.journal.commit(outcome.end, outcome.rows, outcome.lastSeq);
    this.metrics.written.inc(outcome.written);
    if (fromSpill > 0) this.metrics.replayed.inc(fromSpill);
    this.spilledOutstanding -= fromSpill;
    if (this.spilling && this.spilledOutstanding === 0) {
      this.spilling = false;
      this.log.info({ stream: this.name }, "prediction log: backlog written, back to normal");
    }
    for (const { id, error } of outcome.rejected) this.reject(error, id);
    // What is left arrived during this write (or did not fit in it): its batch window counts from the write's
    // start, so a roll is not followed by a tiny one with the few rows that came in while it was uploaded.
    this.backlogSince = writeStarted;
    this.settle();
  }

  private settled(target: JournalPosition): boolean {
    if (this.journal.backlogRows === 0 && !this.journal.hasPending) return true;
    const start = this.journal.start;
    return start.segment > target.segment || (start.segment === target.segment && start.offset >= target.offset);
  }

  private settle(): void {
    if (this.settledWaiters.length === 0) return;
    const done = this.settledWaiters.filter((w) => this.settled(w.target));
    this.settledWaiters = this.settledWaiters.filter((w) => !done.includes(w));
    for (const waiter of done) waiter.resolve();
  }

  /** A row the sink refuses for good: counted and logged (at most one line per row, they are rare). */
  reject(error: unknown, id: unknown): void {
    this.metrics.dropped.inc({ reason: "rejected" });
    this.log.error({ err: error, predictionId: id, stream: this.name }, "prediction log: entry cannot be stored (refused by the sink or not serialisable), dropped");
  }

  /** Entries the journal lost: outstanding spill shrinks with them. */
  dropped(count: number): void {
    if (this.spilling) this.spilledOutstanding = Math.max(0, this.spilledOutstanding - count);
  }

  private degraded(error: unknown): void {
    const message = (error as Error)?.message || String(error);
    this.failures++;
    this.reason = `${this.sink.target} unavailable: ${message}`;
    const now = Date.now();
    if (this.healthy || this.failures === 1 || now - this.lastDegradedLog >= DEGRADED_REMINDER_MS) {
      this.lastDegradedLog = now;
      this.log.error(
        { err: error, stream: this.name, target: this.sink.target, backlog: this.journal.backlogRows, spillDir: this.journal.dir },
        "prediction log DEGRADED: cannot write to the sink; predictions are still served, entries wait in the local journal, " +
          "and writing is retried with backoff",
      );
    }
    this.healthy = false;
  }

  private recovered(): void {
    if (this.healthy) return;
    if (this.failures > 0) {
      this.log.info({ stream: this.name, failures: this.failures, backlog: this.journal.backlogRows, target: this.sink.target }, "prediction log: sink reachable again");
    }
    this.healthy = true;
    this.reason = undefined;
    this.failures = 0;
  }

  /** Backoff after a failure: only close() cuts it short (a filling queue does not). */
  private pause(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 20));
    const ms = ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.interruptPause = () => {
        this.interruptPause = undefined;
        done();
      };
    });
  }

  private idle(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for a promise, at most ms; leaves no timer behind. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
