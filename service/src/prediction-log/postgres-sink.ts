/**
 * The PostgreSQL sink: journal lines are already COPY text, so a batch is streamed unchanged into
 * `COPY prediction_log FROM STDIN`. COPY has no ON CONFLICT, and a batch can come round twice (a replay after a
 * crash, a commit whose answer was lost), which then fails as a whole on the primary key; such a batch goes
 * through a staging table instead (`COPY <staging>`, a temporary table on the writer's own connection emptied
 * at every commit, then `INSERT ... SELECT ... ON CONFLICT DO NOTHING` in the same transaction). Fresh batches
 * pay one COPY, retried ones two statements, and no row is ever written twice.
 *
 * A row the database refuses (a NUL in a jsonb string, ...) fails the whole COPY; PostgreSQL names its line
 * ("COPY ..., line N"), so that line is set aside (counted, logged) and the rest retried; without a line
 * number the batch is written line by line. Anything else (connection refused or lost, timeouts) is transient:
 * the batch stays in the journal and is retried with backoff.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { DatabaseError, Pool, PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PREDICTION_LOG_TABLE } from "../contract";
import { DEFAULT_RETENTION, maintain, migrate, type RetentionPolicy } from "./schema";
import type { Logger } from "./logger";
import type { BatchSource, LogSink, RejectedRow, WriteOutcome } from "./stream";
import { describeTarget } from "./writer";

const STAGING = `${PREDICTION_LOG_TABLE}_staging`;
const NEWLINE = 0x0a;
const UNIQUE_VIOLATION = "23505";
/** A row refused alone more often than this in one batch: the batch goes line by line instead. */
const MAX_ISOLATION_RETRIES = 50;

export interface PostgresSinkOptions {
  readonly pool: Pool;
  /** Partition maintenance, hourly. @default 7 days ahead, 30 days kept */
  readonly retention?: RetentionPolicy;
  /** Rows per COPY. @default 10000 */
  readonly batchRows?: number;
  /** Bytes per COPY (about). @default 8 MiB */
  readonly batchBytes?: number;
  /** Longest an entry waits for its batch to fill. @default 200 */
  readonly flushIntervalMs?: number;
  /** Backlog (rows) beyond which entries count as spilled. @default 10000 */
  readonly windowRows?: number;
  /** A batch that takes longer is abandoned and its connection dropped (a hung server). @default 30000 */
  readonly statementTimeoutMs?: number;
  /** Says which migrations were applied. @default silent */
  readonly log?: Pick<Logger, "info">;
}

export class PostgresSink implements LogSink {
  readonly target: string;
  readonly batch: LogSink["batch"];
  readonly window: LogSink["window"];
  private readonly pool: Pool;
  private readonly retention: RetentionPolicy;
  private readonly timeoutMs: number;
  private client: PoolClient | undefined;
  /** Average journal line length seen so far. */
  private lineBytes = 512;
  private readonly log: Pick<Logger, "info"> | undefined;

  constructor(options: PostgresSinkOptions) {
    this.log = options.log;
    this.pool = options.pool;
    this.target = `PostgreSQL ${describeTarget(options.pool)}`;
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.batch = { maxRows: options.batchRows ?? 10_000, maxBytes: options.batchBytes ?? 8 << 20, maxWaitMs: options.flushIntervalMs ?? 200 };
    this.window = { rows: options.windowRows ?? 10_000, bytes: Number.POSITIVE_INFINITY };
    this.timeoutMs = options.statementTimeoutMs ?? 30_000;
  }

  async prepare(): Promise<void> {
    const applied = await migrate(this.pool);
    if (applied.length > 0) this.log?.info({ applied }, "prediction log: schema migrations applied");
  }

  async maintain(): Promise<void> {
    await maintain(this.pool, this.retention);
  }

