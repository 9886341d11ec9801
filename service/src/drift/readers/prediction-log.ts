/**
 * Current data from the prediction log: one model over a time window, streamed through a server-side cursor
 * (DECLARE ... CURSOR / FETCH inside a read-only transaction), so a window of millions of predictions never
 * sits in memory. Feature values come out of the jsonb `features` as text (->>), one output column per feature;
 * the summaries parse them, so a non-numeric value in a numeric feature is counted, not fatal. The model's answer
 * and the feedback's ground truth become the task's prediction and target columns (DRIFT_COLUMNS): binary the
 * probability and the 0/1 actual, multiclass the predicted label and the labelled class, regression the value and
 * actual_value, tensor the value (the output norm) and no target. The feedback table is left-joined where ground
 * truth has arrived.
 */
import { PostgresClient, postgresClientConfig } from "../../postgres/connection";
import {
  DRIFT_COLUMNS,
  FEEDBACK_COLUMNS,
  FEEDBACK_TABLE,
  PREDICTION_LOG_COLUMNS,
  PREDICTION_LOG_TABLE,
  type Task,
} from "../../contract";

import { DriftInputError } from "../errors";
import type { ColumnBatch } from "./batch";
import { readParquetPredictionLog } from "./parquet-log";

const P = PREDICTION_LOG_COLUMNS;
const F = FEEDBACK_COLUMNS;

/** Log columns holding each task's answer and ground truth (the PostgreSQL and the Parquet log alike). */
export const LOGGED_COLUMNS: Readonly<Record<Task, { readonly prediction: string; readonly target: string | null }>> = {
  binary: { prediction: P.probability, target: F.actual },
  multiclass: { prediction: P.label, target: F.actual },
  regression: { prediction: P.value, target: F.actualValue },
  tensor: { prediction: P.value, target: null },
};

export interface PredictionLogWindow {
  readonly connectionString: string;
  readonly model: string;
  /** The model's task: which logged columns are its prediction and target. @default "binary" */
  readonly task?: Task;
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
  const client = new PostgresClient({ ...postgresClientConfig(window.connectionString), application_name: "modelport-drift" });
  try {
    await client.connect();
  } catch (error) {
    throw new DriftInputError(`cannot connect to the prediction log: ${(error as Error).message}`, { cause: error });
  }
  const lit = (value: string) => client.escapeLiteral(value);
  const task = window.task ?? "binary";
  const columns = DRIFT_COLUMNS[task];
  const logged = LOGGED_COLUMNS[task];
  const names = [...window.features, columns.prediction.name, ...(columns.target ? [columns.target.name] : [])];
  const select = [
    ...window.features.map((name) => `p.${P.features} ->> ${lit(name)}`),
    // A fallback answer is not the model's output, nor is one from a version of another task: keep the row's
    // features, drop its answer. Rows logged before the task column existed were all binary.
    `CASE WHEN p.${P.fallback} OR COALESCE(p.${P.task}, 'binary') <> ${lit(task)} THEN NULL ELSE p.${logged.prediction} END`,
    ...(logged.target ? [`f.${logged.target}`] : []),
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
