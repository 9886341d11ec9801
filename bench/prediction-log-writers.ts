/**
 * Rows/s one prediction-log writer sustains into each sink: a journal is filled first (the writer not started,
 * as a backlog after an outage would be), then one writer drains it and the clock runs until the last row is
 * in the sink. This is the writer's own ceiling, not the service's: no HTTP, no model, the sink on the same host
 * (PostgreSQL 15; s3rver, which stores every object on the local disk).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PredictionLogEntry } from "../service/src/contract";
import { ParquetSink, parseS3Url, s3ClientFromEnv } from "../service/src/prediction-log/parquet-sink";
import { PostgresSink } from "../service/src/prediction-log/postgres-sink";
import type { LogSink } from "../service/src/prediction-log/stream";
import { PredictionLogWriter, createPool } from "../service/src/prediction-log/writer";

export interface WriterRow {
  readonly sink: string;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** Journal bytes drained (about the rows' uncompressed size). */
  readonly journalBytes: number;
}

export interface WriterBenchOptions {
  readonly databaseUrl: string;
  readonly s3: { readonly env: Readonly<Record<string, string>>; readonly bucket: string };
  readonly rows: number;
  /** One request's features, as the service logs them. */
  readonly features: Readonly<Record<string, unknown>>;
  readonly log: (line: string) => void;
}

const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

export async function measureWriters(options: WriterBenchOptions): Promise<WriterRow[]> {
  const rows: WriterRow[] = [];
  const pool = createPool(options.databaseUrl, "bench-writer");
  try {
    const sink = new PostgresSink({ pool });
    await sink.prepare();
    await sink.maintain();
    rows.push(await drainRate("PostgreSQL (COPY)", sink, options));
  } finally {
    await pool.end();
  }
  const client = s3ClientFromEnv(options.s3.env);
  const stateDir = await mkdtemp(join(tmpdir(), "bench-roll-"));
  try {
    const sink = new ParquetSink({ client, location: parseS3Url(`s3://${options.s3.bucket}/writer`), stream: "predictions", replica: "bench", stateDir });
    await sink.prepare();
    rows.push(await drainRate("S3 Parquet", sink, options));
  } finally {
    client.destroy();
    await rm(stateDir, { recursive: true, force: true });
  }
  return rows;
}

async function drainRate(name: string, sink: LogSink, options: WriterBenchOptions): Promise<WriterRow> {
  const spillDir = await mkdtemp(join(tmpdir(), "bench-journal-"));
  const writer = new PredictionLogWriter({ sink, replica: "bench", spillDir, logger: SILENT, spillMaxBytes: 16 * 2 ** 30, fsyncIntervalMs: 0 });
  try {
    for (let i = 0; i < options.rows; i += 10_000) {
      for (let j = i; j < Math.min(options.rows, i + 10_000); j++) writer.record(entry(options.features, j));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const journalBytes = writer.status().spill!.bytes;
    const started = performance.now();
    writer.start();
    if (!(await writer.flush(600_000))) throw new Error(`${name}: the writer did not drain ${options.rows} rows within 10 minutes`);
    const seconds = (performance.now() - started) / 1000;
    options.log(`writer ${name}: ${options.rows} rows (${(journalBytes / 2 ** 20).toFixed(0)} MiB of journal) in ${seconds.toFixed(2)} s = ${Math.round(options.rows / seconds)} rows/s`);
    return { sink: name, rows: options.rows, seconds, rowsPerSecond: options.rows / seconds, journalBytes };
  } finally {
    await writer.close(1000);
    await rm(spillDir, { recursive: true, force: true });
  }
}

function entry(features: Readonly<Record<string, unknown>>, index: number): PredictionLogEntry {
  const probability = (index % 100) / 100;
  return {
    predictionId: randomUUID(),
    modelName: "flight-delay",
    modelVersion: "3",
    variant: "stable",
    createdAt: new Date(),
    task: "binary",
    features,
    probability,
    label: probability >= 0.5 ? 1 : 0,
    value: null,
    latencyMs: 0.35,
    fallback: false,
  };
}
