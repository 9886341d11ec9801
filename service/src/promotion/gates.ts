/**
 * The promotion gates: each compares the canary with the stable it would replace (the baseline, measured over
 * the same window) and says pass, fail or inconclusive with the values it decided on. Too little traffic, too
 * few labels or an absent series is inconclusive, never a failure; a failure names its numbers.
 *
 * Which gates apply depends on the model's task: every task has errors and latency; the prediction-distribution
 * gate reads the probability histogram (binary), class counts (multiclass), the value histogram (regression)
 * or the output-norm histogram (tensor); labelled quality is hit rate (binary), accuracy (multiclass) or MAE
 * (regression); cost per labelled prediction applies to classifiers.
 */
import type { Task } from "../contract";
import type { ArmData, Distribution } from "./measure";
import { chiSquaredHomogeneity, meanNonInferiority, proportionNonInferiority, type NonInferiorityResult } from "./stats";

export const GATE_NAMES = ["errors", "latency", "shift", "quality", "cost"] as const;
export type GateName = (typeof GATE_NAMES)[number];
export type GateVerdict = "pass" | "fail" | "inconclusive";

export interface GateThresholds {
  /** Requests each arm must have answered in the window before traffic-based gates decide. @default 500 */
  readonly minRequests: number;
  /** Highest acceptable canary error + fallback + refused rate. @default 0.01 */
  readonly maxErrorRate: number;
  /** Highest acceptable excess of the canary's error rate over the stable's. @default 0.005 */
  readonly maxErrorRateIncrease: number;
  /** Highest acceptable canary p99 latency (seconds; the HighLatency alert's threshold). @default 0.1 */
  readonly maxP99Seconds: number;
  /** Highest acceptable canary p99 as a multiple of the stable's... @default 1.5 */
  readonly maxP99Ratio: number;
  /** ...or the stable's plus this much, whichever is larger (histogram buckets are coarse). @default 0.005 */
  readonly p99SlackSeconds: number;
  /** Significance level of the distribution-shift test. @default 0.01 */
  readonly shiftAlpha: number;
  /** Smallest Jensen-Shannon distance (natural log, as the drift job) that counts as a shift; the drift job's threshold. @default 0.1 */
  readonly minShiftDistance: number;
  /** Labelled predictions each arm needs before the quality and cost gates decide. @default 200 */
  readonly minLabels: number;
  /** Non-inferiority margin for hit rate / accuracy (absolute: 0.05 = five points). @default 0.05 */
  readonly qualityMargin: number;
  /** Non-inferiority margin for MAE, as a fraction of the stable's MAE. @default 0.1 */
  readonly maeMarginRatio: number;
  /** Non-inferiority margin for cost per labelled prediction, as a fraction of the stable's. @default 0.1 */
  readonly costMarginRatio: number;
  /** One-sided confidence of the non-inferiority bounds. @default 0.95 */
  readonly confidence: number;
}

export const DEFAULT_THRESHOLDS: GateThresholds = {
  minRequests: 500,
  maxErrorRate: 0.01,
  maxErrorRateIncrease: 0.005,
  maxP99Seconds: 0.1,
  maxP99Ratio: 1.5,
  p99SlackSeconds: 0.005,
  shiftAlpha: 0.01,
  minShiftDistance: 0.1,
  minLabels: 200,
  qualityMargin: 0.05,
  maeMarginRatio: 0.1,
  costMarginRatio: 0.1,
  confidence: 0.95,
};

/** How a gate's values read: a rate (%), seconds (ms), a distance, or a plain number. */
export type GateUnit = "rate" | "seconds" | "distance" | "number";

export interface GateResult {
  readonly gate: GateName;
  /** What was compared, e.g. "hit rate (labelled)". */
  readonly title: string;
  readonly verdict: GateVerdict;
  readonly unit: GateUnit;
  readonly canary?: number;
  readonly stable?: number;
  /** The rule, in words with its numbers: "≤ 1.00% and ≤ stable + 0.50%". */
  readonly threshold: string;
  readonly samples: { readonly canary: number; readonly stable: number };
  /** Why this verdict, with the deciding values. */
  readonly reason: string;
  /** Test statistics behind the verdict (p-value, interval bounds, ...). */
  readonly detail?: Readonly<Record<string, number>>;
}

