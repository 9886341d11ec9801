/**
 * The drift tests, with Evidently's semantics (evidently/legacy/calculations/stattests, v0.7.21) on summaries
 * instead of raw arrays: the same statistic, the same p-value or distance, the same default thresholds and the
 * same comparison. test/drift/evidently-parity.test.ts holds every one against scipy computed the way the
 * stattests call it.
 *
 *   ks            two-sample Kolmogorov-Smirnov p-value (scipy ks_2samp, method "auto")      drift if p <= 0.05
 *   chisquare     chi-squared goodness of fit, expected = reference shares × current size    drift if p <  0.05
 *   z             two-proportion z-test on the first sorted value, p = 2·(1 - Φ(|z|))        drift if p <  0.05
 *   wasserstein   Wasserstein-1 distance / max(std(reference), 0.001)                        drift if d >= 0.1
 *   jensenshannon Jensen-Shannon distance, natural log (scipy's base=None), over values or Sturges bins, zeros kept
 *   psi           population stability index over the same bins, zero shares filled           drift if d >= 0.1
 */
import type { WeightedPoints } from "../summary";
import { ksTwoSamplePValue } from "./kolmogorov";
import { chiSquaredSf, normalCdf } from "./special";

export const METHOD_NAMES = ["ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"] as const;
export type MethodName = (typeof METHOD_NAMES)[number];
export type ColumnKind = "numeric" | "categorical";

export interface MethodInfo {
  /** p_value: drift when the p-value is below the threshold; distance: when the distance reaches it. */
  readonly scoreKind: "p_value" | "distance";
  readonly defaultThreshold: number;
  readonly kinds: readonly ColumnKind[];
  readonly title: string;
}

export const METHODS: Readonly<Record<MethodName, MethodInfo>> = {
  ks: { scoreKind: "p_value", defaultThreshold: 0.05, kinds: ["numeric"], title: "Kolmogorov-Smirnov p-value" },
  chisquare: { scoreKind: "p_value", defaultThreshold: 0.05, kinds: ["numeric", "categorical"], title: "chi-squared p-value" },
  z: { scoreKind: "p_value", defaultThreshold: 0.05, kinds: ["numeric", "categorical"], title: "Z-test p-value" },
  wasserstein: { scoreKind: "distance", defaultThreshold: 0.1, kinds: ["numeric"], title: "Wasserstein distance (normed)" },
  jensenshannon: { scoreKind: "distance", defaultThreshold: 0.1, kinds: ["numeric", "categorical"], title: "Jensen-Shannon distance" },
  psi: { scoreKind: "distance", defaultThreshold: 0.1, kinds: ["numeric", "categorical"], title: "PSI" },
};

/** Evidently's reference size boundary between the p-value tests and the distances. */
export const SMALL_REFERENCE_ROWS = 1000;

/**
 * Evidently's default test (registry._get_default_stattest): `referenceRows` counts the reference's valid
 * values; `distinctValues` counts distinct values over reference and current together.
 */
export function defaultMethod(kind: ColumnKind, referenceRows: number, distinctValues: number): MethodName {
  const lowCardinality = kind === "categorical" || distinctValues <= 5;
  if (referenceRows <= SMALL_REFERENCE_ROWS) {
    if (!lowCardinality) return "ks";
    return distinctValues > 2 ? "chisquare" : "z";
  }
  return lowCardinality ? "jensenshannon" : "wasserstein";
}

/** Evidently's verdicts: ks drifts at p <= threshold, chisquare and z at p < threshold, distances at d >= threshold. */
export function isDrift(method: MethodName, score: number, threshold: number): boolean {
  if (METHODS[method].scoreKind === "distance") return score >= threshold;
  return method === "ks" ? score <= threshold : score < threshold;
}

// --- numeric: ECDF-based ---------------------------------------------------------------------------------------

