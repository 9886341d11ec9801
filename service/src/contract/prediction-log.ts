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
  task: "task", // text NOT NULL: one of TASKS (migration 2; rows written before it read 'binary')
  features: "features", // jsonb: the request record as validated
  probability: "probability", // double precision NULL: binary P(positive), multiclass P(predicted class)
  label: "label", // text NULL: binary "0"/"1" (migration 2 turned the old smallint 0/1 into "0"/"1"), multiclass class label
  value: "value", // double precision NULL: regression value, tensor output norm
  latencyMs: "latency_ms", // real
  fallback: "fallback", // boolean
  replica: "replica", // text: pod name, for per-replica ordering
  seq: "seq", // bigint: per-replica sequence number
} as const;

export const FEEDBACK_COLUMNS = {
  predictionId: "prediction_id",
  actual: "actual", // text NULL: the true class label (binary "0"/"1"; migration 2 turned the old smallint into text)
  actualValue: "actual_value", // double precision NULL: the observed value (regression)
  receivedAt: "received_at",
} as const;

/**
 * The object-storage sink (`PREDICTION_LOG_URL=s3://bucket/prefix`): Parquet files per replica under
 * `<prefix>/<stream>/model=…/version=…/date=YYYY-MM-DD/hour=HH/<replica>-<first seq>.parquet` (Hive layout, UTC).
 * Prediction files hold PREDICTION_LOG_COLUMNS; feedback files hold FEEDBACK_COLUMNS plus replica and seq (the
 * feedback stream is ordered per replica too). The Glue catalog construct and the drift job's Parquet reader
 * read this layout.
 */
export const PARQUET_LOG = {
  streams: { predictions: "predictions", feedback: "feedback" },
  /** Partition keys, in path order. */
  partitions: { model: "model", version: "version", date: "date", hour: "hour" },
  /** Feedback-stream columns besides FEEDBACK_COLUMNS. */
  feedbackStreamColumns: { replica: "replica", seq: "seq" },
  /** Version partition of feedback whose prediction this replica did not log recently (joined by prediction_id). */
  unknownVersion: "_unknown",
  extension: ".parquet",
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
