/**
 * PromQL builders shared by the alert rules and the dashboards, so "error ratio" or "hit rate" means the
 * same query in a page and on the panel the on-call engineer opens next. Metric names, label values and
 * routes come from the service contract; a renamed metric breaks the build here, not a dashboard at 3 AM.
 */
import {
  DCGM_METRICS,
  DRIFT_COLUMN_LABEL,
  DRIFT_JOB_NAME,
  DRIFT_METHOD_LABEL,
  FEEDBACK_OUTCOMES,
  GRPC_METHODS,
  METRICS,
  MODEL_LABELS,
  PREDICTION_OUTCOMES,
  ROUTES,
  VARIANTS,
  type Task,
} from "../service/src/contract";

type PredictionOutcome = (typeof PREDICTION_OUTCOMES)[number];
type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];
type Variant = (typeof VARIANTS)[number];

const [MODEL, VERSION, VARIANT] = MODEL_LABELS;

/** Label names of the contract's metrics (see the doc comment of each metric) and those the scrape adds. */
export const LABEL = {
  model: MODEL,
  version: VERSION,
  variant: VARIANT,
  outcome: "outcome",
  alias: "alias",
  runId: "run_id",
  reason: "reason",
  result: "result",
  route: "route",
  method: "method",
  statusCode: "status_code",
  column: DRIFT_COLUMN_LABEL,
  driftMethod: DRIFT_METHOD_LABEL,
  dataset: "dataset",
  le: "le",
  /** prediction_class_total: the predicted class. */
  predictedClass: "class",
  /** model_confusion_total: the labelled class and the predicted one. */
  actual: "actual",
  predicted: "predicted",
  /** model_info: the version's task. */
  task: "task",
  // Added by the scrape (job, instance) and by Kubernetes service discovery (namespace, pod).
  job: "job",
  instance: "instance",
  namespace: "namespace",
  pod: "pod",
  // DCGM exporter labels.
  gpu: "gpu",
  gpuUuid: "UUID",
  hostname: "Hostname",
  gpuModel: "modelName",
} as const;

// Label values, typed against the contract's unions so a renamed value fails type checking.
export const OUTCOME = {
  positive: "positive",
  negative: "negative",
  error: "error",
  fallback: "fallback",
} as const satisfies Record<string, PredictionOutcome>;
/** Tasks whose feedback is right or wrong (a hit rate); regression feedback is an error size instead. */
export type ClassificationTask = Extract<Task, "binary" | "multiclass">;
/** Feedback outcomes that count as right, and all labelled outcomes, per classification task. */
export const CORRECT_FEEDBACK: Readonly<Record<ClassificationTask, readonly FeedbackOutcome[]>> = { binary: ["tp", "tn"], multiclass: ["correct"] };
export const LABELLED_FEEDBACK: Readonly<Record<ClassificationTask, readonly FeedbackOutcome[]>> = {
  binary: ["tp", "fp", "tn", "fn"],
  multiclass: ["correct", "incorrect"],
};
/** A regression label: its error is in the absolute and squared error sums. */
export const OBSERVED_FEEDBACK: FeedbackOutcome = "observed";
export const STABLE: Variant = "stable";
export const CANARY: Variant = "canary";
export const SHADOW: Variant = "shadow";
/** model_reloads_total{result}: see METRICS.modelReloadsTotal. */
export const RELOAD_FAILURE = "failure";

/**
 * Routes that serve predictions (the denominator of the 5xx ratio; probes and /metrics would dilute it), gRPC's
 * ModelInfer included: it is counted in the same request metrics (protocol="grpc", its code as an HTTP status).
 */
export const INFERENCE_ROUTES = [ROUTES.predict, ROUTES.predictBatch, ROUTES.v2.infer, ROUTES.v2.inferVersion, GRPC_METHODS.modelInfer] as const;

// --- matchers and selectors ----------------------------------------------------------------------------------------

const escapeValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeRegex = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** label="value" (value escaped). */
export const eq = (label: string, value: string) => `${label}="${escapeValue(value)}"`;
/** label!="value". */
export const ne = (label: string, value: string) => `${label}!="${escapeValue(value)}"`;
/** label=~"a|b" with each value matched literally. */
export const oneOf = (label: string, values: readonly string[]) =>
  `${label}=~"${escapeValue(values.map(escapeRegex).join("|"))}"`;
/** label=~"pattern", pattern used as is (dashboard variables such as $variant). */
export const matches = (label: string, pattern: string) => `${label}=~"${escapeValue(pattern)}"`;

export const selector = (metric: string, matchers: readonly string[] = []) =>
  matchers.length ? `${metric}{${matchers.join(", ")}}` : metric;

export const bucket = (histogram: string) => `${histogram}_bucket`;
export const histogramCount = (histogram: string) => `${histogram}_count`;
export const histogramSum = (histogram: string) => `${histogram}_sum`;
const by = (labels: readonly string[]) => `by (${labels.join(", ")})`;
export const sumBy = (labels: readonly string[], expr: string) => `sum ${by(labels)} (${expr})`;
export const maxBy = (labels: readonly string[], expr: string) => `max ${by(labels)} (${expr})`;
export const minBy = (labels: readonly string[], expr: string) => `min ${by(labels)} (${expr})`;

/**
 * Which series a query covers and how it aggregates: an alert uses `model="flight-delay"` and keeps
 * namespace/model/variant; a dashboard uses `model="$model", variant=~"$variant"`.
 */
export interface Scope {
  /** Matchers on model metrics (labels model, version, variant). */
  readonly matchers: readonly string[];
  /** Labels the result keeps. */
  readonly by: readonly string[];
}

/** Alert scope for one model: per namespace (environment), model and variant. */
export const modelScope = (model: string, extraBy: readonly string[] = []): Scope => ({
  matchers: [eq(LABEL.model, model)],
  by: [LABEL.namespace, LABEL.model, LABEL.variant, ...extraBy],
});

export const withMatchers = (scope: Scope, ...matchers: string[]): Scope => ({ ...scope, matchers: [...scope.matchers, ...matchers] });
export const keepBy = (scope: Scope, labels: readonly string[]): Scope => ({ ...scope, by: labels });

// --- prediction RED ------------------------------------------------------------------------------------------------

function predictions(fn: "rate" | "increase", scope: Scope, window: string, outcomes?: readonly PredictionOutcome[]): string {
  const matchers = outcomes ? [...scope.matchers, oneOf(LABEL.outcome, outcomes)] : scope.matchers;
  return sumBy(scope.by, `${fn}(${selector(METRICS.predictionsTotal, matchers)}[${window}])`);
}
/** Predictions per second (all outcomes unless `outcomes` is given). */
export const predictionRate = (scope: Scope, window: string, outcomes?: readonly PredictionOutcome[]) =>
  predictions("rate", scope, window, outcomes);
/** Predictions answered over the window. */
export const predictionIncrease = (scope: Scope, window: string, outcomes?: readonly PredictionOutcome[]) =>
  predictions("increase", scope, window, outcomes);

/** Share of predictions answered with an error (the model failed; fallbacks are not errors). */
export function predictionErrorRatio(scope: Scope, window: string): string {
  return ratioOrZero(predictionRate(scope, window, [OUTCOME.error]), predictionRate(scope, window));
}

/**
 * part / whole, and 0 where `part` has no series: labelled error counters only appear at the first error, and
 * "no data" on an error panel reads as "broken" at 3 AM.
 */
export function ratioOrZero(part: string, whole: string): string {
  return `(\n${part}\nor\n0 * ${whole}\n)\n/\n${whole}`;
}

export function latencyQuantile(quantile: number, scope: Scope, window: string): string {
  const rate = `rate(${selector(bucket(METRICS.predictionLatencySeconds), scope.matchers)}[${window}])`;
  return `histogram_quantile(${quantile}, ${sumBy([...scope.by, LABEL.le], rate)})`;
}

/**
 * Joins a per-process metric without model labels (HTTP, prediction log) to the model and variant the process
 * serves: every pod exports model_loaded{model,variant} for the model it serves (in-process shadows excluded).
 */
