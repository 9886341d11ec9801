/**
 * What a task means, as one interface every task implements (binary.ts, multiclass.ts, regression.ts,
 * tensor.ts): which graph outputs serve it (checked at load), what a prediction is, its metrics, its /predict and
 * V2 answers, its warm-up check, its baseline and how ground truth is judged. Routes, the V2 codec, the model
 * manager, the shadow and /feedback ask the version's task instead of testing the task name.
 */
import type { FEEDBACK_OUTCOMES, Task } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import { allocate, floatValues, setElement, type GraphTensor, type HostTensor, type TensorMap } from "../model/tensors";
import type { ModelIdentity } from "../model/types";

export type ClassLabel = string | number;
export type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];
/** What `score()` returns: `width` values per record, row-major (probabilities, or the regression value). */
export type RowValues = Float32Array | Float64Array;

/** One answer for one record or tensor row, shared by every route, the prediction log and /feedback. */
/** A fresh prediction id (the service's: a random UUID). */
export type NewPredictionId = () => string;

export interface Prediction {
  readonly prediction_id: string;
  /** binary: P(positive class); multiclass: P(predicted class); null otherwise. */
  readonly probability: number | null;
  /** binary: 0 or 1; multiclass: the predicted class as the model names it; null otherwise. */
  readonly label: ClassLabel | null;
  /** regression: the predicted value; tensor: the L2 norm of the row of the first output; null for classifiers. */
  readonly value: number | null;
  readonly fallback: boolean;
}

/** Which graph outputs carry what the task serves, chosen at load. */
export interface TaskOutputs {
  /** Output `score()` reads per record: probabilities (classifiers) or the value (regression). */
  readonly rowOutput?: string;
  /** A classifier's label output: V2 answers carry the served decision in it, so they agree with /predict. */
  readonly labelOutput?: string;
  /** Values per record in rowOutput when the graph declares it; else learnt from the warm-up run. */
  readonly width?: number;
}

/** A model whose outputs cannot serve its task: refused at load, the message names the output and the fix. */
export class ModelContractError extends Error {
  override readonly name = "ModelContractError";
}

/** What binding a task to a loaded version needs. */
export interface VersionFacts {
  readonly identity: Pick<ModelIdentity, "tags" | "metrics">;
  /** The version has a column contract /predict can validate (signature columns or a stored feature list). */
  readonly tabular: boolean;
  readonly outputs: TaskOutputs;
  /** Values per record in the row output, measured at warm-up (0 for tensor models). */
  readonly width: number;
  /** Class labels from the model (metadata or the classifier node); default 0..K-1. */
  readonly classLabels?: readonly ClassLabel[];
  /** prediction_value buckets from the training distribution (regression). */
  readonly valueBuckets?: readonly number[];
  readonly graphOutputs: readonly GraphTensor[];
  /** The configured overload answer (FALLBACK_LABEL / FALLBACK_PROBABILITY); binary models use it. */
  readonly fallback?: { readonly label: 0 | 1; readonly probability: number };
}

export interface ModelLabels {
  readonly model: string;
  readonly version: string;
  readonly variant: string;
}

/** A version's metric series, resolved once (the hot path never hashes labels). */
export interface TaskSeries {
  readonly latency: HistogramSeries;
  readonly fallback: CounterSeries;
  readonly error: CounterSeries;
}

/** The served version, as /predict and /predict/batch name it in their answers. */
export interface ServedIdentity {
  readonly name: string;
  readonly version: string;
}

