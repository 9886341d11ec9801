/**
 * Writes prediction-log entries to PostgreSQL off the request path, without losing any.
 *
 * record() only appends to an in-memory queue (bounded); one background loop writes the queue in batches with a
 * single multi-row INSERT (the batch travels as one jsonb parameter), one batch at a time so rows land in seq
 * order. When the database is slow or down the queue fills, and from then on entries are appended to local
 * spill segments (spill.ts) instead; once the database answers again the queue is written first (its entries
 * are older), then the spill is replayed oldest first, and only when it is empty do entries go back to the
 * queue. Every insert is ON CONFLICT DO NOTHING on (prediction_id, created_at), so a retried or replayed batch
 * never duplicates a row. close() writes what it can before a deadline and spills the rest.
 *
 * Each entry gets a per-replica seq: boot time in ms shifted left 20 bits plus a counter, so seqs keep
 * increasing across restarts of the same pod (a restart would need over a million entries per millisecond of
 * uptime to collide) and spill segments from a previous life replay first.
 */
import { Pool, type DatabaseError } from "pg";
import { Registry } from "prom-client";
import { METRICS, PREDICTION_LOG_COLUMNS as C, PREDICTION_LOG_TABLE, type PredictionLogEntry } from "../contract";
import { createPredictionLogMetrics, type DropReason, type PredictionLogMetrics } from "./metrics";
import { DEFAULT_RETENTION, maintain, migrate, type RetentionPolicy } from "./schema";
import { SpillStore, type SpillBatch } from "./spill";

type Column = (typeof C)[keyof typeof C];
/** One table row as JSON: what a batch insert sends and what a spill line holds. */
export type PredictionLogRow = Record<Column, unknown>;

/** What the service needs from the prediction log. */
export interface PredictionLog {
  /** Queues one answered prediction; never throws, never waits. */
  record(entry: PredictionLogEntry): void;
  status(): PredictionLogStatus;
}

