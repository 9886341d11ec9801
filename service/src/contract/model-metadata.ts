/**
 * Keys of an MLflow model's MLmodel `metadata` (what `mlflow.onnx.log_model(..., metadata={...})` writes)
 * that Modelport reads besides the task (TASK_TAG in tasks.ts).
 */

/**
 * Regressors: upper bounds of the `prediction_value` histogram's buckets, an ascending list of numbers from
 * the training distribution of the model's predictions (the demo regressor stores their 1st..99th
 * percentiles), so each model's histogram resolves its own range.
 */
export const VALUE_BUCKETS_KEY = "modelport.value_buckets";
