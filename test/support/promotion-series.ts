/**
 * Synthetic history of a stable and a canary arm as the service exports it (names, labels and buckets from
 * service/src/contract/metrics.ts), as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
 * Counters grow linearly at the arm's rates and split by fixed shares, so the counts a test expects are exact;
 * a real Prometheus then answers the promotion queries over them.
 *
 * ```ts
 * const text = promotionHistory({ model: "flight-delay", end: new Date(), minutes: 40, arms: [stableArm, canaryArm] });
 * const prometheus = await startPrometheus({ backfill: text });
 * ```
 */
import { LATENCY_BUCKETS_SECONDS, METRICS, PROBABILITY_BUCKETS, type Task } from "../../service/src/contract";

export interface ArmHistory {
  readonly variant: "stable" | "canary";
  readonly version: string;
  /** The task whose series are written, also exported as model_info{task} unless `exportTask` is false. @default binary */
  readonly task?: Task;
  /** Leave the task label off model_info (services before task labels). @default true when `task` is given */
  readonly exportTask?: boolean;
  /** Answered predictions per second. */
  readonly requestsPerSecond: number;
  /** Shares of answered predictions that are errors and fallbacks. @default 0 */
  readonly errorShare?: number;
  readonly fallbackShare?: number;
  /** Requests refused with 503 per second. @default 0 */
  readonly rejectedPerSecond?: number;
  /** Shares per latency bucket (LATENCY_BUCKETS_SECONDS, then +Inf). @default latencyAround(0.003) */
  readonly latencyShares?: readonly number[];
  /** Binary: shares per probability bucket (PROBABILITY_BUCKETS). @default a hump around 0.3 */
  readonly probabilityShares?: readonly number[];
  /** Multiclass: share of answers per predicted class. */
  readonly classShares?: Readonly<Record<string, number>>;
  /** Regression (or tensor): histogram upper bounds and shares per bucket (one more share for +Inf). */
  readonly valueHistogram?: { readonly metric?: string; readonly bounds: readonly number[]; readonly shares: readonly number[] };
  /** Labelled predictions per second (model_feedback_total). @default 0 */
  readonly labelsPerSecond?: number;
  /** Classifiers: share of labels the model got right. @default 0.66 */
  readonly hitRate?: number;
  /** Classifiers: business cost per wrong prediction. @default 2 */
  readonly costPerError?: number;
  /** Regression: mean absolute and mean squared error of the labelled predictions. */
  readonly mae?: number;
  readonly mse?: number;
}

export interface HistoryOptions {
  readonly model: string;
  /** Last sample time. */
  readonly end: Date;
  /** History length. @default 40 */
  readonly minutes?: number;
  /** @default 15 */
  readonly stepSeconds?: number;
  readonly arms: readonly ArmHistory[];
}

/** 90% of observations in the bucket holding `seconds`, 9% in the next, 1% in the one after. */
export function latencyAround(seconds: number): number[] {
  const shares = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  const at = LATENCY_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
  const i = at < 0 ? LATENCY_BUCKETS_SECONDS.length : at;
  shares[i] += 0.9;
  shares[Math.min(i + 1, shares.length - 1)] += 0.09;
  shares[Math.min(i + 2, shares.length - 1)] += 0.01;
  return shares;
}

