/**
 * The prediction log as the service uses it: record() puts each answered prediction into the local journal
 * (durable before its answer leaves: see journal.ts), and a background stream writes the journal to the sink
 * (PostgreSQL COPY, or Parquet files on S3) in order, with backoff while the sink is down. Nothing accepted is
 * lost to a process kill, a sink outage or a SIGTERM: the next start replays the journal; what cannot be kept
 * (the spill cap reached, a machine crash's unsynced writes found missing by seq at start, a row the sink
 * refuses) is counted in prediction_log_dropped_total{reason}.
 *
 * With the object-storage sink, ground truth from /feedback goes to a second stream (its own journal, its own
 * Parquet files in the same layout); both share the spill directory's cap.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Pool } from "pg";
import { postgresPoolConfig } from "../postgres/connection";
import { Registry } from "prom-client";
import { METRICS, PREDICTION_LOG_COLUMNS as C, type PredictionLogEntry } from "../contract";
import { textField } from "./copy-text";
import { DiskBudget, Journal } from "./journal";
import { RateLimitedLog, type Logger } from "./logger";
import { createPredictionLogMetrics, type DropReason, type PredictionLogMetrics } from "./metrics";
import { FEEDBACK_LINE_COLUMNS, PREDICTION_LINE_COLUMNS, feedbackLine, predictionLine, type FeedbackRecord } from "./rows";
import { LogStream, type LogSink } from "./stream";

export type { Logger } from "./logger";

/** What the service needs from the prediction log. */
export interface PredictionLog {
  /** Journals one answered prediction; never throws, never waits. */
  record(entry: PredictionLogEntry): void;
  status(): PredictionLogStatus;
}

export interface PredictionLogStatus {
  readonly enabled: boolean;
  /** False while the sink cannot be reached or written (entries then wait in the journal). */
  readonly healthy: boolean;
  readonly reason?: string;
  readonly queueDepth: number;
  readonly spillDepth: number;
  /** Where entries go: "PostgreSQL host:port/db" or "s3://bucket/prefix". */
  readonly sink?: string;
  /** The local journal: is the directory writable, and how full is it. */
  readonly spill?: {
    readonly dir: string;
    readonly writable: boolean;
    readonly reason?: string;
    readonly bytes: number;
    readonly limitBytes: number;
  };
}

export interface PredictionLogWriterOptions {
  readonly sink: LogSink;
  /** Object-storage sink: where ground truth goes (its own stream). @default none (PostgreSQL stores feedback itself) */
  readonly feedbackSink?: LogSink;
  /** This replica's name (POD_NAME): written on every row, orders its rows with seq. */
  readonly replica: string;
  /** The local journal (and spill); one directory per replica (an emptyDir). */
  readonly spillDir: string;
  readonly logger: Logger;
  /** Metrics are registered here. @default a private registry */
  readonly registry?: Registry;
  /** Fraction of predictions logged, decided by prediction id (stable across retries). @default 1 */
  readonly sampleRate?: number;
  /** Disk the journals may use; beyond it new entries are dropped and counted. @default 1 GiB */
  readonly spillMaxBytes?: number;
  /** @default 1000 (see journal.ts) */
  readonly fsyncIntervalMs?: number;
  /** Journal segment size. @default 8 MiB */
  readonly segmentBytes?: number;
  /** Retry delays after a failed write. @default 100 ms .. 2 s */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export const DEFAULT_SPILL_MAX_BYTES = 1 << 30;

export class PredictionLogWriter implements PredictionLog {
  readonly metrics: PredictionLogMetrics;
  readonly replica: string;
  readonly predictions: LogStream;
  readonly feedback: LogStream | undefined;
  private readonly budget: DiskBudget;
  private readonly replicaField: string;
  private readonly sampleThreshold: number;
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private readonly spillDir: string;

