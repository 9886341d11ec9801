/**
 * Model tasks: what a model version's outputs mean, and so which routes answer for it, which metrics it emits,
 * which feedback it takes, and which dashboards, alerts and drift statistics follow it. Defined once here; the
 * rule that reads a version's task (tag, MLmodel metadata, else inferred from the graph outputs) lives in
 * service/src/model/, and everything else asks the loaded version for its task instead of guessing.
 */
export const TASKS = ["binary", "multiclass", "regression", "tensor"] as const;
export type Task = (typeof TASKS)[number];

/** Tasks answered by /predict and /predict/batch (named columns in, one prediction per record out). */
export const TABULAR_TASKS = ["binary", "multiclass", "regression"] as const satisfies readonly Task[];
export type TabularTask = (typeof TABULAR_TASKS)[number];

/** Classifiers: a predicted class and per-class probabilities. */
export const CLASSIFICATION_TASKS = ["binary", "multiclass"] as const satisfies readonly Task[];

/**
 * Model-version tag (MLflow registry) or MLmodel `metadata` key that names a version's task explicitly.
 * Without it the task is inferred from the graph outputs (documented where the rule lives).
 */
export const TASK_TAG = "modelport.task";

/**
 * MLmodel `metadata` keys Modelport reads (`mlflow.onnx.log_model(..., metadata={...})`): what an exporter cannot
 * say in the graph itself. Lists may be given as YAML/JSON lists or as a JSON string (registry tags are strings).
 */
export const MODEL_METADATA = {
  /** binary | multiclass | regression | tensor (also read from the model-version tag of the same name). */
  task: TASK_TAG,
  /** Class labels in the order of the probability columns, ints or strings; else the classifier node's classlabels_*. */
  classLabels: "modelport.class_labels",
  /** Column names feeding an [N, F] graph input, in tensor order (named columns for a tensor-based signature). */
  featureColumns: "modelport.feature_columns",
  /** Regression: ascending upper bounds of the prediction_value histogram, from the training target distribution. */
  valueBuckets: "modelport.value_buckets",
} as const;

export function isTask(value: unknown): value is Task {
  return typeof value === "string" && (TASKS as readonly string[]).includes(value);
}

export function isTabularTask(task: Task): task is TabularTask {
  return (TABULAR_TASKS as readonly string[]).includes(task);
}
