/**
 * Ground truth joined with the prediction log: which logged prediction a label belongs to (its task, label and
 * value), and storing the label, first one per prediction. How a label is judged (confusion cell, error, cost) is
 * the task's (service/src/tasks/); the HTTP side is service/src/routes/feedback.ts.
 *
 * Rows are read and written by column name through jsonb (`to_jsonb(row)`, `jsonb_populate_recordset`), so the
 * same statements work on the first schema (binary only: `label smallint`, `actual smallint`) and on the
 * task-generic one (`task`, `label text`, `value`, `actual text`, `actual_value`): a column the table lacks reads
 * as absent (task absent = binary), and a key the table has no column for is not written.
 */
import type { Pool } from "pg";
import { FEEDBACK_COLUMNS as F, FEEDBACK_TABLE, PREDICTION_LOG_COLUMNS as P, PREDICTION_LOG_TABLE, isTask } from "../contract";
import type { BusinessCosts, ClassLabel, LoggedPrediction } from "../tasks/task";

export type { LoggedPrediction };

/**
 * What errors cost (any unit: money, minutes; right answers cost 0): the binary cost matrix, a multiclass
 * misclassification, and a unit of absolute error of a regressor (both default to 1).
 */
export interface CostMatrix {
  readonly falsePositive: number;
  readonly falseNegative: number;
  readonly misclassification?: number;
  readonly perUnitError?: number;
}

export function businessCosts(costs: CostMatrix): BusinessCosts {
  return {
    falsePositive: costs.falsePositive,
    falseNegative: costs.falseNegative,
    misclassification: costs.misclassification ?? 1,
    perUnitError: costs.perUnitError ?? 1,
  };
}

/** The columns of the task-generic feedback table this module writes (contract names, plus the regression value). */
const ACTUAL_VALUE = "actual_value";
const TASK = "task";
const VALUE = "value";

export interface FeedbackItem {
  readonly predictionId: string;
  /** 0/1 (binary) or the class (multiclass); null for a regressor, whose label is `actualValue`. */
  readonly actual: string | number | null;
  readonly actualValue: number | null;
}

/** Logged predictions among the ids (lower-case uuids), by id. */
export async function findPredictions(pool: Pool, ids: readonly string[]): Promise<Map<string, LoggedPrediction>> {
  const found = new Map<string, LoggedPrediction>();
  if (ids.length === 0) return found;
  const { rows } = await pool.query<{ id: string; row: Record<string, unknown> }>(
    `SELECT p.${P.predictionId}::text AS id, to_jsonb(p) - '${P.features}' AS row
       FROM ${PREDICTION_LOG_TABLE} p WHERE p.${P.predictionId} = ANY($1::uuid[])`,
    [ids],
  );
  for (const { id, row } of rows) {
    const task = isTask(row[TASK]) ? row[TASK] : "binary";
    const label = row[P.label];
    const value = row[VALUE];
    found.set(id, {
      model: String(row[P.modelName]),
      version: String(row[P.modelVersion]),
      variant: String(row[P.variant]),
      task,
      label: typeof label === "string" || typeof label === "number" ? (label as ClassLabel) : null,
      value: typeof value === "number" ? value : null,
      fallback: row[P.fallback] === true,
    });
  }
  return found;
}

/**
 * Stores labels, first one per prediction wins (concurrent replicas included: the primary key decides).
 * Returns the ids stored by this call; the others already had a label.
 */
export async function storeFeedback(pool: Pool, items: readonly FeedbackItem[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const rows = items.map((i) => ({ [F.predictionId]: i.predictionId, [F.actual]: i.actual, [ACTUAL_VALUE]: i.actualValue }));
  const { rows: stored } = await pool.query<{ id: string }>(
    `INSERT INTO ${FEEDBACK_TABLE}
     SELECT * FROM jsonb_populate_recordset(NULL::${FEEDBACK_TABLE},
       (SELECT jsonb_agg(item || jsonb_build_object('${F.receivedAt}', now())) FROM jsonb_array_elements($1::jsonb) AS item))
     ON CONFLICT (${F.predictionId}) DO NOTHING
     RETURNING ${F.predictionId}::text AS id`,
    [JSON.stringify(rows)],
  );
  return new Set(stored.map((row) => row.id));
}