  constructor(options: PredictionLogWriterOptions) {
    // Handed around as a callback (recordPrediction: log.record): keep `this`.
    this.record = this.record.bind(this);
    this.replica = options.replica;
    this.replicaField = textField(options.replica);
    this.log = options.logger;
    this.limited = new RateLimitedLog(options.logger);
    this.spillDir = options.spillDir;
    this.sampleThreshold = Math.floor(Math.min(1, Math.max(0, options.sampleRate ?? 1)) * 0x1_0000_0000);
    this.budget = new DiskBudget(options.spillMaxBytes ?? DEFAULT_SPILL_MAX_BYTES);
    const streams: LogStream[] = [];
    this.metrics = createPredictionLogMetrics(options.registry ?? new Registry(), {
      queueDepth: () => streams.reduce((sum, s) => sum + s.queueDepth, 0),
      spillDepth: () => streams.reduce((sum, s) => sum + s.spillDepth, 0),
      spillBytes: () => this.budget.used(),
      spillLimitBytes: () => this.budget.limitBytes,
    });
    this.predictions = this.openStream("predictions", PREDICTION_LINE_COLUMNS, options.sink, options);
    streams.push(this.predictions);
    importLegacySpill(options.spillDir, this.predictions, this.replicaField, this.log);
    if (options.feedbackSink) {
      this.feedback = this.openStream("feedback", FEEDBACK_LINE_COLUMNS, options.feedbackSink, options);
      streams.push(this.feedback);
    }
    const failure = this.predictions.journal.failure;
    if (failure) {
      this.log.error(
        { err: failure, spillDir: options.spillDir },
        "prediction log: spill directory unusable (read-only, full or missing); entries are held in memory only, lost on a restart, " +
          `and dropped (counted in ${METRICS.predictionLogDroppedTotal}) once that is full`,
      );
    }
  }

  /** Starts the background writers (schema or bucket check first, retried with backoff). */
  start(): void {
    this.predictions.start();
    this.feedback?.start();
  }

  /** Journals one entry; the entry must not be mutated afterwards. */
  record(entry: PredictionLogEntry): void {
    if (this.sampleThreshold < 0x1_0000_0000 && !this.sampled(entry.predictionId)) return;
    let line: string;
    try {
      line = predictionLine(entry, this.replicaField);
    } catch (error) {
      this.predictions.reject(error, entry?.predictionId);
      return;
    }
    this.predictions.journal.append(line);
    if (this.predictions.journal.isClosed) this.predictions.journal.flush();
  }

  /** Object-storage sink only: journals one label for the feedback stream. */
  recordFeedback(record: FeedbackRecord): void {
    if (!this.feedback) throw new Error("recordFeedback needs a feedback sink (the object-storage prediction log)");
    this.feedback.journal.append(feedbackLine(record, this.replicaField));
    if (this.feedback.journal.isClosed) this.feedback.journal.flush();
  }

  /** True while an answer must wait: some recorded entry is not in its journal yet. */
  get hasPending(): boolean {
    return this.predictions.journal.hasPending || (this.feedback?.journal.hasPending ?? false);
  }

  /** Calls back once every entry recorded so far is in its journal (once the running microtasks have run). */
  whenWritten(callback: () => void): void {
    if (!this.feedback?.journal.hasPending) return this.predictions.journal.whenWritten(callback);
    this.predictions.journal.whenWritten(() => this.feedback!.journal.whenWritten(callback));
  }

  status(): PredictionLogStatus {
    const streams = [this.predictions, ...(this.feedback ? [this.feedback] : [])];
    const unhealthy = streams.find((s) => !s.isHealthy);
    const failure = streams.map((s) => s.journal.failure).find((f) => f !== undefined);
    return {
      enabled: true,
      healthy: !unhealthy,
      ...(unhealthy?.unhealthyReason ? { reason: unhealthy.unhealthyReason } : {}),
      queueDepth: streams.reduce((sum, s) => sum + s.queueDepth, 0),
      spillDepth: streams.reduce((sum, s) => sum + s.spillDepth, 0),
      sink: this.predictions.sink.target,
      spill: {
        dir: this.spillDir,
        writable: failure === undefined,
        ...(failure ? { reason: `${failure.message}: entries are held in memory only (lost on a restart)` } : {}),
        bytes: this.budget.used(),
        limitBytes: this.budget.limitBytes,
      },
    };
  }

  /** True while predictions recorded so far are not all in the sink yet. */
  hasUnsettled(): boolean {
    return this.predictions.hasUnsettled();
  }

  /** Waits until every prediction recorded before this call is in the sink; false after timeoutMs. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.predictions.flush(timeoutMs);
  }

  /**
   * Writes the backlog to the sink within timeoutMs; whatever is left stays in the journal (synced) for the
   * next start. Entries recorded after this still reach the journal's file at once.
   */
  async close(timeoutMs = 5000): Promise<void> {
    await Promise.all([this.predictions.close(timeoutMs), this.feedback?.close(timeoutMs)]);
  }

