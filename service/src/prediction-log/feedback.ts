/**
 * Ground truth joined with the prediction log: which logged prediction a label belongs to, which cell of the
 * confusion matrix it lands in, and what the error costs. The HTTP side is service/src/routes/feedback.ts.
 */
import type { Pool } from "pg";
import { FEEDBACK_COLUMNS as F, FEEDBACK_TABLE, PREDICTION_LOG_COLUMNS as P, PREDICTION_LOG_TABLE } from "../contract";
import type { FeedbackOutcome } from "./metrics";

/** What a false positive and a false negative cost (any unit: money, minutes; true answers cost 0). */
export interface CostMatrix {
  readonly falsePositive: number;
  readonly falseNegative: number;
}

/** The logged facts a label is judged against. */
export interface LoggedPrediction {
  readonly model: string;
  readonly version: string;
  readonly variant: string;
  readonly label: 0 | 1;
  readonly fallback: boolean;
}

export interface FeedbackItem {
  readonly predictionId: string;
  readonly actual: 0 | 1;
}

/** Logged predictions among the ids (lower-case uuids), by id. */
export async function findPredictions(pool: Pool, ids: readonly string[]): Promise<Map<string, LoggedPrediction>> {
  const found = new Map<string, LoggedPrediction>();
  if (ids.length === 0) return found;
  const { rows } = await pool.query<{ id: string; model: string; version: string; variant: string; label: number; fallback: boolean }>(
    `SELECT ${P.predictionId}::text AS id, ${P.modelName} AS model, ${P.modelVersion} AS version, ${P.variant} AS variant,
            ${P.label} AS label, ${P.fallback} AS fallback
       FROM ${PREDICTION_LOG_TABLE} WHERE ${P.predictionId} = ANY($1::uuid[])`,
    [ids],
  );
  for (const row of rows) {
    found.set(row.id, { model: row.model, version: row.version, variant: row.variant, label: row.label === 1 ? 1 : 0, fallback: row.fallback });
  }
  return found;
}

/**
 * Stores labels, first one per prediction wins (concurrent replicas included: the primary key decides).
 * Returns the ids stored by this call; the others already had a label.
 */
export async function storeFeedback(pool: Pool, items: readonly FeedbackItem[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO ${FEEDBACK_TABLE} (${F.predictionId}, ${F.actual})
     SELECT * FROM unnest($1::uuid[], $2::smallint[])
     ON CONFLICT (${F.predictionId}) DO NOTHING
     RETURNING ${F.predictionId}::text AS id`,
    [items.map((i) => i.predictionId), items.map((i) => i.actual)],
  );
  return new Set(rows.map((row) => row.id));
}

export function outcomeOf(predicted: 0 | 1, actual: 0 | 1): FeedbackOutcome {
  if (predicted === 1) return actual === 1 ? "tp" : "fp";
  return actual === 0 ? "tn" : "fn";
}

export function costOf(outcome: FeedbackOutcome, costs: CostMatrix): number {
  if (outcome === "fp") return costs.falsePositive;
  if (outcome === "fn") return costs.falseNegative;
  return 0;
}
