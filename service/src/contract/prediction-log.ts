import type { Task } from "./tasks";

/**
 * The prediction log's tables: written by the service, read by the drift job and by analysts. Column names
 * live here once; migrations (service/src/prediction-log/) create exactly these.
 */
export const PREDICTION_LOG_TABLE = "prediction_log";
export const FEEDBACK_TABLE = "prediction_feedback";

export const PREDICTION_LOG_COLUMNS = {
  predictionId: "prediction_id", // uuid, unique
  modelName: "model_name", // text
  modelVersion: "model_version", // text (registry versions are strings)
  variant: "variant", // text: stable | canary | shadow
  createdAt: "created_at", // timestamptz, partition key
  features: "features", // jsonb: the request record as validated
  probability: "probability", // double precision
  label: "label", // smallint 0/1
  latencyMs: "latency_ms", // real
  fallback: "fallback", // boolean
  replica: "replica", // text: pod name, for per-replica ordering
  seq: "seq", // bigint: per-replica sequence number
} as const;

export const FEEDBACK_COLUMNS = {
  predictionId: "prediction_id",
  actual: "actual", // smallint 0/1
  receivedAt: "received_at",
} as const;

/**
 * Columns of the task-generic log (prediction-log migration 2): the answering version's task, the regression
 * value or tensor output norm, and the regression ground truth; label and actual become text there (a class as
 * the model names it). The drift job reads them. Kept apart from PREDICTION_LOG_COLUMNS / FEEDBACK_COLUMNS, whose
 * every column the writer fills today, until the writer writes these too; then they move there.
 */
export const TASK_LOG_COLUMNS = {
  task: "task", // text: one of TASKS
  value: "value", // double precision: regression the predicted value, tensor the first output's L2 norm
} as const;
export const FEEDBACK_VALUE_COLUMNS = {
  actualValue: "actual_value", // double precision: regression, the observed value
} as const;

/** One logged prediction, as the service hands it to the prediction log (off the request path). */
export interface PredictionLogEntry {
  readonly predictionId: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly variant: string;
  readonly createdAt: Date;
  /** Task of the version that answered; decides which of probability, label and value are set. */
  readonly task: Task;
  readonly features: Readonly<Record<string, unknown>>;
  /** binary: P(positive class); multiclass: P(predicted class); null for regression and tensor. */
  readonly probability: number | null;
  /** binary: 0 or 1; multiclass: the predicted class label (as the model names it); null otherwise. */
  readonly label: string | number | null;
  /** regression: the predicted value; tensor: the L2 norm of the first output row; null for classifiers. */
  readonly value: number | null;
  readonly latencyMs: number;
  readonly fallback: boolean;
}