  async write(source: BatchSource): Promise<WriteOutcome> {
    // Read about what maxRows lines take (from the last batch's line length), not maxBytes every time.
    const bytes = Math.min(this.batch.maxBytes, Math.ceil(this.lineBytes * this.batch.maxRows * 1.25));
    const chunk = await source.read(source.start, bytes, this.batch.maxRows);
    if (!chunk) return { end: source.start, rows: 0, lastSeq: "0", written: 0, rejected: [] };
    this.lineBytes = Math.max(64, chunk.data.length / chunk.rows);
    const client = await this.connection();
    try {
      const { written, rejected } = await withTimeout(this.writeIsolating(client, chunk.columns, chunk.data), this.timeoutMs, "COPY");
      return { end: chunk.end, rows: chunk.rows, lastSeq: chunk.lastSeq, written, rejected };
    } catch (error) {
      this.dropConnection();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.client?.release();
    this.client = undefined;
  }

  /** The writer's own connection, with its staging table (temporary tables live per session). */
  private async connection(): Promise<PoolClient> {
    if (this.client) return this.client;
    const client = await this.pool.connect();
    // A connection lost between statements must surface as a failed query, not an unhandled 'error' event.
    client.on("error", () => undefined);
    try {
      await client.query(`CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGING} (LIKE ${PREDICTION_LOG_TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.client = client;
    return client;
  }

  private dropConnection(): void {
    this.client?.release(true);
    this.client = undefined;
  }

  private async writeIsolating(client: PoolClient, columns: readonly string[], data: Buffer): Promise<{ written: number; rejected: RejectedRow[] }> {
    const rejected: RejectedRow[] = [];
    let lines = data;
    for (let attempt = 0; lines.length > 0; attempt++) {
      try {
        return { written: await this.copy(client, columns, lines), rejected };
      } catch (error) {
        if (!isRowError(error)) throw error;
        const line = copyLineOf(error);
        if (line === undefined || attempt >= MAX_ISOLATION_RETRIES) return this.lineByLine(client, columns, lines, rejected);
        const { before, bad, after } = splitAtLine(lines, line);
        if (bad.length === 0) return this.lineByLine(client, columns, lines, rejected);
        rejected.push({ id: firstField(bad), error });
        lines = Buffer.concat([before, after]);
      }
    }
    return { written: 0, rejected };
  }

  private async lineByLine(client: PoolClient, columns: readonly string[], data: Buffer, rejected: RejectedRow[]): Promise<{ written: number; rejected: RejectedRow[] }> {
    let written = 0;
    for (let start = 0; start < data.length; ) {
      const end = data.indexOf(NEWLINE, start) + 1 || data.length;
      const line = data.subarray(start, end);
      try {
        written += await this.copy(client, columns, line);
      } catch (error) {
        if (!isRowError(error)) throw error;
        rejected.push({ id: firstField(line), error });
      }
      start = end;
    }
    return { written, rejected };
  }

  /** Stores the lines once: straight COPY, or through the staging table when some are already there. Returns rows inserted. */
  private async copy(client: PoolClient, columns: readonly string[], lines: Buffer): Promise<number> {
    const list = columns.join(", ");
    try {
      const result = await pipelineCopy(client, `COPY ${PREDICTION_LOG_TABLE} (${list}) FROM STDIN`, lines);
      return result;
    } catch (error) {
      if ((error as DatabaseError)?.code !== UNIQUE_VIOLATION) throw error;
    }
    await client.query("BEGIN");
    try {
      await pipelineCopy(client, `COPY ${STAGING} (${list}) FROM STDIN`, lines);
      const inserted = await client.query(`INSERT INTO ${PREDICTION_LOG_TABLE} (${list}) SELECT ${list} FROM ${STAGING} ON CONFLICT DO NOTHING`);
      await client.query("COMMIT");
      return inserted.rowCount ?? 0;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }
}

/** One COPY ... FROM STDIN of the lines (its own transaction unless one is open); returns the rows copied. */
async function pipelineCopy(client: PoolClient, sql: string, lines: Buffer): Promise<number> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from([lines]), stream);
  return stream.rowCount ?? 0;
}

/**
 * Errors caused by the rows themselves (data exceptions, integrity violations): retrying cannot help, so the
 * row is set aside. Everything else (connection refused, server shutting down, timeouts, missing table) is
 * transient and retried.
 */
export function isRowError(error: unknown): boolean {
  const code = (error as DatabaseError)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

/** The 1-based COPY line PostgreSQL names in the error context ("COPY prediction_log_staging, line 5, ..."). */
function copyLineOf(error: unknown): number | undefined {
  const where = (error as DatabaseError)?.where ?? "";
  const match = /COPY \S+, line (\d+)/.exec(where);
  return match ? Number(match[1]) : undefined;
}

function splitAtLine(data: Buffer, line: number): { before: Buffer; bad: Buffer; after: Buffer } {
  let start = 0;
  for (let i = 1; i < line; i++) {
    const next = data.indexOf(NEWLINE, start);
    if (next < 0) return { before: data, bad: Buffer.alloc(0), after: Buffer.alloc(0) };
    start = next + 1;
  }
  const end = data.indexOf(NEWLINE, start) + 1 || data.length;
  return { before: data.subarray(0, start), bad: data.subarray(start, end), after: data.subarray(end) };
}

/** The prediction id (first field) of a line, for the log. */
function firstField(line: Buffer): string {
  const tab = line.indexOf(0x09);
  return line.toString("utf8", 0, tab < 0 ? Math.min(line.length, 64) : tab);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
