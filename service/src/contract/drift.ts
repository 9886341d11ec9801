import type { Task } from "./tasks";

/** How a drift column is compared: numeric (KS / Wasserstein) or categorical (chi-squared / Jensen-Shannon). */
export type DriftColumnKind = "numeric" | "categorical";

export interface DriftOutputColumn {
  /** Column name in a reference table, in report.json and in drift_column_* {column}. */
  readonly name: string;
  readonly kind: DriftColumnKind;
  /** What the column holds, for reports and dashboards. */
  readonly description: string;
}

/**
 * The columns the drift job compares besides the features, per task: the model's answer (prediction drift) and
 * the ground truth (target drift). A reference table for a model of that task carries these columns; from the
 * prediction log they are read out of the entry's probability, label or value and the feedback's actual or
 * actual_value (see PREDICTION_LOG_COLUMNS / FEEDBACK_COLUMNS). Tensor models take no ground truth.
 */
export const DRIFT_COLUMNS: Readonly<Record<Task, { readonly prediction: DriftOutputColumn; readonly target: DriftOutputColumn | null }>> = {
  binary: {
    prediction: { name: "probability", kind: "numeric", description: "positive-class probability" },
    target: { name: "actual", kind: "numeric", description: "labelled class, 0 or 1" },
  },
  multiclass: {
    prediction: { name: "label", kind: "categorical", description: "predicted class" },
    target: { name: "actual", kind: "categorical", description: "labelled class" },
  },
  regression: {
    prediction: { name: "value", kind: "numeric", description: "predicted value" },
    target: { name: "actual", kind: "numeric", description: "observed value" },
  },
  tensor: {
    prediction: { name: "output_norm", kind: "numeric", description: "L2 norm of the first output" },
    target: null,
  },
};