  private openStream(name: string, columns: readonly string[], sink: LogSink, options: PredictionLogWriterOptions): LogStream {
    let stream: LogStream | undefined;
    const journal = new Journal({
      dir: join(options.spillDir, name),
      prefix: name,
      columns,
      budget: this.budget,
      segmentBytes: options.segmentBytes,
      fsyncIntervalMs: options.fsyncIntervalMs,
      events: {
        stored: (rows) => stream?.stored(rows),
        dropped: (reason, count) => this.dropped(name, reason, count, stream),
        diskError: (error) => {
          this.metrics.spillErrors.inc();
          this.limited.error(
            `spill-${name}`,
            { err: error, spillDir: options.spillDir, stream: name },
            "prediction log: cannot write the spill directory; entries are held in memory (lost on a restart) until it works again",
          );
        },
        diskRecovered: () => this.log.info({ spillDir: options.spillDir, stream: name }, "prediction log: spill directory writable again"),
      },
    });
    stream = new LogStream({ name, journal, sink, log: this.log, metrics: this.metrics, backoff: options.backoff });
    const found = journal.recovery;
    if (found.rows > 0) this.log.info({ stream: name, rows: found.rows, segments: found.segments }, "prediction log: journal from a previous run found; it is written first");
    if (found.lost > 0) this.dropped(name, "lost", found.lost, undefined);
    if (found.unreadable > 0) this.dropped(name, "spill_unreadable", found.unreadable, undefined);
    return stream;
  }

  private dropped(stream: string, reason: DropReason, count: number, owner: LogStream | undefined): void {
    this.metrics.dropped.inc({ reason }, count);
    owner?.dropped(count);
    const why: Record<DropReason, string> = {
      spill_full: `the spill reached its cap (${this.budget.limitBytes} bytes, PREDICTION_LOG_SPILL_MAX_BYTES) while the sink is behind`,
      spill_write_failed: "the spill directory fails and the in-memory stand-in is full",
      spill_unreadable: "torn journal lines found at start (a machine crash mid-write)",
      lost: "entries a previous run accepted are missing from the journal (seq gaps: a machine crash lost unsynced writes, or entries held in memory were lost)",
      rejected: "the sink refused them",
    };
    this.limited.error(`drop-${stream}-${reason}`, { stream, reason, lost: count, spillDir: this.spillDir }, `prediction log: entries dropped: ${why[reason]}`);
  }

  /** Stable per prediction id: the last 32 bits of the UUID (random in v7 as in v4; v7's first ones are its time), compared with the rate. */
  private sampled(predictionId: string): boolean {
    const bits = /^[0-9a-fA-F]{8}$/.test(predictionId.slice(-8)) ? Number.parseInt(predictionId.slice(-8), 16) : Number.NaN;
    return Number.isNaN(bits) ? Math.random() * 0x1_0000_0000 < this.sampleThreshold : bits < this.sampleThreshold;
  }
}

/**
 * Spill files of the previous release (`spill-<seq>.jsonl`, one JSON row per line, written only while the
 * database was down) are moved into the journal once, oldest first, so an upgrade in place loses none.
 */
function importLegacySpill(spillDir: string, stream: LogStream, replica: string, log: Logger): void {
  let files: string[];
  try {
    files = readdirSync(spillDir).filter((f) => /^spill-\d{20}\.jsonl$/.test(f)).sort();
  } catch {
    return;
  }
  let imported = 0;
  for (const file of files) {
    const path = join(spillDir, file);
    const offsetFile = path.replace(/\.jsonl$/, ".offset");
    const offset = existsSync(offsetFile) ? Number(readFileSync(offsetFile, "utf8")) || 0 : 0;
    for (const text of readFileSync(path, "utf8").slice(offset).split("\n")) {
      const row = parseLegacyRow(text);
      if (!row) continue;
      try {
        stream.journal.append(predictionLine(row, replica));
        imported++;
      } catch (error) {
        stream.reject(error, row.predictionId);
      }
    }
    stream.journal.flush();
    rmSync(path, { force: true });
    rmSync(offsetFile, { force: true });
  }
  if (imported > 0) log.info({ imported, spillDir }, "prediction log: spill files of the previous release moved into the journal");
}

function parseLegacyRow(text: string): PredictionLogEntry | undefined {
  try {
    const row = JSON.parse(text) as Record<string, unknown>;
    const label = row[C.label];
    return {
      predictionId: String(row[C.predictionId]),
      modelName: String(row[C.modelName]),
      modelVersion: String(row[C.modelVersion]),
      variant: String(row[C.variant]),
      createdAt: new Date(String(row[C.createdAt])),
      task: "binary",
      features: (row[C.features] ?? {}) as Record<string, unknown>,
      probability: typeof row[C.probability] === "number" ? (row[C.probability] as number) : null,
      label: label === null || label === undefined ? null : (label as number | string),
      value: null,
      latencyMs: Number(row[C.latencyMs]) || 0,
      fallback: row[C.fallback] === true,
    };
  } catch {
    return undefined;
  }
}

/** A connection pool for the prediction log: bounded, with timeouts so a hung database reads as down. */
export function createPool(url: string, replica: string): Pool {
  const pool = new Pool({
    ...postgresPoolConfig(url),
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