/** Walks two sorted weighted point sets in value order, calling `step` with the ECDFs between breakpoints. */
function walkEcdfs(a: WeightedPoints, b: WeightedPoints, step: (x: number, nextX: number, fa: number, fb: number) => void): void {
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  while (i < a.values.length || j < b.values.length) {
    const x = Math.min(i < a.values.length ? a.values[i] : Infinity, j < b.values.length ? b.values[j] : Infinity);
    while (i < a.values.length && a.values[i] === x) ca += a.weights[i++];
    while (j < b.values.length && b.values[j] === x) cb += b.weights[j++];
    const nextX = Math.min(i < a.values.length ? a.values[i] : Infinity, j < b.values.length ? b.values[j] : Infinity);
    step(x, nextX, ca / a.total, cb / b.total);
  }
}

/** sup |F_a - F_b|, ties handled like scipy (ECDFs compared after all points equal to x). */
export function ksStatistic(a: WeightedPoints, b: WeightedPoints): number {
  let d = 0;
  walkEcdfs(a, b, (_x, _next, fa, fb) => {
    d = Math.max(d, Math.abs(fa - fb));
  });
  return d;
}

export interface PValueResult {
  readonly statistic: number;
  readonly pValue: number;
  /** How the p-value was computed (ks: exact or asymptotic; chisquare: degrees of freedom). */
  readonly detail: string;
}

export function ksTest(reference: WeightedPoints, current: WeightedPoints): PValueResult {
  const statistic = ksStatistic(reference, current);
  const { pValue, method } = ksTwoSamplePValue(statistic, reference.total, current.total);
  return { statistic, pValue, detail: `${method} p-value` };
}

/** ∫|F_a - F_b| dx (scipy.stats.wasserstein_distance with weights). */
export function wassersteinDistance(a: WeightedPoints, b: WeightedPoints): number {
  let sum = 0;
  walkEcdfs(a, b, (x, nextX, fa, fb) => {
    if (nextX !== Infinity) sum += Math.abs(fa - fb) * (nextX - x);
  });
  return sum;
}

/** Evidently's normed distance: divided by the reference's population std, floored at 0.001. */
export function normedWasserstein(reference: WeightedPoints, current: WeightedPoints, referenceStd: number): number {
  return wassersteinDistance(reference, current) / Math.max(referenceStd, 0.001);
}

// --- categorical: counts ---------------------------------------------------------------------------------------

export type Counts = ReadonlyMap<string, number>;

/**
 * How category keys sort: "numeric" for the values of a numeric column (kept as strings of numbers), "text" for
 * a categorical column, whose keys Python sorts by code point even when they look like numbers ("10" < "9").
 */
export type KeyOrder = "numeric" | "text";

/** Python's str ordering (code points), which differs from JavaScript's UTF-16 ordering beyond the BMP. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Category keys of both sides, sorted. */
export function unionKeys(reference: Counts, current: Counts, order: KeyOrder): string[] {
  const keys = [...new Set([...reference.keys(), ...current.keys()])];
  return order === "numeric" ? keys.sort((x, y) => Number(x) - Number(y)) : keys.sort(compareCodePoints);
}

function total(counts: Counts): number {
  let n = 0;
  for (const c of counts.values()) n += c;
  return n;
}

/** scipy.stats.chisquare(f_obs = current counts, f_exp = reference counts scaled to the current size). */
export function chiSquareTest(reference: Counts, current: Counts): PValueResult {
  const keys = unionKeys(reference, current, "text");
  const scale = total(current) / total(reference);
  let statistic = 0;
  for (const key of keys) {
    const expected = (reference.get(key) ?? 0) * scale;
    const observed = current.get(key) ?? 0;
    // A category never seen in the reference has expected 0: infinite statistic, p = 0 (as scipy gives).
    statistic += expected === 0 ? (observed === 0 ? 0 : Infinity) : (observed - expected) ** 2 / expected;
  }
  const df = keys.length - 1;
  // scipy answers NaN here (zero degrees of freedom), which never drifts in Evidently: 1 says the same, pushably.
  if (df === 0) return { statistic: 0, pValue: 1, detail: "one category on both sides" };
  return { statistic, pValue: chiSquaredSf(statistic, df), detail: `df=${df}` };
}