export interface PredictionLogStatus {
  readonly enabled: boolean;
  /** False while the database cannot be reached or written (entries then queue and spill). */
  readonly healthy: boolean;
  readonly reason?: string;
  readonly queueDepth: number;
  readonly spillDepth: number;
}

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PredictionLogWriterOptions {
  readonly pool: Pool;
  /** This replica's name (POD_NAME): written on every row, orders its rows with seq. */
  readonly replica: string;
  /** Where entries spill when the queue is full; one directory per replica (an emptyDir). */
  readonly spillDir: string;
  readonly logger: Logger;
  /** Metrics are registered here. @default a private registry */
  readonly registry?: Registry;
  /** Fraction of predictions logged, decided by prediction id (stable across retries). @default 1 */
  readonly sampleRate?: number;
  /** Rows per INSERT. @default 500 */
  readonly batchSize?: number;
  /** Longest an entry waits for a batch to fill. @default 200 */
  readonly flushIntervalMs?: number;
  /** Entries held in memory before spilling to disk. @default 10000 */
  readonly maxQueue?: number;
  /** Partition maintenance (run at start and hourly). @default 7 days ahead, 30 days kept */
  readonly retention?: RetentionPolicy;
  /** Retry delays after a failed write: doubling from initial to max, with jitter. @default 100 ms .. 10 s */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000;
/** While the database stays down, repeat the degraded warning this often (not on every retry). */
const DEGRADED_REMINDER_MS = 60 * 1000;

const COLUMN_TYPES: Record<Column, string> = {
  [C.predictionId]: "uuid",
  [C.modelName]: "text",
  [C.modelVersion]: "text",
  [C.variant]: "text",
  [C.createdAt]: "timestamptz",
  [C.task]: "text",
  [C.features]: "jsonb",
  [C.probability]: "double precision",
  [C.label]: "text",
  [C.value]: "double precision",
  [C.latencyMs]: "real",
  [C.fallback]: "boolean",
  [C.replica]: "text",
  [C.seq]: "bigint",
};
const COLUMNS = Object.keys(COLUMN_TYPES).join(", ");
const INSERT_SQL =
  `INSERT INTO ${PREDICTION_LOG_TABLE} (${COLUMNS}) ` +
  `SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS r(${Object.entries(COLUMN_TYPES).map(([c, t]) => `${c} ${t}`).join(", ")}) ` +
  `ON CONFLICT DO NOTHING`;

interface Batch {
  readonly rows: readonly PredictionLogRow[];
  readonly fromSpill: boolean;
  /** Highest seq in the batch (rows refused on the way included). */
  readonly lastSeq: bigint | undefined;
  commit(): void;
}

/** A queued entry: turned into a row only when its batch is written, so record() stays a push. */
interface Queued {
  readonly entry: PredictionLogEntry;
  readonly seq: bigint;
}

export class PredictionLogWriter implements PredictionLog {
  readonly metrics: PredictionLogMetrics;
  readonly replica: string;
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly spill: SpillStore;
  private readonly sampleThreshold: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly retention: RetentionPolicy;
  private readonly backoff: { readonly initialMs: number; readonly maxMs: number };

  private queue: Queued[] = [];
  private queueSince = 0;
  /** Entries go to the spill until it has been replayed completely (keeps seq order). */
  private spilling: boolean;
  private nextSeq = BigInt(Date.now()) << 20n;
  private lastRecordedSeq = -1n;
  /** Every entry up to this seq is in the table (or was refused by it). */
  private settledSeq = -1n;
  private settledWaiters: Array<{ seq: bigint; resolve: () => void }> = [];

  private schemaReady = false;
  private healthy = false;
  private reason: string | undefined = "connecting to the database";
  private failures = 0;
  private lastDegradedLog = 0;
  private nextMaintenance = 0;

  private closing = false;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: PredictionLogWriterOptions) {
    // Handed around as a callback (recordPrediction: log.record): keep `this`.
    this.record = this.record.bind(this);
    this.pool = options.pool;
    this.replica = options.replica;
    this.log = options.logger;
    this.sampleThreshold = Math.floor(Math.min(1, Math.max(0, options.sampleRate ?? 1)) * 0x1_0000_0000);
    this.batchSize = options.batchSize ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.maxQueue = options.maxQueue ?? 10_000;
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 10_000 };
    this.metrics = createPredictionLogMetrics(options.registry ?? new Registry(), {
      queueDepth: () => this.queue.length,
      spillDepth: () => this.spill.depth,
    });
    const drop = (reason: DropReason, count: number) => this.metrics.dropped.inc({ reason }, count);
    this.spill = new SpillStore(options.spillDir, {
      onSpilled: (count) => this.metrics.spilled.inc(count),
      onWriteFailed: (count, error) => {
        drop("spill_write_failed", count);
        this.log.error({ err: error, lost: count, spillDir: options.spillDir }, "prediction log: spill write failed, entries lost");
      },
      onUnreadable: (count) => {
        drop("spill_unreadable", count);
        this.log.error({ lost: count, spillDir: options.spillDir }, "prediction log: unreadable spill lines skipped (torn write at a crash?)");
      },
    });
    if (this.spill.unusable) {
      this.log.error(
        { err: this.spill.unusable, spillDir: options.spillDir },
        `prediction log: spill directory unusable; entries that overflow the queue will be lost (counted in ${METRICS.predictionLogDroppedTotal})`,
      );
    }
    this.spilling = this.spill.depth > 0;
    if (this.spilling) this.log.info({ spillDepth: this.spill.depth }, "prediction log: spill from a previous run found; it is replayed first");
  }

  /** Starts the background writer (migrations first, retried with backoff). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Queues one entry; the entry must not be mutated afterwards (it is serialised later, off the request path). */
  record(entry: PredictionLogEntry): void {
    try {
      if (this.sampleThreshold < 0x1_0000_0000 && !this.sampled(entry.predictionId)) return;
      const seq = this.nextSeq++;
      this.lastRecordedSeq = seq;
      if (this.closed) {
        // After close (a request that finished late): straight to disk, the next start replays it.
        this.spillEntry(entry, seq);
        this.spill.flush();
        return;
      }
      if (!this.spilling && this.queue.length >= this.maxQueue) {
        this.spilling = true;
        this.log.warn(
          { queueDepth: this.queue.length, spillDir: this.spill.dir, reason: this.reason },
          "prediction log: queue full, spilling entries to local disk until the database catches up",
        );
      }
      if (this.spilling) {
        this.spillEntry(entry, seq);
        return;
      }
      if (this.queue.length === 0) this.queueSince = Date.now();
      this.queue.push({ entry, seq });
      if (this.queue.length >= this.batchSize) this.wake();
    } catch (error) {
      this.reject(error, entry?.predictionId);
    }
  }

  status(): PredictionLogStatus {
    return {
      enabled: true,
      healthy: this.healthy,
      ...(this.reason ? { reason: this.reason } : {}),
      queueDepth: this.queue.length,
      spillDepth: this.spill.depth,
    };
  }

  /** True while entries recorded so far are not all in the table yet. */
  hasUnsettled(): boolean {
    return this.settledSeq < this.lastRecordedSeq;
  }

  /**
   * Waits until every entry recorded before this call is in the table; false if that takes longer than
   * timeoutMs (database down, long backlog).
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const target = this.lastRecordedSeq;
    if (this.settledSeq >= target) return true;
    this.wake();
    return new Promise<boolean>((resolve) => {
      const waiter = { seq: target, resolve: () => (clearTimeout(timer), resolve(true)) };
      const timer = setTimeout(() => {
        this.settledWaiters = this.settledWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.settledWaiters.push(waiter);
    });
  }

  /**
   * Writes the queue to the database within timeoutMs (one more attempt if it is down), then spills whatever is
   * left (the spill is replayed by the next start). Entries recorded after this go straight to the spill.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closing) return this.loop;
    this.closing = true;
    this.wake();
    const deadline = Date.now() + timeoutMs;
    // Wait for the queue to drain, unless a write attempt made while closing has already failed.
    const failuresAtClose = this.failures;
    while (this.queue.length > 0 && Date.now() < deadline && this.loop && this.failures <= failuresAtClose) {
      await sleep(Math.min(10, deadline - Date.now()));
    }
    this.closed = true;
    this.wake();
    const left = this.queue;
    this.queue = [];
    if (left.length > 0) {
      const lines = this.toRows(left).flatMap((row) => this.serialise(row));
      this.spill.writeSegment(lines, left[0]!.seq.toString());
      this.log.warn({ spilled: left.length, spillDir: this.spill.dir }, "prediction log: database not reachable before the shutdown deadline, queue spilled");
    }
    this.spill.close();
    // The loop ends after its current statement; don't wait past the deadline for a hung one.
    if (this.loop) await settleWithin(this.loop, Math.max(0, deadline - Date.now()));
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.step();
      } catch (error) {
        // Not the database (write() handles that): the spill directory vanished, a bug. Keep the loop alive.
        this.log.error({ err: error }, "prediction log: writer loop error; retrying");
        this.failures++;
        await this.pause();
      }
    }
  }

  private async step(): Promise<void> {
    if (!this.schemaReady) {
      if (!(await this.prepareSchema())) await this.pause();
      return;
    }
    if (Date.now() >= this.nextMaintenance) await this.maintainPartitions();
    const batch = await this.nextBatch();
    if (!batch) return this.idle();
    if (!(await this.write(batch))) await this.pause();
  }

  private async prepareSchema(): Promise<boolean> {
    try {
      const applied = await migrate(this.pool);
      if (applied.length > 0) this.log.info({ applied }, "prediction log: schema migrations applied");
      this.schemaReady = true;
      this.recovered();
      return true;
    } catch (error) {
      this.degraded(error);
      return false;
    }
  }

  private async maintainPartitions(): Promise<void> {
    this.nextMaintenance = Date.now() + MAINTENANCE_INTERVAL_MS;
    try {
      await maintain(this.pool, this.retention);
    } catch (error) {
      // Not fatal: the default partition takes rows for a day without a partition.
      this.log.warn({ err: error }, "prediction log: partition maintenance failed; retried in an hour");
    }
  }

  private async nextBatch(): Promise<Batch | undefined> {
    if (this.queue.length > 0) {
      const due =
        this.closing || this.settledWaiters.length > 0 || this.queue.length >= this.batchSize || Date.now() - this.queueSince >= this.flushIntervalMs;
      if (!due) return undefined;
      const taken = this.queue.slice(0, this.batchSize);
      return {
        rows: this.toRows(taken),
        fromSpill: false,
        lastSeq: taken[taken.length - 1]!.seq,
        commit: () => {
          this.queue.splice(0, taken.length);
          // The rest waited at least as long as this batch: write it without delay.
          this.queueSince = 0;
        },
      };
    }
    if (!this.spilling || this.closing) return undefined;
    this.spill.flush();
    const spilled: SpillBatch | undefined = await this.spill.read(this.batchSize);
    if (!spilled) {
      if (this.spill.depth === 0) {
        this.spilling = false;
        this.log.info({}, "prediction log: spill replayed completely, back to the in-memory queue");
      }
      return undefined;
    }
    const rows = spilled.lines as PredictionLogRow[];
    const seqs = rows.map((row) => parseSeq(row?.[C.seq])).filter((seq) => seq !== undefined);
    const lastSeq = seqs.reduce<bigint | undefined>((max, seq) => (max === undefined || seq > max ? seq : max), undefined);
    return { rows, fromSpill: true, lastSeq, commit: () => spilled.commit() };
  }

  /** Inserts one batch; false on a transient failure (the batch stays where it was and is retried). */
  private async write(batch: Batch): Promise<boolean> {
    const stopTimer = this.metrics.writeDuration.startTimer();
    let inserted: number;
    try {
      inserted = (await this.pool.query(INSERT_SQL, [JSON.stringify(batch.rows)])).rowCount ?? 0;
    } catch (error) {
      stopTimer();
      if (!isRowError(error)) {
        this.degraded(error);
        return false;
      }
      const result = await this.writeRowByRow(batch.rows);
      if (result === undefined) return false;
      inserted = result;
    }
    stopTimer();
    this.metrics.written.inc(inserted);
    if (batch.fromSpill) this.metrics.replayed.inc(batch.rows.length);
    batch.commit();
    this.settle(batch.lastSeq);
    this.recovered();
    return true;
  }

  /** Isolates the rows the database refuses (e.g. NUL in a jsonb string) so the rest are written. */
  private async writeRowByRow(rows: readonly PredictionLogRow[]): Promise<number | undefined> {
    let inserted = 0;
    for (const row of rows) {
      try {
        inserted += (await this.pool.query(INSERT_SQL, [JSON.stringify([row])])).rowCount ?? 0;
      } catch (error) {
        if (!isRowError(error)) {
          this.degraded(error);
          return undefined;
        }
        this.reject(error, row[C.predictionId]);
      }
    }
    return inserted;
  }

  /** Entries are written in seq order: everything up to the batch's last seq is settled. */
  private settle(lastSeq: bigint | undefined): void {
    if (lastSeq !== undefined && lastSeq > this.settledSeq) this.settledSeq = lastSeq;
    if (this.settledWaiters.length === 0) return;
    const done = this.settledWaiters.filter((w) => w.seq <= this.settledSeq);
    this.settledWaiters = this.settledWaiters.filter((w) => w.seq > this.settledSeq);
    for (const waiter of done) waiter.resolve();
  }

  private degraded(error: unknown): void {
    const message = (error as Error)?.message || String(error);
    this.failures++;
    this.reason = `database unavailable: ${message}`;
    const now = Date.now();
    if (this.healthy || this.failures === 1 || now - this.lastDegradedLog >= DEGRADED_REMINDER_MS) {
      this.lastDegradedLog = now;
      this.log.error(
        { err: error, target: describeTarget(this.pool), queueDepth: this.queue.length, spillDepth: this.spill.depth, spillDir: this.spill.dir },
        "prediction log DEGRADED: cannot write to PostgreSQL; predictions are still served, entries queue in memory " +
          "then spill to local disk, and writing is retried with backoff",
      );
    }
    this.healthy = false;
  }

  private recovered(): void {
    if (this.healthy) return;
    if (this.failures > 0) {
      this.log.info({ failures: this.failures, spillDepth: this.spill.depth, target: describeTarget(this.pool) }, "prediction log: database reachable again");
    }
    this.healthy = true;
    this.reason = undefined;
    this.failures = 0;
  }

  /** Backoff after a failure: doubling, with jitter so replicas don't retry in lockstep; cut short by close(). */
  private async pause(): Promise<void> {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 20));
    await this.sleepOrWake(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private async idle(): Promise<void> {
    const waited = this.queue.length > 0 ? Date.now() - this.queueSince : 0;
    await this.sleepOrWake(Math.max(1, Math.min(this.flushIntervalMs - waited, this.nextMaintenance - Date.now())));
  }

  private sleepOrWake(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
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

  private spillEntry(entry: PredictionLogEntry, seq: bigint): void {
    this.spill.append(JSON.stringify(toRow(entry, this.replica, seq)), seq.toString());
  }

  /** Rows for queued entries; an entry that cannot become a row (an invalid Date) is dropped and counted. */
  private toRows(queued: readonly Queued[]): PredictionLogRow[] {
    const rows: PredictionLogRow[] = [];
    for (const { entry, seq } of queued) {
      try {
        rows.push(toRow(entry, this.replica, seq));
      } catch (error) {
        this.reject(error, entry.predictionId);
      }
    }
    return rows;
  }

  private serialise(row: PredictionLogRow): string[] {
    try {
      return [JSON.stringify(row)];
    } catch (error) {
      this.reject(error, row[C.predictionId]);
      return [];
    }
  }

  private reject(error: unknown, predictionId: unknown): void {
    this.metrics.dropped.inc({ reason: "rejected" });
    this.log.error({ err: error, predictionId }, "prediction log: entry cannot be stored (refused by the database or not serialisable), dropped");
  }

  /** Stable per prediction id: the first 32 bits of a (random) UUID, compared with the rate. */
  private sampled(predictionId: string): boolean {
    const bits = Number.parseInt(predictionId.replace(/-/g, "").slice(0, 8), 16);
    return Number.isNaN(bits) ? Math.random() * 0x1_0000_0000 < this.sampleThreshold : bits < this.sampleThreshold;
  }
}

export function toRow(entry: PredictionLogEntry, replica: string, seq: bigint): PredictionLogRow {
  return {
    [C.predictionId]: entry.predictionId,
    [C.modelName]: entry.modelName,
    [C.modelVersion]: entry.modelVersion,
    [C.variant]: entry.variant,
    [C.createdAt]: entry.createdAt.toISOString(),
    [C.task]: entry.task,
    [C.features]: entry.features,
    [C.probability]: entry.probability,
    [C.label]: entry.label === null ? null : String(entry.label),
    [C.value]: entry.value,
    [C.latencyMs]: entry.latencyMs,
    [C.fallback]: entry.fallback,
    [C.replica]: replica,
    // A string: seqs exceed 2^53.
    [C.seq]: seq.toString(),
  };
}

/** A connection pool for the prediction log: bounded, with timeouts so a hung database reads as down. */
export function createPool(url: string, replica: string): Pool {
  const pool = new Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    query_timeout: 30_000,
    application_name: `modelport ${replica}`.slice(0, 63),
  });
  // An idle client whose server went away emits here; the next query reconnects. Unhandled, it would crash.
  pool.on("error", () => undefined);
  return pool;
}

/** host:port/database of the pool's URL, never the credentials. */
export function describeTarget(pool: Pool): string {
  try {
    const url = new URL(pool.options.connectionString ?? "");
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return "(unparseable PREDICTION_LOG_URL)";
  }
}

/**
 * Errors caused by the rows themselves (data exceptions, integrity violations): retrying cannot help, so the
 * batch is split to find them. Everything else (connection refused, server shutting down, timeouts, missing
 * table) is transient and retried.
 */
function isRowError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true; // JSON.stringify of a BigInt, ...
  const code = (error as DatabaseError)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

function parseSeq(value: unknown): bigint | undefined {
  try {
    return typeof value === "string" || typeof value === "number" ? BigInt(value) : undefined;
  } catch {
    return undefined;
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