export interface GateInput {
  readonly task: Task;
  readonly canary: ArmData;
  readonly stable: ArmData;
  readonly thresholds: GateThresholds;
}

/** The gates that apply to a task, in the order they are reported. */
export function gatesFor(task: Task): GateName[] {
  if (task === "tensor") return ["errors", "latency", "shift"];
  if (task === "regression") return ["errors", "latency", "shift", "quality"];
  return ["errors", "latency", "shift", "quality", "cost"];
}

export function evaluateGate(gate: GateName, input: GateInput): GateResult {
  switch (gate) {
    case "errors":
      return errorGate(input);
    case "latency":
      return latencyGate(input);
    case "shift":
      return shiftGate(input);
    case "quality":
      return input.task === "regression" ? maeGate(input) : proportionGate(input);
    case "cost":
      return costGate(input);
  }
}

function tooLittle(what: string, canary: number, stable: number, needed: number): string | undefined {
  const short = [canary < needed ? `canary ${count(canary)}` : "", stable < needed ? `stable ${count(stable)}` : ""].filter(Boolean);
  return short.length > 0 ? `too little ${what} to decide: ${short.join(", ")} of ${needed} needed per arm` : undefined;
}

function errorGate({ canary, stable, thresholds: t }: GateInput): GateResult {
  const base = { gate: "errors", title: "error + fallback rate", unit: "rate", samples: { canary: canary.requests, stable: stable.requests } } as const;
  const threshold = `≤ ${pct(t.maxErrorRate)} and ≤ stable + ${pct(t.maxErrorRateIncrease)}`;
  const short = tooLittle("traffic", canary.requests, stable.requests, t.minRequests);
  const rc = canary.requests > 0 ? canary.failures / canary.requests : undefined;
  const rs = stable.requests > 0 ? stable.failures / stable.requests : undefined;
  if (short || rc === undefined || rs === undefined) return { ...base, canary: rc, stable: rs, threshold, verdict: "inconclusive", reason: short ?? "no predictions in the window" };
  const breakdown = `${count(canary.failures)} of ${count(canary.requests)} canary requests failed (${pct(rc)}; stable ${pct(rs)})`;
  if (rc > t.maxErrorRate) return { ...base, canary: rc, stable: rs, threshold, verdict: "fail", reason: `${breakdown}: above ${pct(t.maxErrorRate)}` };
  if (rc - rs > t.maxErrorRateIncrease) {
    return { ...base, canary: rc, stable: rs, threshold, verdict: "fail", reason: `${breakdown}: ${pct(rc - rs)} above the stable's, more than ${pct(t.maxErrorRateIncrease)}` };
  }
  return { ...base, canary: rc, stable: rs, threshold, verdict: "pass", reason: breakdown };
}

function latencyGate({ canary, stable, thresholds: t }: GateInput): GateResult {
  const base = { gate: "latency", title: "p99 latency", unit: "seconds", samples: { canary: canary.latencyCount, stable: stable.latencyCount } } as const;
  const threshold = `≤ ${ms(t.maxP99Seconds)} and ≤ max(${t.maxP99Ratio}× stable, stable + ${ms(t.p99SlackSeconds)})`;
  const pc = canary.p99Seconds;
  const ps = stable.p99Seconds;
  const short = tooLittle("traffic", canary.latencyCount, stable.latencyCount, t.minRequests);
  if (short || pc === undefined || ps === undefined) {
    return { ...base, canary: pc, stable: ps, threshold, verdict: "inconclusive", reason: short ?? "no latency histogram for one of the arms" };
  }
  const relative = Math.max(ps * t.maxP99Ratio, ps + t.p99SlackSeconds);
  const limit = Math.min(t.maxP99Seconds, relative);
  const detail = { limitSeconds: limit };
  if (pc > limit) {
    const why = pc > t.maxP99Seconds ? `above ${ms(t.maxP99Seconds)}` : `above ${ms(relative)} (stable ${ms(ps)})`;
    return { ...base, canary: pc, stable: ps, threshold, verdict: "fail", reason: `canary p99 ${ms(pc)} is ${why}`, detail };
  }
  return { ...base, canary: pc, stable: ps, threshold, verdict: "pass", reason: `canary p99 ${ms(pc)} within ${ms(limit)}`, detail };
}