export function servingProcesses(scope: Scope): string {
  const loaded = selector(METRICS.modelLoaded, [...scope.matchers, ne(LABEL.variant, SHADOW)]);
  return maxBy([LABEL.job, LABEL.instance, LABEL.model, LABEL.variant], loaded);
}
export function perServingProcess(expr: string, scope: Scope): string {
  return `${expr}\n* on (${LABEL.job}, ${LABEL.instance}) group_left (${LABEL.model}, ${LABEL.variant})\n${servingProcesses(scope)}`;
}

/**
 * Like perServingProcess, but keeps the value whether or not the model is loaded (x 1, not x model_loaded): what
 * the HTTP layer does to connections matters while the process loads too.
 */
export function attributedToServingProcess(expr: string, scope: Scope): string {
  return `${expr}\n* on (${LABEL.job}, ${LABEL.instance}) group_left (${LABEL.model}, ${LABEL.variant})\n(0 * ${servingProcesses(scope)} + 1)`;
}

/** HTTP requests per second on the inference routes, attributed to the model the process serves. */
export function httpRequestRate(scope: Scope, window: string, statusMatcher?: string): string {
  const matchers = [oneOf(LABEL.route, INFERENCE_ROUTES), ...(statusMatcher ? [statusMatcher] : [])];
  return sumBy(scope.by, perServingProcess(`rate(${selector(METRICS.httpRequestsTotal, matchers)}[${window}])`, scope));
}

export const SERVER_ERROR_STATUS = matches(LABEL.statusCode, "5..");

/** Share of inference requests answered with a 5xx (load shedding 503s included: callers saw an error). */
export function http5xxRatio(scope: Scope, window: string): string {
  return ratioOrZero(httpRequestRate(scope, window, SERVER_ERROR_STATUS), httpRequestRate(scope, window));
}

// --- prediction distribution and ground truth ----------------------------------------------------------------------

/** Share of model answers that were positive (fallbacks and errors excluded: they say nothing about the model). */
export function positiveRatio(scope: Scope, window: string): string {
  return `${predictionRate(scope, window, [OUTCOME.positive])}\n/\n${predictionRate(scope, window, [OUTCOME.positive, OUTCOME.negative])}`;
}

export function feedbackCount(scope: Scope, window: string, outcomes?: readonly FeedbackOutcome[]): string {
  const matchers = outcomes ? [...scope.matchers, oneOf(LABEL.outcome, outcomes)] : scope.matchers;
  return sumBy(scope.by, `increase(${selector(METRICS.modelFeedbackTotal, matchers)}[${window}])`);
}

/** Live hit rate (accuracy): binary (tp + tn) / (tp + fp + tn + fn), multiclass correct / (correct + incorrect). */
export function hitRate(scope: Scope, window: string, task: ClassificationTask): string {
  return `${feedbackCount(scope, window, CORRECT_FEEDBACK[task])}\n/\n${feedbackCount(scope, window, LABELLED_FEEDBACK[task])}`;
}

/** Regression: mean absolute error of the labelled predictions over the window. */
export function meanAbsoluteError(scope: Scope, window: string): string {
  const errors = sumBy(scope.by, `increase(${selector(METRICS.modelFeedbackAbsoluteErrorTotal, scope.matchers)}[${window}])`);
  return `${errors}\n/\n${feedbackCount(scope, window, [OBSERVED_FEEDBACK])}`;
}

/** Regression: root mean squared error of the labelled predictions over the window. */
export function rootMeanSquaredError(scope: Scope, window: string): string {
  const squares = sumBy(scope.by, `increase(${selector(METRICS.modelFeedbackSquaredErrorTotal, scope.matchers)}[${window}])`);
  return `sqrt(\n${squares}\n/\n${feedbackCount(scope, window, [OBSERVED_FEEDBACK])}\n)`;
}

/** Regression: MAE the version scored at registration, one series per namespace/model/version. */
export function baselineMae(modelMatchers: readonly string[], keep: readonly string[]): string {
  return maxBy(keep, selector(METRICS.modelBaselineMae, modelMatchers));
}

