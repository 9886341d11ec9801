/**
 * What the gates compare, read from Prometheus for one arm (a model, variant and version) over a window: the
 * service's own series (service/src/contract/metrics.ts), summed over replicas with increase(), all at one
 * evaluation time. A series that does not exist yields "absent" data, never an error.
 */
import { METRICS, isTask, type Task } from "../contract";
import type { PrometheusClient, PrometheusSample } from "./prometheus";

export interface Arm {
  readonly model: string;
  readonly variant: string;
  readonly version: string;
}

/** Counts per bin, in bin order: histogram buckets (upper bounds, "+Inf" last) or predicted classes. */
export interface Distribution {
  readonly metric: string;
  /** Bin keys: `le` values of a histogram (cumulative counts), or class names. */
  readonly bins: ReadonlyMap<string, number>;
  readonly cumulative: boolean;
}

export interface ArmData {
  /** Predictions answered (every outcome) plus requests refused with 503. */
  readonly requests: number;
  /** error + fallback outcomes plus refused requests. */
  readonly failures: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly p99Seconds?: number;
  /** Observations in the latency histogram (its +Inf bucket). */
  readonly latencyCount: number;
  readonly distribution?: Distribution;
  /** model_feedback_total by outcome over the label window. */
  readonly feedback: Readonly<Record<string, number>>;
  readonly cost: number;
  readonly absoluteError: number;
  readonly squaredError: number;
  /** The `task` label of model_info, when the service exports it. */
  readonly task?: Task;
}

/** The series each task's prediction distribution is read from. */
export const DISTRIBUTION_SERIES: Readonly<Record<Task, { readonly metric: string; readonly kind: "histogram" | "classes" }>> = {
  binary: { metric: METRICS.predictionProbability, kind: "histogram" },
  multiclass: { metric: METRICS.predictionClassTotal, kind: "classes" },
  regression: { metric: METRICS.predictionValue, kind: "histogram" },
  tensor: { metric: METRICS.predictionOutputNorm, kind: "histogram" },
};

const DURATION = /^\d+[smhdw]$/;

export interface MeasureOptions {
  readonly window: string;
  /** Window for labelled feedback (labels arrive later than predictions). */
  readonly labelWindow: string;
  readonly at: Date;
}

/** The PromQL for every measurement of one arm, by name (also shown in --json output). */
export function armQueries(arm: Arm, task: Task, options: Pick<MeasureOptions, "window" | "labelWindow">): Record<string, string> {
  for (const [flag, value] of [["window", options.window], ["label window", options.labelWindow]] as const) {
    if (!DURATION.test(value)) throw new RangeError(`${flag} "${value}" must be a Prometheus duration like 30m, 2h or 1d`);
  }
  const version = selector({ model: arm.model, variant: arm.variant, version: arm.version });
  const variant = selector({ model: arm.model, variant: arm.variant });
  const w = options.window;
  const lw = options.labelWindow;
  const distribution = DISTRIBUTION_SERIES[task];
  return {
    outcomes: `sum by (outcome) (increase(${METRICS.predictionsTotal}${version}[${w}]))`,
    rejected: `sum(increase(${METRICS.predictionsRejectedTotal}${variant}[${w}]))`,
    p99: `histogram_quantile(0.99, sum by (le) (increase(${METRICS.predictionLatencySeconds}_bucket${version}[${w}])))`,
    latencyCount: `sum(increase(${METRICS.predictionLatencySeconds}_count${version}[${w}]))`,
    distribution:
      distribution.kind === "classes"
        ? `sum by (class) (increase(${distribution.metric}${version}[${w}]))`
        : `sum by (le) (increase(${distribution.metric}_bucket${version}[${w}]))`,
    feedback: `sum by (outcome) (increase(${METRICS.modelFeedbackTotal}${version}[${lw}]))`,
    cost: `sum(increase(${METRICS.modelBusinessCostTotal}${version}[${lw}]))`,
    absoluteError: `sum(increase(${METRICS.modelFeedbackAbsoluteErrorTotal}${version}[${lw}]))`,
    squaredError: `sum(increase(${METRICS.modelFeedbackSquaredErrorTotal}${version}[${lw}]))`,
  };
}

/** `max by (task)` of model_info for the arm over the window: the task the service reports for the version. */
export async function reportedTask(prometheus: PrometheusClient, arm: Arm, options: MeasureOptions): Promise<Task | undefined> {
  const expr = `max by (task) (last_over_time(${METRICS.modelInfo}${selector({ ...arm })}[${options.window}]))`;
  const samples = await prometheus.query(expr, options.at);
  const tasks = samples.map((s) => s.labels.task).filter(isTask);
  return tasks.length === 1 ? tasks[0] : undefined;
}

export async function measureArm(prometheus: PrometheusClient, arm: Arm, task: Task, options: MeasureOptions): Promise<ArmData> {
  const queries = armQueries(arm, task, options);
  const names = Object.keys(queries);
  const answers = await Promise.all(names.map((name) => prometheus.query(queries[name], options.at)));
  const result = Object.fromEntries(names.map((name, i) => [name, answers[i]])) as Record<string, PrometheusSample[]>;
  const outcomes = byLabel(result.outcomes, "outcome");
  const rejected = scalar(result.rejected);
  const answered = Object.values(outcomes).reduce((a, b) => a + b, 0);
  const kind = DISTRIBUTION_SERIES[task].kind;
  const bins = byLabel(result.distribution, kind === "classes" ? "class" : "le");
  return {
    requests: answered + rejected,
    failures: (outcomes.error ?? 0) + (outcomes.fallback ?? 0) + rejected,
    outcomes,
    p99Seconds: finite(result.p99[0]?.value),
    latencyCount: scalar(result.latencyCount),
    distribution:
      Object.keys(bins).length > 0
        ? { metric: DISTRIBUTION_SERIES[task].metric, bins: new Map(Object.entries(bins)), cumulative: kind === "histogram" }
        : undefined,
    feedback: byLabel(result.feedback, "outcome"),
    cost: scalar(result.cost),
    absoluteError: scalar(result.absoluteError),
    squaredError: scalar(result.squaredError),
  };
}

/** Label matchers with PromQL string escaping: {model="flight-delay",variant="canary"}. */
export function selector(labels: Readonly<Record<string, string>>): string {
  const matchers = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return `{${matchers.join(",")}}`;
}

function byLabel(samples: readonly PrometheusSample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const key = s.labels[label];
    if (key !== undefined && Number.isFinite(s.value)) out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

function scalar(samples: readonly PrometheusSample[]): number {
  return samples.reduce((total, s) => total + (Number.isFinite(s.value) ? s.value : 0), 0);
}

function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}
