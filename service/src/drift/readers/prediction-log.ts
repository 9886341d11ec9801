/**
 * Current data from the prediction log: one model over a time window, streamed through a server-side cursor
 * (DECLARE ... CURSOR / FETCH inside a read-only transaction), so a window of millions of predictions never
 * sits in memory. Feature values come out of the jsonb `features` as text (->>), one output column per feature;
 * the summaries parse them, so a non-numeric value in a numeric feature is counted, not fatal. The feedback
 * table is left-joined for the target (actual) where ground truth has arrived.
 */
import { Client } from "pg";
import {
  FEEDBACK_COLUMNS as F,
  FEEDBACK_TABLE,
  PREDICTION_LOG_COLUMNS as P,
  PREDICTION_LOG_TABLE,
} from "../../contract";
import { DriftInputError } from "../errors";
import type { ColumnBatch } from "./batch";
import { readParquetPredictionLog } from "./parquet-log";

/** Names the log's prediction and ground truth get as columns (the same names reference.csv uses). */
export const PREDICTION_COLUMN = "probability";
export const TARGET_COLUMN = "actual";

export interface PredictionLogWindow {
  readonly connectionString: string;
  readonly model: string;
  readonly start: Date;
  readonly end: Date;
  /** Variants to include. @default stable and canary (shadow predictions repeat the same inputs) */
  readonly variants?: readonly string[];
  readonly features: readonly string[];
  /** Rows per FETCH. @default 10000 */
  readonly fetchRows?: number;
}

export const DEFAULT_VARIANTS = ["stable", "canary"] as const;

/** The log at PREDICTION_LOG_URL: PostgreSQL, or (s3://bucket/prefix) the object-storage sink's Parquet files. */
export function openPredictionLog(window: PredictionLogWindow): AsyncGenerator<ColumnBatch> {
  if (window.connectionString.startsWith("s3://")) return readParquetPredictionLog({ ...window, url: window.connectionString });
  return readPredictionLog(window);
}

export async function* readPredictionLog(window: PredictionLogWindow): AsyncGenerator<ColumnBatch> {
  const client = new Client({ connectionString: window.connectionString, application_name: "modelport-drift" });
  try {
    await client.connect();
  } catch (error) {
    throw new DriftInputError(`cannot connect to the prediction log: ${(error as Error).message}`, { cause: error });
  }
  const lit = (value: string) => client.escapeLiteral(value);
  const names = [...window.features, PREDICTION_COLUMN, TARGET_COLUMN];
  const select = [
    ...window.features.map((name) => `p.${P.features} ->> ${lit(name)}`),
    // A fallback answer is not the model's output: keep the row's features, drop its probability.
    `CASE WHEN p.${P.fallback} THEN NULL ELSE p.${P.probability} END`,
    `f.${F.actual}`,
  ];
  const variants = window.variants ?? DEFAULT_VARIANTS;
  const sql = `DECLARE drift_window NO SCROLL CURSOR FOR
    SELECT ${select.join(", ")}
    FROM ${PREDICTION_LOG_TABLE} p
    LEFT JOIN ${FEEDBACK_TABLE} f ON f.${F.predictionId} = p.${P.predictionId}
    WHERE p.${P.modelName} = ${lit(window.model)}
      AND p.${P.createdAt} >= ${lit(window.start.toISOString())}::timestamptz
      AND p.${P.createdAt} < ${lit(window.end.toISOString())}::timestamptz
      AND p.${P.variant} IN (${variants.map(lit).join(", ")})`;
  const fetch = `FETCH ${window.fetchRows ?? 10_000} FROM drift_window`;
  try {
    await client.query("BEGIN READ ONLY");
    await client.query(sql);
    for (;;) {
      const result = await client.query<unknown[]>({ text: fetch, rowMode: "array" });
      const rows = result.rows;
      if (rows.length === 0) break;
      const columns = names.map((_, c) => {
        const values = new Array<unknown>(rows.length);
        for (let r = 0; r < rows.length; r++) values[r] = rows[r][c];
        return values;
      });
      const index = new Map(names.map((name, c) => [name, columns[c]]));
      yield { rows: rows.length, malformed: 0, names, column: (name) => index.get(name) };
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    if (error instanceof DriftInputError) throw error;
    throw new DriftInputError(`reading the prediction log failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