function shiftGate({ task, canary, stable, thresholds: t }: GateInput): GateResult {
  const title = { binary: "probability shift", multiclass: "class distribution shift", regression: "value distribution shift", tensor: "output norm shift" }[task];
  const threshold = `fail if p < ${t.shiftAlpha} and JS distance ≥ ${t.minShiftDistance}`;
  const aligned = canary.distribution && stable.distribution ? alignBins(canary.distribution, stable.distribution) : undefined;
  const nc = aligned ? sum(aligned.canary) : 0;
  const ns = aligned ? sum(aligned.stable) : 0;
  const base = { gate: "shift", title, unit: "distance", threshold, samples: { canary: nc, stable: ns } } as const;
  if (!aligned) {
    const missing = !canary.distribution ? "canary" : "stable";
    return { ...base, verdict: "inconclusive", reason: `no prediction-distribution series for the ${missing} (${(canary.distribution ?? stable.distribution)?.metric ?? "none"})` };
  }
  if (aligned.labels.length < 2) return { ...base, verdict: "inconclusive", reason: "the two histograms share no bucket boundary to compare on" };
  const short = tooLittle("predictions", nc, ns, t.minRequests);
  if (short) return { ...base, verdict: "inconclusive", reason: short };
  const test = chiSquaredHomogeneity(aligned.canary, aligned.stable);
  const detail = { pValue: test.pValue, statistic: test.statistic, df: test.df };
  const values = `chi-squared ${fmt(test.statistic)} on ${test.df} df, p = ${test.pValue.toPrecision(3)}, JS distance ${test.distance.toFixed(3)}`;
  const shifted = test.pValue < t.shiftAlpha && test.distance >= t.minShiftDistance;
  return { ...base, canary: test.distance, verdict: shifted ? "fail" : "pass", reason: shifted ? `predictions shifted: ${values}` : values, detail };
}

function proportionGate({ task, canary, stable, thresholds: t }: GateInput): GateResult {
  const title = task === "multiclass" ? "accuracy (labelled)" : "hit rate (labelled)";
  const correct = task === "multiclass" ? ["correct"] : ["tp", "tn"];
  const all = task === "multiclass" ? ["correct", "incorrect"] : ["tp", "fp", "tn", "fn"];
  const arm = (d: ArmData) => ({ successes: total(d.feedback, correct), trials: total(d.feedback, all) });
  const c = arm(canary);
  const s = arm(stable);
  const threshold = `lower bound of canary − stable > −${pct(t.qualityMargin)} (${pct(t.confidence)} one-sided)`;
  const base = { gate: "quality", title, unit: "rate", threshold, samples: { canary: c.trials, stable: s.trials } } as const;
  const values = { canary: c.trials > 0 ? c.successes / c.trials : undefined, stable: s.trials > 0 ? s.successes / s.trials : undefined };
  const short = tooLittle("labelled predictions", c.trials, s.trials, t.minLabels);
  if (short) return { ...base, ...values, verdict: "inconclusive", reason: short };
  const test = proportionNonInferiority(c, s, t.qualityMargin, t.confidence);
  return { ...base, ...values, verdict: test.verdict, reason: nonInferiorityReason(test, "rate"), detail: intervalDetail(test) };
}

function maeGate({ canary, stable, thresholds: t }: GateInput): GateResult {
  const arm = (d: ArmData) => {
    const n = d.feedback.observed ?? 0;
    const mean = n > 0 ? d.absoluteError / n : 0;
    return { n, mean, variance: n > 0 ? d.squaredError / n - mean * mean : 0 };
  };
  const c = arm(canary);
  const s = arm(stable);
  const threshold = `upper bound of canary − stable MAE < ${pct(t.maeMarginRatio)} of stable (${pct(t.confidence)} one-sided)`;
  const base = { gate: "quality", title: "MAE (labelled)", unit: "number", threshold, samples: { canary: c.n, stable: s.n } } as const;
  const values = { canary: c.n > 0 ? c.mean : undefined, stable: s.n > 0 ? s.mean : undefined };
  const short = tooLittle("labelled predictions", c.n, s.n, t.minLabels);
  if (short) return { ...base, ...values, verdict: "inconclusive", reason: short };
  const test = meanNonInferiority(c, s, t.maeMarginRatio * s.mean, t.confidence);
  return { ...base, ...values, verdict: test.verdict, reason: nonInferiorityReason(test, "number", true), detail: intervalDetail(test) };
}