/** A task bound to one loaded version. */
export interface ServedTask {
  readonly task: Task;
  /** /predict and /predict/batch answer for this version (columns in, one prediction per record out). */
  readonly tabular: boolean;
  /** binary: the decision threshold on P(positive). */
  readonly threshold?: number;
  /** Classifiers: labels in probability-column order. */
  readonly classes?: readonly ClassLabel[];
  /** Fails the load when warm-up rows are not what the task serves (probabilities outside [0, 1], ...). */
  checkWarmUp(rows: RowValues, n: number): void;
  series(metrics: ServiceMetrics, labels: ModelLabels): TaskSeries;
  /** Predictions (metrics counted) from `score()` rows, each named by `newId()`. */
  fromRows(rows: RowValues, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[];
  /** Predictions (metrics counted) from a tensor run's outputs, `n` rows, each named by `newId()`. */
  fromOutputs(outputs: TensorMap, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[];
  /** The tensors an inference answer carries: the graph's, with a classifier's label output set to the served decision. */
  answerTensors(outputs: TensorMap, predictions: readonly Prediction[]): TensorMap;
  /** The overload answer, when one is configured for this task. */
  readonly fallback?: Omit<Prediction, "prediction_id">;
  /** The overload answer as output tensors; undefined when a requested output cannot be made up (503 instead). */
  fallbackTensors?(names: readonly string[], rows: number): TensorMap | undefined;
  /** Request-level options /predict accepts for this task (e.g. top_k); a message when they are wrong. */
  checkQuery?(query: unknown): string | undefined;
  /**
   * The /predict answer: an object the route's schema serializes (binary, the hot path), or JSON text that is
   * sent as is (the other tasks, whose answers have other shapes).
   */
  answerOne(prediction: Prediction, identity: ServedIdentity, variant: string, query: unknown): object | string;
  answerMany(predictions: readonly Prediction[], identity: ServedIdentity, variant: string, query: unknown): object | string;
  /** Registration-time baselines exported as gauges: hit rate (classifiers) or MAE (regression). */
  baseline(metrics: Readonly<Record<string, number>>, baselineMetric: string): { readonly hitRate?: number; readonly mae?: number };
}

/** The logged facts a label is judged against (read from the prediction log). */
export interface LoggedPrediction {
  readonly model: string;
  readonly version: string;
  readonly variant: string;
  readonly task: Task;
  readonly label: ClassLabel | null;
  readonly value: number | null;
  readonly fallback: boolean;
}

/** Business cost per error: the binary cost matrix, a misclassification (multiclass), a unit of |error| (regression). */
export interface BusinessCosts {
  readonly falsePositive: number;
  readonly falseNegative: number;
  readonly misclassification: number;
  readonly perUnitError: number;
}

export interface FeedbackContext {
  readonly costs: BusinessCosts;
  /** The version's class labels while it is known to this replica: actual labels outside them are refused. */
  readonly classes?: readonly ClassLabel[];
}

/** A label judged against its prediction: the counters it moves and what is stored. */
export interface Judgement {
  readonly outcome: FeedbackOutcome;
  readonly cost: number;
  /** Multiclass confusion cell (classes as strings, as metric labels are). */
  readonly confusion?: { readonly actual: string; readonly predicted: string };
  readonly absoluteError?: number;
  readonly squaredError?: number;
  /** Stored in the feedback table: `actual` (0/1, or the class as the model names it) or `actual_value` (regression). */
  readonly actual: string | number | null;
  readonly actualValue: number | null;
}

export interface TaskDefinition {
  readonly task: Task;
  /** Which outputs serve the task; throws ModelContractError naming the output and the fix. */
  planOutputs(outputs: readonly GraphTensor[], classLabels: readonly ClassLabel[] | undefined): TaskOutputs;
  bind(facts: VersionFacts): ServedTask;
  /** `actual` for a logged prediction of this task: a Judgement, or a message saying what `actual` must be. */
  judge(logged: LoggedPrediction, actual: unknown, context: FeedbackContext): Judgement | string;
}

// --- helpers shared by the task modules -------------------------------------------------------------------------

/** Output names classifier exporters use for per-class probabilities (Modelport, skl2onnx, onnxmltools, others). */
export const PROBABILITY_OUTPUTS = ["probabilities", "output_probability", "probability", "probs"] as const;
/** Output names classifier exporters use for the predicted label. */
export const LABEL_OUTPUTS = ["label", "output_label", "labels", "predicted_label"] as const;

export const isFloat = (t: GraphTensor) => t.type === "float32" || t.type === "float64" || t.type === "float16";
export const isNumeric = (t: GraphTensor) => t.type !== "string" && t.type !== "bool";

/** Values per row a graph tensor declares: 1 for [N], the static dim for [N, K], undefined when dynamic or other. */
export function declaredWidth(t: GraphTensor): number | undefined {
  if (t.dims.length === 1) return 1;
  if (t.dims.length === 2 && typeof t.dims[1] === "number" && t.dims[1] >= 0) return t.dims[1];
  return undefined;
}

export function describe(outputs: readonly GraphTensor[]): string {
  return outputs.map((o) => `${o.name} (${o.type}[${o.dims.join(", ")}])`).join(", ") || "none";
}

/** A row output's values as a float array (what classifier and regression graphs give already, else converted). */
export function rowValues(tensor: HostTensor): RowValues {
  return floatValues(tensor);
}

/** The classifier's label tensor carrying `labels[index]` per row, in the label output's own element type. */
export function decisionTensor(like: HostTensor | undefined, type: GraphTensor["type"], labels: readonly ClassLabel[], indexes: readonly number[]): HostTensor {
  const n = indexes.length;
  const data = allocate(type, n);
  for (let i = 0; i < n; i++) {
    const label = labels[indexes[i]!] ?? indexes[i]!;
    const value = type === "string" ? String(label) : typeof label === "number" ? label : indexes[i]!;
    setElement(data, type, i, value);
  }
  const dims = like && like.dims.length > 1 ? [n, ...like.dims.slice(1)] : [n];
  return { type, dims, data };
}

export function counterSeries(metrics: ServiceMetrics, labels: ModelLabels, outcome: string): CounterSeries {
  return metrics.predictions.labels({ ...labels, outcome });
}

/** Common part of every task's series. */
export function baseSeries(metrics: ServiceMetrics, labels: ModelLabels): TaskSeries {
  return {
    latency: metrics.latency.labels(labels),
    fallback: counterSeries(metrics, labels, "fallback"),
    error: counterSeries(metrics, labels, "error"),
  };
}

/** Class labels as metric label values, or undefined past the cardinality cap (the counters are then not emitted). */
export function classSeries(metrics: ServiceMetrics, labels: ModelLabels, classes: readonly ClassLabel[], cap: number): (CounterSeries | undefined)[] {
  if (classes.length > cap) return classes.map(() => undefined);
  return classes.map((c) => metrics.predictionClasses.labels({ ...labels, class: String(c) }));
}