/**
 * Two-proportion z-test on the share of values other than the first sorted value (Evidently's _z_stat_test),
 * p = 2·(1 - Φ(|z|)) in double precision as Evidently computes it: it reaches 0 near |z| = 8.3, as Evidently's does.
 */
export function zTest(reference: Counts, current: Counts, order: KeyOrder): PValueResult {
  const keys = unionKeys(reference, current, order);
  if (keys.length === 1) return { statistic: 0, pValue: 1, detail: "one category on both sides" };
  const first = keys[0];
  const n1 = total(reference);
  const n2 = total(current);
  const p1 = (n1 - (reference.get(first) ?? 0)) / n1;
  const p2 = (n2 - (current.get(first) ?? 0)) / n2;
  const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return { statistic: z, pValue: 2 * (1 - normalCdf(Math.abs(z))), detail: `share of values other than "${first}"` };
}

/**
 * scipy.spatial.distance.jensenshannon(p, q, base): inputs are normalized to sum 1 first; base undefined is the
 * natural logarithm, as Evidently calls it (base 2 would read 1/sqrt(ln 2) ≈ 1.2 times higher).
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>, base?: number): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const m = (pi + qi) / 2;
    if (pi > 0) divergence += pi * Math.log(pi / m);
    if (qi > 0) divergence += qi * Math.log(qi / m);
  }
  const divided = base === undefined ? divergence : divergence / Math.log(base);
  return Math.sqrt(Math.max(divided / 2, 0));
}

/** Σ (r - c)·ln(r / c) over shares with zeros already filled. */
export function populationStabilityIndex(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  let psi = 0;
  for (let i = 0; i < reference.length; i++) psi += (reference[i] - current[i]) * Math.log(reference[i] / current[i]);
  return psi;
}

/** Evidently's feel_zeroes: a zero share becomes min(nonzero)/1e6 when that is ≤ 1e-4, else 1e-4. */
export function fillZeroShares(shares: Float64Array): Float64Array {
  let min = Infinity;
  for (const s of shares) if (s > 0 && s < min) min = s;
  const fill = min <= 0.0001 ? min / 1e6 : 0.0001;
  return shares.map((s) => (s === 0 ? fill : s));
}

export interface BinnedShares {
  readonly labels: string[];
  readonly reference: Float64Array;
  readonly current: Float64Array;
}

/** get_binned_data for categories: shares per key of the union. */
export function categoryShares(reference: Counts, current: Counts, order: KeyOrder): BinnedShares {
  const labels = unionKeys(reference, current, order);
  const nr = total(reference);
  const nc = total(current);
  return {
    labels,
    reference: Float64Array.from(labels, (k) => (reference.get(k) ?? 0) / nr),
    current: Float64Array.from(labels, (k) => (current.get(k) ?? 0) / nc),
  };
}

/** numpy.histogram_bin_edges(concat(reference, current), bins="sturges"). */
export function sturgesEdges(reference: WeightedPoints, current: WeightedPoints): Float64Array {
  const lo = Math.min(reference.values[0], current.values[0]);
  const hi = Math.max(reference.values[reference.values.length - 1], current.values[current.values.length - 1]);
  const n = reference.total + current.total;
  if (hi === lo) return Float64Array.of(lo - 0.5, lo + 0.5);
  const bins = Math.max(1, Math.ceil((hi - lo) / ((hi - lo) / (Math.log2(n) + 1))));
  const step = (hi - lo) / bins;
  return Float64Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * step));
}

/** numpy.histogram shares: [e_i, e_{i+1}) with the last bin closed. */
export function histogramShares(points: WeightedPoints, edges: Float64Array): Float64Array {
  const bins = edges.length - 1;
  const counts = new Float64Array(bins);
  for (let i = 0; i < points.values.length; i++) {
    const v = points.values[i];
    if (v < edges[0] || v > edges[bins]) continue;
    let lo = 0;
    let hi = bins;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid + 1] <= v) lo = mid + 1;
      else hi = mid;
    }
    counts[Math.min(lo, bins - 1)] += points.weights[i];
  }
  return counts.map((c) => c / points.total);
}