/**
 * Cost per labelled prediction, mean from model_business_cost_total. Its variance comes from the error count,
 * taking every error to cost the arm's mean cost per error: exact when false positives and false negatives cost
 * the same, an approximation otherwise (the counters do not carry the cost matrix).
 */
function costGate({ task, canary, stable, thresholds: t }: GateInput): GateResult {
  const wrong = task === "multiclass" ? ["incorrect"] : ["fp", "fn"];
  const all = task === "multiclass" ? ["correct", "incorrect"] : ["tp", "fp", "tn", "fn"];
  const arm = (d: ArmData) => {
    const n = total(d.feedback, all);
    const errors = total(d.feedback, wrong);
    const mean = n > 0 ? d.cost / n : 0;
    const perError = errors > 0 ? d.cost / errors : 0;
    const q = n > 0 ? errors / n : 0;
    return { n, mean, variance: perError * perError * q * (1 - q) };
  };
  const c = arm(canary);
  const s = arm(stable);
  const threshold = `upper bound of canary − stable < ${pct(t.costMarginRatio)} of stable (${pct(t.confidence)} one-sided)`;
  const base = { gate: "cost", title: "cost per labelled prediction", unit: "number", threshold, samples: { canary: c.n, stable: s.n } } as const;
  const values = { canary: c.n > 0 ? c.mean : undefined, stable: s.n > 0 ? s.mean : undefined };
  const short = tooLittle("labelled predictions", c.n, s.n, t.minLabels);
  if (short) return { ...base, ...values, verdict: "inconclusive", reason: short };
  const test = meanNonInferiority(c, s, t.costMarginRatio * s.mean, t.confidence);
  return { ...base, ...values, verdict: test.verdict, reason: nonInferiorityReason(test, "number", true), detail: intervalDetail(test) };
}

/** Both histograms on their common bucket boundaries (or the union of classes), as per-bin counts. */
export function alignBins(canary: Distribution, stable: Distribution): { labels: string[]; canary: number[]; stable: number[] } {
  if (!canary.cumulative) {
    const labels = [...new Set([...canary.bins.keys(), ...stable.bins.keys()])].sort();
    return { labels, canary: labels.map((l) => canary.bins.get(l) ?? 0), stable: labels.map((l) => stable.bins.get(l) ?? 0) };
  }
  const bound = (le: string) => (le === "+Inf" ? Infinity : Number(le));
  const common = [...canary.bins.keys()].filter((le) => stable.bins.has(le)).sort((x, y) => bound(x) - bound(y));
  const perBin = (d: Distribution) => common.map((le, i) => Math.max(0, d.bins.get(le)! - (i > 0 ? d.bins.get(common[i - 1])! : 0)));
  return { labels: common, canary: perBin(canary), stable: perBin(stable) };
}

function nonInferiorityReason(test: NonInferiorityResult, unit: "rate" | "number", lowerIsBetter = false): string {
  const show = (x: number) => (unit === "rate" ? pct(x) : fmt(x));
  const interval = `canary − stable = ${show(test.difference)}, interval [${show(test.lower)}, ${show(test.upper)}], margin ${lowerIsBetter ? "" : "−"}${show(test.margin)}`;
  if (test.verdict === "pass") return `non-inferior: ${interval}`;
  if (test.verdict === "fail") return `worse than the stable beyond the margin: ${interval}`;
  return `not enough evidence either way (the interval straddles the margin): ${interval}`;
}

function intervalDetail(test: NonInferiorityResult): Record<string, number> {
  return { difference: test.difference, lower: test.lower, upper: test.upper, margin: test.margin };
}

function total(counts: Readonly<Record<string, number>>, keys: readonly string[]): number {
  return keys.reduce((n, k) => n + (counts[k] ?? 0), 0);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

export function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
}

/** A count as increase() estimates it (extrapolated to the window's edges): shown whole. */
export function count(x: number): string {
  return String(Math.round(x));
}

export function fmt(x: number): string {
  if (Number.isInteger(x) || Math.abs(x) >= 100) return Math.round(x).toString();
  return x.toPrecision(4).replace(/\.?0+$/, "");
}
