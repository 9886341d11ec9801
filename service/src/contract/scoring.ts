/**
 * Batch scoring (`npm run score`, the BatchScoringJob construct): the columns a scored file carries besides the
 * input's, the rejects file's columns, and the environment a Kubernetes Indexed Job gives each pod. The
 * prediction columns are named as the drift job's prediction column of each task (DRIFT_COLUMNS), so a scored
 * file is current data for `npm run drift` as it is.
 */
import type { TabularTask } from "./tasks";

/** Columns every scored row gets, whatever the task. */
export const SCORED_COLUMNS = {
  /** Deterministic per (model, version, input URI, row of the input): re-scoring a shard gives the same ids. */
  predictionId: "prediction_id",
  model: "model",
  modelVersion: "model_version",
} as const;

/**
 * Prediction columns per task (a tensor model is not scored from tables). binary: P(positive class) and the
 * label at the version's threshold, as /predict answers; multiclass: the predicted class (as text), its
 * probability, and one `probability_<class>` column per class; regression: the predicted value.
 */
export const SCORED_TASK_COLUMNS = {
  binary: { probability: "probability", label: "label" },
  multiclass: { label: "label", probability: "probability", classProbabilityPrefix: "probability_" },
  regression: { value: "value" },
} as const satisfies Record<TabularTask, Record<string, string>>;

/** The rejects file: where each rejected row came from and why, then the row's input columns as text. */
export const REJECT_COLUMNS = {
  input: "input",
  /** 0-based data row of the input file (the header and blank lines not counted). */
  row: "row",
  reason: "reason",
  /** The source text of a row that could not be parsed at all (a CSV row with too many fields, a line that is not JSON). */
  raw: "raw",
} as const;

/** `{shard}` in --output / --rejects is replaced by the shard index (zero-padded), so each shard writes its own file. */
export const SHARD_PLACEHOLDER = "{shard}";