/** Multiclass: labelled predictions per (actual, predicted) class pair over the window. */
export function confusionCounts(scope: Scope, window: string): string {
  return sumBy([...scope.by, LABEL.actual, LABEL.predicted], `increase(${selector(METRICS.modelConfusionTotal, scope.matchers)}[${window}])`);
}

// --- prediction distributions per task --------------------------------------------------------------------------

/** Multiclass: each class's share of the answers over the window (labels: scope.by and class). */
export function classShares(scope: Scope, window: string): string {
  const rate = `rate(${selector(METRICS.predictionClassTotal, scope.matchers)}[${window}])`;
  return `${sumBy([...scope.by, LABEL.predictedClass], rate)}\n/ ignoring (${LABEL.predictedClass}) group_left\n${sumBy(scope.by, rate)}`;
}

/** Share of a histogram's observations at or below each bucket bound over the window (labels: scope.by and le). */
export function histogramCdf(histogram: string, scope: Scope, window: string): string {
  const buckets = sumBy([...scope.by, LABEL.le], `rate(${selector(bucket(histogram), scope.matchers)}[${window}])`);
  const count = sumBy(scope.by, `rate(${selector(histogramCount(histogram), scope.matchers)}[${window}])`);
  return `${buckets}\n/ ignoring (${LABEL.le}) group_left\n${count}`;
}

/** Mean of a histogram's observations over the window. */
export function histogramMean(histogram: string, scope: Scope, window: string): string {
  const sum = sumBy(scope.by, `rate(${selector(histogramSum(histogram), scope.matchers)}[${window}])`);
  return `${sum}\n/\n${sumBy(scope.by, `rate(${selector(histogramCount(histogram), scope.matchers)}[${window}])`)}`;
}

/**
 * Largest |recent - baseline| over two share vectors with the same labels, kept by `by`: class shares give the
 * largest class-share change, CDFs over buckets a binned Kolmogorov-Smirnov distance. A share missing on the
 * recent side (no series yet since a restart) counts as 0.
 */
export function largestShareGap(recent: string, baseline: string, by: readonly string[]): string {
  return maxBy(by, `abs(\n(\n${recent}\nor\n0 * ${baseline}\n)\n-\n${baseline}\n)`);
}

/** Hit rate the version scored at registration, one series per namespace/model/version (replicas deduplicated). */
export function baselineHitRate(modelMatchers: readonly string[], keep: readonly string[]): string {
  return maxBy(keep, selector(METRICS.modelBaselineHitRate, modelMatchers));
}

/** Cost-matrix-weighted errors per labelled prediction. */
export function businessCostPerFeedback(scope: Scope, window: string): string {
  const cost = sumBy(scope.by, `increase(${selector(METRICS.modelBusinessCostTotal, scope.matchers)}[${window}])`);
  return `${cost}\n/\n${feedbackCount(scope, window)}`;
}

/**
 * Events of a counter over the window, also counting a labelled series created by its first event (increase()
 * needs two samples, so a counter that appears at 1 would otherwise go unnoticed).
 */
export function counterEvents(counter: string, window: string, labels: readonly string[]): string {
  return `${sumBy(labels, `increase(${counter}[${window}])`)} > 0\nor\n${sumBy(labels, `${counter} unless ${counter} offset ${window}`)}`;
}

export function businessCostRate(scope: Scope, window: string): string {
  return sumBy(scope.by, `rate(${selector(METRICS.modelBusinessCostTotal, scope.matchers)}[${window}])`);
}

// --- drift job (Pushgateway) ---------------------------------------------------------------------------------------

/** Matchers of the drift job's pushed series for the models in `modelMatchers`. */
export const driftMatchers = (modelMatchers: readonly string[]) => [eq(LABEL.job, DRIFT_JOB_NAME), ...modelMatchers];

export { DCGM_METRICS, METRICS };

/** Prometheus' own series of pending and firing alerts (labels alertname, alertstate and the alert's labels). */
export const PROMETHEUS_ALERTS = "ALERTS";

/** `_total` stripped, as recording-rule names do (`level:metric:operations`). */
export const ruleMetricName = (metric: string) => metric.replace(/_total$/, "");
