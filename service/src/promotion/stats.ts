/**
 * The tests behind the gates, on aggregate counts (what Prometheus counters give): a chi-squared test of
 * homogeneity for two histograms, and non-inferiority intervals for a proportion and for a mean. Each returns
 * the numbers it decided on, so a verdict can always be shown with its values.
 */
import { chiSquaredSf } from "../drift/stats/special";
import { jensenShannonDistance } from "../drift/stats/methods";

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export interface HomogeneityResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  /** Jensen-Shannon distance (natural log, 0..0.83, as the drift job and Evidently) between the two normalised histograms: the size of the shift. */
  readonly distance: number;
  /** Bins after merging sparse neighbours. */
  readonly bins: number;
}

/**
 * Pearson's chi-squared test that two samples come from one distribution, on their counts per bin (same bins,
 * same order). Adjacent bins are merged until every expected count is at least 5 (Cochran's rule), so sparse
 * tails do not inflate the statistic. Counts may be fractional (Prometheus' increase() extrapolates).
 */
export function chiSquaredHomogeneity(a: readonly number[], b: readonly number[]): HomogeneityResult {
  if (a.length !== b.length) throw new RangeError(`chiSquaredHomogeneity: ${a.length} bins against ${b.length}`);
  const na = sum(a);
  const nb = sum(b);
  const distance = na > 0 && nb > 0 ? jensenShannonDistance(a, b) : 0;
  const n = na + nb;
  const minExpected = 5;
  const groups: [number, number][] = [];
  let open: [number, number] = [0, 0];
  for (let i = 0; i < a.length; i++) {
    open = [open[0] + a[i], open[1] + b[i]];
    if (((open[0] + open[1]) * Math.min(na, nb)) / n >= minExpected) {
      groups.push(open);
      open = [0, 0];
    }
  }
  if (open[0] + open[1] > 0) {
    if (groups.length > 0) groups[groups.length - 1] = [groups[groups.length - 1][0] + open[0], groups[groups.length - 1][1] + open[1]];
    else groups.push(open);
  }
  if (groups.length < 2 || na === 0 || nb === 0) return { statistic: 0, df: 0, pValue: 1, distance, bins: groups.length };
  let statistic = 0;
  for (const [ga, gb] of groups) {
    const column = ga + gb;
    const ea = (column * na) / n;
    const eb = (column * nb) / n;
    statistic += (ga - ea) ** 2 / ea + (gb - eb) ** 2 / eb;
  }
  const df = groups.length - 1;
  return { statistic, df, pValue: chiSquaredSf(statistic, df), distance, bins: groups.length };
}

/** pass: non-inferior within the margin; fail: inferior beyond it; inconclusive: the interval straddles it. */
export type NonInferiorityVerdict = "pass" | "fail" | "inconclusive";

export interface NonInferiorityResult {
  readonly verdict: NonInferiorityVerdict;
  /** canary - stable, in the direction where larger is worse for `lowerIsBetter` and better otherwise. */
  readonly difference: number;
  /** Two-sided interval at `confidence` for the difference (each side is a one-sided bound at that level). */
  readonly lower: number;
  readonly upper: number;
  readonly margin: number;
}

/**
 * Non-inferiority of the canary's proportion (hit rate, accuracy: higher is better) against the stable's, with
 * an absolute margin: the Agresti-Caffo interval (one success and one failure added per arm, which keeps the
 * Wald interval honest near 0 and 1) for p_canary - p_stable at one-sided `confidence`.
 */
export function proportionNonInferiority(
  canary: { readonly successes: number; readonly trials: number },
  stable: { readonly successes: number; readonly trials: number },
  margin: number,
  confidence: number,
): NonInferiorityResult {
  const pc = (canary.successes + 1) / (canary.trials + 2);
  const ps = (stable.successes + 1) / (stable.trials + 2);
  const se = Math.sqrt((pc * (1 - pc)) / (canary.trials + 2) + (ps * (1 - ps)) / (stable.trials + 2));
  const z = normalQuantile(confidence);
  const difference = canary.successes / canary.trials - stable.successes / stable.trials;
  const centre = pc - ps;
  const lower = centre - z * se;
  const upper = centre + z * se;
  const verdict = lower > -margin ? "pass" : upper < -margin ? "fail" : "inconclusive";
  return { verdict, difference, lower, upper, margin };
}

/**
 * Non-inferiority of the canary's mean (MAE, cost per labelled prediction: lower is better) with a margin in
 * the mean's own units: a normal interval for mean_canary - mean_stable from each arm's mean, variance and size.
 */
export function meanNonInferiority(
  canary: { readonly mean: number; readonly variance: number; readonly n: number },
  stable: { readonly mean: number; readonly variance: number; readonly n: number },
  margin: number,
  confidence: number,
): NonInferiorityResult {
  const se = Math.sqrt(Math.max(canary.variance, 0) / canary.n + Math.max(stable.variance, 0) / stable.n);
  const z = normalQuantile(confidence);
  const difference = canary.mean - stable.mean;
  const lower = difference - z * se;
  const upper = difference + z * se;
  const verdict = upper < margin ? "pass" : lower > margin ? "fail" : "inconclusive";
  return { verdict, difference, lower, upper, margin };
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
