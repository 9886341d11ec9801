/**
 * Ground truth joined with the prediction log: which logged prediction a label belongs to (its task, label and
 * value), and storing the label, first one per prediction. How a label is judged (confusion cell, error, cost) is
 * the task's (service/src/tasks/); the HTTP side is service/src/routes/feedback.ts. Where predictions are looked up
 * and labels stored is a FeedbackStore: PostgreSQL here, the object-storage sink's stream in object-feedback.ts.
 */
import type { Pool } from "pg";
import { FEEDBACK_COLUMNS as F, FEEDBACK_TABLE, PREDICTION_LOG_COLUMNS as P, PREDICTION_LOG_TABLE, isTask } from "../contract";
import type { BusinessCosts, LoggedPrediction as JudgedPrediction } from "../tasks/task";

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

/** The logged facts a label is judged against (what the task judges, plus where the answer can be trusted). */
export interface LoggedPrediction extends JudgedPrediction {
  /** binary "0"/"1", multiclass the predicted class; null for regression and tensor. */
  readonly label: string | null;
  readonly probability: number | null;
  /**
   * False when the store cannot look predictions up (the object-storage sink, for a prediction another replica
   * made or one older than its recent-predictions index): the label is stored, joined by prediction_id at query
   * time, and not counted in the live feedback metrics.
   */
  readonly verified: boolean;
}

/** Ground truth: a class label (binary "0"/"1", multiclass the class) or an observed value (regression). */
export type FeedbackActual = { readonly label: string } | { readonly value: number };

export interface FeedbackItem {
  readonly predictionId: string;
  readonly actual: FeedbackActual;
}

/** Where /feedback looks predictions up and stores labels (PostgreSQL, or the object-storage sink's stream). */
export interface FeedbackStore {
  /** Logged predictions among the ids (lower-case uuids), by id. */
  find(ids: readonly string[]): Promise<Map<string, LoggedPrediction>>;
  /** Stores labels, first one per prediction wins; returns the ids stored by this call (the others had one). */
  store(items: readonly FeedbackItem[]): Promise<Set<string>>;
}

export class PostgresFeedbackStore implements FeedbackStore {
  constructor(private readonly pool: Pool) {}

  find(ids: readonly string[]): Promise<Map<string, LoggedPrediction>> {
    return findPredictions(this.pool, ids);
  }

  store(items: readonly FeedbackItem[]): Promise<Set<string>> {
    return storeFeedback(this.pool, items);
  }
}

interface LoggedRow {
  id: string;
  model: string;
  version: string;
  variant: string;
  task: string;
  label: string | null;
  probability: number | null;
  value: number | null;
  fallback: boolean;
}

/** Logged predictions among the ids (lower-case uuids), by id. */
export async function findPredictions(pool: Pool, ids: readonly string[]): Promise<Map<string, LoggedPrediction>> {
  const found = new Map<string, LoggedPrediction>();
  if (ids.length === 0) return found;
  const { rows } = await pool.query<LoggedRow>(
    `SELECT ${P.predictionId}::text AS id, ${P.modelName} AS model, ${P.modelVersion} AS version, ${P.variant} AS variant,
            ${P.task} AS task, ${P.label} AS label, ${P.probability} AS probability, ${P.value} AS value, ${P.fallback} AS fallback
       FROM ${PREDICTION_LOG_TABLE} WHERE ${P.predictionId} = ANY($1::uuid[])`,
    [ids],
  );
  for (const row of rows) {
    const task = isTask(row.task) ? row.task : "binary";
    found.set(row.id, { ...row, task, verified: true });
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
    `INSERT INTO ${FEEDBACK_TABLE} (${F.predictionId}, ${F.actual}, ${F.actualValue})
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::double precision[])
     ON CONFLICT (${F.predictionId}) DO NOTHING
     RETURNING ${F.predictionId}::text AS id`,
    [items.map((i) => i.predictionId), items.map((i) => actualLabel(i.actual)), items.map((i) => actualValue(i.actual))],
  );
  return new Set(rows.map((row) => row.id));
}

export function actualLabel(actual: FeedbackActual): string | null {
  return "label" in actual ? actual.label : null;
}

export function actualValue(actual: FeedbackActual): number | null {
  return "value" in actual ? actual.value : null;
}