/** Probability-bucket shares of a hump centred on `centre` (0..1), over the 20 buckets of 0.05. */
export function probabilityHump(centre: number, width = 0.12): number[] {
  const mids = PROBABILITY_BUCKETS.map((le) => le - 0.025);
  const weights = mids.map((m) => Math.exp(-(((m - centre) / width) ** 2)));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

type Line = { readonly series: string; readonly value: (t: number) => number };

export function promotionHistory(options: HistoryOptions): string {
  const families = new Map<string, { type: string; lines: Line[] }>();
  const add = (family: string, type: string, series: string, value: (t: number) => number) => {
    const entry = families.get(family) ?? { type, lines: [] };
    entry.lines.push({ series, value });
    families.set(family, entry);
  };
  for (const arm of options.arms) addArm(options.model, arm, add);

  const end = Math.floor(options.end.getTime() / 1000);
  const step = options.stepSeconds ?? 15;
  const points = Math.floor(((options.minutes ?? 40) * 60) / step);
  const out: string[] = [];
  for (const [family, { type, lines }] of families) {
    out.push(`# HELP ${family} synthetic promotion history`, `# TYPE ${family} ${type}`);
    for (const line of lines) {
      for (let p = 0; p <= points; p++) {
        const elapsed = p * step;
        out.push(`${line.series} ${round(line.value(elapsed))} ${end - points * step + elapsed}`);
      }
    }
  }
  out.push("# EOF", "");
  return out.join("\n");
}

function addArm(model: string, arm: ArmHistory, add: (family: string, type: string, series: string, value: (t: number) => number) => void): void {
  const labels = (extra: Record<string, string> = {}) => render({ model, version: arm.version, variant: arm.variant, ...extra });
  const rps = arm.requestsPerSecond;
  const errors = arm.errorShare ?? 0;
  const fallbacks = arm.fallbackShare ?? 0;
  const modelShare = 1 - errors - fallbacks;

  add(METRICS.modelInfo, "gauge", `${METRICS.modelInfo}${render({ model, version: arm.version, alias: arm.variant === "stable" ? "champion" : "challenger", run_id: `run-${arm.version}`, variant: arm.variant, ...(arm.task && arm.exportTask !== false ? { task: arm.task } : {}) })}`, () => 1);

  const task = arm.task ?? "binary";
  const outcomes: Record<string, number> =
    task === "binary" ? { positive: modelShare * 0.3, negative: modelShare * 0.7 } : { predicted: modelShare };
  Object.assign(outcomes, { error: errors, fallback: fallbacks });
  for (const [outcome, share] of Object.entries(outcomes)) {
    if (share > 0) add(METRICS.predictionsTotal, "counter", `${METRICS.predictionsTotal}${labels({ outcome })}`, (t) => rps * share * t);
  }
  if (arm.rejectedPerSecond) {
    add(METRICS.predictionsRejectedTotal, "counter", `${METRICS.predictionsRejectedTotal}${render({ model, variant: arm.variant, reason: "shed" })}`, (t) => arm.rejectedPerSecond! * t);
  }
  histogram(add, METRICS.predictionLatencySeconds, labels, [...LATENCY_BUCKETS_SECONDS], arm.latencyShares ?? latencyAround(0.003), (t) => rps * t);

  const answered = (t: number) => rps * modelShare * t;
  if (task === "binary") {
    histogram(add, METRICS.predictionProbability, labels, PROBABILITY_BUCKETS, [...(arm.probabilityShares ?? probabilityHump(0.3)), 0], answered);
  }
  if (task === "multiclass") {
    for (const [cls, share] of Object.entries(arm.classShares ?? { a: 0.5, b: 0.3, c: 0.2 })) {
      add(METRICS.predictionClassTotal, "counter", `${METRICS.predictionClassTotal}${labels({ class: cls })}`, (t) => answered(t) * share);
    }
  }
  if ((task === "regression" || task === "tensor") && arm.valueHistogram) {
    const metric = arm.valueHistogram.metric ?? (task === "regression" ? METRICS.predictionValue : METRICS.predictionOutputNorm);
    histogram(add, metric, labels, arm.valueHistogram.bounds, arm.valueHistogram.shares, answered);
  }

  const lps = arm.labelsPerSecond ?? 0;
  if (lps <= 0) return;
  const hit = arm.hitRate ?? 0.66;
  const labelled = (t: number) => lps * t;
  const feedback: Record<string, number> =
    task === "binary" ? { tp: hit * 0.3, tn: hit * 0.7, fp: (1 - hit) * 0.5, fn: (1 - hit) * 0.5 } : task === "multiclass" ? { correct: hit, incorrect: 1 - hit } : { observed: 1 };
  for (const [outcome, share] of Object.entries(feedback)) {
    add(METRICS.modelFeedbackTotal, "counter", `${METRICS.modelFeedbackTotal}${labels({ outcome })}`, (t) => labelled(t) * share);
  }
  if (task === "binary" || task === "multiclass") {
    add(METRICS.modelBusinessCostTotal, "counter", `${METRICS.modelBusinessCostTotal}${labels()}`, (t) => labelled(t) * (1 - hit) * (arm.costPerError ?? 2));
  }
  if (task === "regression") {
    add(METRICS.modelFeedbackAbsoluteErrorTotal, "counter", `${METRICS.modelFeedbackAbsoluteErrorTotal}${labels()}`, (t) => labelled(t) * (arm.mae ?? 1));
    add(METRICS.modelFeedbackSquaredErrorTotal, "counter", `${METRICS.modelFeedbackSquaredErrorTotal}${labels()}`, (t) => labelled(t) * (arm.mse ?? 2));
  }
}

function histogram(
  add: (family: string, type: string, series: string, value: (t: number) => number) => void,
  name: string,
  labels: (extra?: Record<string, string>) => string,
  bounds: readonly number[],
  shares: readonly number[],
  count: (t: number) => number,
): void {
  let cumulative = 0;
  bounds.forEach((le, i) => {
    cumulative += shares[i] ?? 0;
    const share = cumulative;
    add(name, "histogram", `${name}_bucket${labels({ le: String(le) })}`, (t) => count(t) * share);
  });
  add(name, "histogram", `${name}_bucket${labels({ le: "+Inf" })}`, count);
  add(name, "histogram", `${name}_count${labels()}`, count);
  add(name, "histogram", `${name}_sum${labels()}`, (t) => count(t) * 0.003);
}

function render(labels: Readonly<Record<string, string>>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(6);
}
