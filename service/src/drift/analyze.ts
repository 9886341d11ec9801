/**
 * Compares a current data set with the reference, column by column, and decides dataset drift the way
 * Evidently's DataDriftPreset does: each feature gets its default test (or an override), and the data set
 * drifts when at least `driftShare` of the features do. Prediction and target drift are tested the same way and
 * reported beside the features, not counted in the share.
 */
import type { ColumnRole, ColumnValues, DatasetSummary } from "./dataset";
import {
  categoryShares,
  chiSquareTest,
  defaultMethod,
  fillZeroShares,
  histogramShares,
  isDrift,
  jensenShannonDistance,
  ksTest,
  METHODS,
  normedWasserstein,
  populationStabilityIndex,
  sturgesEdges,
  zTest,
  type ColumnKind,
  type Counts,
  type MethodName,
} from "./stats/methods";
import type { NumericSummary, WeightedPoints } from "./summary";

export interface ColumnOverride {
  readonly method?: MethodName;
  readonly threshold?: number;
}

export interface DriftOptions {
  /** Per-column method/threshold, by column name. */
  readonly columns?: Readonly<Record<string, ColumnOverride>>;
  /** Applied to every column without its own override. */
  readonly all?: ColumnOverride;
  /** Share of drifted features at which the data set counts as drifted. @default 0.5 */
  readonly driftShare?: number;
}

export const DEFAULT_DRIFT_SHARE = 0.5;
/** Numeric columns with at most this many distinct values (both sides) are charted as bars per value. */
const MAX_BARS = 30;
const HISTOGRAM_BINS = 30;
/** Evidently bins numeric columns for JS/PSI by category up to this many reference values, else Sturges bins. */
const MAX_VALUE_BINS = 20;

export interface SideStats {
  readonly count: number;
  readonly missing: number;
  readonly invalid: number;
  readonly distinct: number | null;
  readonly mean?: number;
  readonly std?: number;
  readonly min?: number;
  readonly max?: number;
}

export type Chart =
  | { readonly type: "histogram"; readonly edges: number[]; readonly reference: number[]; readonly current: number[] }
  | { readonly type: "bars"; readonly labels: string[]; readonly reference: number[]; readonly current: number[] };

export interface ColumnDrift {
  readonly column: string;
  readonly role: ColumnRole;
  readonly kind: ColumnKind;
  readonly method: MethodName;
  readonly methodTitle: string;
  readonly scoreKind: "p_value" | "distance";
  /** The test statistic (KS D, chi-squared, z) or, for distances, the distance itself. */
  readonly statistic: number;
  readonly pValue: number | null;
  /** The value compared with the threshold: the p-value or the distance (Evidently's drift_score). */
  readonly score: number;
  readonly threshold: number;
  readonly drifted: boolean;
  /** False when the summaries approximated the score (see notes). */
  readonly exact: boolean;
  readonly reference: SideStats;
  readonly current: SideStats;
  readonly notes: string[];
  readonly chart: Chart;
}

export interface SkippedColumn {
  readonly column: string;
  readonly role: ColumnRole;
  readonly reason: string;
}

export interface DriftAnalysis {
  readonly dataset: {
    readonly drifted: boolean;
    readonly driftShare: number;
    readonly driftedColumns: number;
    readonly columns: number;
    readonly threshold: number;
  };
  readonly columns: ColumnDrift[];
  readonly prediction: ColumnDrift | null;
  readonly target: ColumnDrift | null;
  readonly skipped: SkippedColumn[];
}

export function analyzeDrift(reference: DatasetSummary, current: DatasetSummary, options: DriftOptions = {}): DriftAnalysis {
  const results: ColumnDrift[] = [];
  const skipped: SkippedColumn[] = [];
  for (const [name, refColumn] of reference.columns) {
    const curColumn = current.columns.get(name);
    const role = refColumn.plan.role;
    const kind = reference.resolvedKind(name);
    const outcome = curColumn ? analyzeColumn(name, kind, refColumn, curColumn, options) : "column not read from the current data";
    if (typeof outcome === "string") skipped.push({ column: name, role, reason: outcome });
    else results.push(outcome);
  }
  const features = results.filter((r) => r.role === "feature");
  const driftedColumns = features.filter((r) => r.drifted).length;
  const threshold = options.driftShare ?? DEFAULT_DRIFT_SHARE;
  const driftShare = features.length ? driftedColumns / features.length : 0;
  return {
    dataset: { drifted: features.length > 0 && driftShare >= threshold, driftShare, driftedColumns, columns: features.length, threshold },
    columns: features.sort((a, b) => severity(b) - severity(a)),
    prediction: results.find((r) => r.role === "prediction") ?? null,
    target: results.find((r) => r.role === "target") ?? null,
    skipped,
  };
}

/** How far past its threshold a score is (> 1 means drift), comparable across p-values and distances. */
export function severity(result: Pick<ColumnDrift, "scoreKind" | "score" | "threshold">): number {
  if (result.scoreKind === "distance") return result.score / result.threshold;
  const p = Math.max(result.score, 1e-300);
  return Math.log(p) / Math.log(result.threshold);
}

function analyzeColumn(name: string, kind: ColumnKind, ref: ColumnValues, cur: ColumnValues, options: DriftOptions): ColumnDrift | string {
  const refSummary = kind === "numeric" ? ref.numeric : ref.categorical;
  const curSummary = kind === "numeric" ? cur.numeric : cur.categorical;
  if (!refSummary || !curSummary) return `column is ${kind} in the reference but was read as another kind`;
  if (!ref.present) return "column absent from the reference data";
  if (!cur.present) return "column absent from the current data";
  if (refSummary.count === 0) return `no valid values in the reference (${refSummary.missing} missing, ${refSummary.invalid} invalid)`;
  if (curSummary.count === 0) return `no valid values in the current data (${curSummary.missing} missing, ${curSummary.invalid} invalid)`;

  const notes: string[] = [];
  if (curSummary.invalid > 0) notes.push(`${curSummary.invalid} current values are not ${kind === "numeric" ? "finite numbers" : "scalars"} and were skipped`);
  if (refSummary.invalid > 0) notes.push(`${refSummary.invalid} reference values are not ${kind === "numeric" ? "finite numbers" : "scalars"} and were skipped`);

  let distinct: number;
  if (kind === "numeric") {
    const r = ref.numeric!;
    const c = cur.numeric!;
    distinct = r.isExact && c.isExact ? new Set([...r.points().values, ...c.points().values]).size : Number.POSITIVE_INFINITY;
  } else {
    distinct = new Set([...ref.categorical!.counts.keys(), ...cur.categorical!.counts.keys()]).size;
    if (cur.categorical!.pooled > 0) notes.push(`${cur.categorical!.pooled} current values of rare categories pooled beyond the category cap`);
  }
  const override = options.columns?.[name] ?? options.all ?? {};
  const method = override.method ?? defaultMethod(kind, refSummary.count, distinct);
  if (!METHODS[method].kinds.includes(kind)) return `method ${method} does not apply to ${kind} columns`;
  const threshold = override.threshold ?? METHODS[method].defaultThreshold;

  const test = runTest(method, kind, ref, cur, notes);
  if (typeof test === "string") return test;
  return {
    column: name,
    role: ref.plan.role,
    kind,
    method,
    methodTitle: METHODS[method].title,
    scoreKind: METHODS[method].scoreKind,
    statistic: test.statistic,
    pValue: test.pValue,
    score: test.score,
    threshold,
    drifted: isDrift(method, test.score, threshold),
    exact: test.exact,
    reference: sideStats(ref, kind),
    current: sideStats(cur, kind),
    notes,
    chart: kind === "numeric" ? numericChart(ref.numeric!, cur.numeric!) : barsChart(ref.categorical!.counts, cur.categorical!.counts),
  };
}

interface TestOutcome {
  readonly statistic: number;
  readonly pValue: number | null;
  readonly score: number;
  readonly exact: boolean;
}

function runTest(method: MethodName, kind: ColumnKind, ref: ColumnValues, cur: ColumnValues, notes: string[]): TestOutcome | string {
  const numeric = kind === "numeric";
  const countsOf = (column: ColumnValues): Counts | undefined =>
    numeric ? (column.numeric!.isExact ? column.numeric!.categoryCounts() : undefined) : column.categorical!.counts;
  switch (method) {
    case "ks": {
      const r = ref.numeric!;
      const c = cur.numeric!;
      const result = ksTest(r.points(), c.points());
      notes.push(`KS ${result.detail}`);
      // Exact while the reference is exact: the current side's interval mode keeps every reference value as an edge.
      return { statistic: result.statistic, pValue: result.pValue, score: result.pValue, exact: r.isExact };
    }
    case "wasserstein": {
      const r = ref.numeric!;
      const c = cur.numeric!;
      const distance = normedWasserstein(r.points(), c.points(), r.std);
      const bound = (r.wassersteinErrorBound + c.wassersteinErrorBound) / Math.max(r.std, 0.001);
      if (bound > 0) notes.push(`normed distance approximated from interval summaries, error at most ${bound.toPrecision(2)}`);
      return { statistic: distance, pValue: null, score: distance, exact: bound === 0 };
    }
    case "chisquare":
    case "z": {
      const r = countsOf(ref);
      const c = countsOf(cur);
      if (!r || !c) return `method ${method} needs counts per value, but the column has too many distinct values`;
      const result = method === "z" ? zTest(r, c, numeric ? "numeric" : "text") : chiSquareTest(r, c);
      notes.push(`${method === "z" ? "z-test" : "chi-squared"}: ${result.detail}`);
      return { statistic: result.statistic, pValue: result.pValue, score: result.pValue, exact: true };
    }
    case "jensenshannon":
    case "psi": {
      const shares = binnedShares(kind, ref, cur);
      const distance =
        method === "psi"
          ? populationStabilityIndex(fillZeroShares(shares.reference), fillZeroShares(shares.current))
          : jensenShannonDistance(shares.reference, shares.current);
      return { statistic: distance, pValue: null, score: distance, exact: shares.exact };
    }
  }
}

/** Evidently's get_binned_data: categories (or ≤ 20 numeric values) as they are, else Sturges bins. */
function binnedShares(kind: ColumnKind, ref: ColumnValues, cur: ColumnValues): { reference: Float64Array; current: Float64Array; exact: boolean } {
  if (kind === "categorical") return { ...categoryShares(ref.categorical!.counts, cur.categorical!.counts, "text"), exact: true };
  const r = ref.numeric!;
  const c = cur.numeric!;
  if (r.isExact && c.isExact && (r.distinctCount ?? Infinity) <= MAX_VALUE_BINS) {
    return { ...categoryShares(r.categoryCounts(), c.categoryCounts(), "numeric"), exact: true };
  }
  const rp = r.points();
  const cp = c.points();
  const edges = sturgesEdges(rp, cp);
  return { reference: histogramShares(rp, edges), current: histogramShares(cp, edges), exact: r.isExact && c.isExact };
}

function sideStats(column: ColumnValues, kind: ColumnKind): SideStats {
  if (kind === "categorical") {
    const s = column.categorical!;
    return { count: s.count, missing: s.missing, invalid: s.invalid, distinct: s.counts.size };
  }
  const s = column.numeric!;
  return { count: s.count, missing: s.missing, invalid: s.invalid, distinct: s.distinctCount ?? null, mean: s.mean, std: s.std, min: s.min, max: s.max };
}

function numericChart(ref: NumericSummary, cur: NumericSummary): Chart {
  const rp = ref.points();
  const cp = cur.points();
  if (ref.isExact && cur.isExact) {
    const values = [...new Set([...rp.values, ...cp.values])].sort((a, b) => a - b);
    if (values.length <= MAX_BARS) {
      const share = (points: WeightedPoints, v: number) => {
        const i = points.values.indexOf(v);
        return i < 0 ? 0 : points.weights[i] / points.total;
      };
      return { type: "bars", labels: values.map(String), reference: values.map((v) => share(rp, v)), current: values.map((v) => share(cp, v)) };
    }
  }
  const lo = Math.min(ref.min, cur.min);
  const hi = Math.max(ref.max, cur.max);
  const step = (hi - lo) / HISTOGRAM_BINS;
  const edges = Float64Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => (i === HISTOGRAM_BINS ? hi : lo + i * step));
  return { type: "histogram", edges: [...edges], reference: [...histogramShares(rp, edges)], current: [...histogramShares(cp, edges)] };
}

/** Bars for the categories with the largest share on either side; the rest summed as one bar. */
function barsChart(ref: Counts, cur: Counts, maxBars = 20): Chart {
  const { labels, reference, current } = categoryShares(ref, cur, "text");
  const order = labels.map((_, i) => i).sort((a, b) => Math.max(reference[b], current[b]) - Math.max(reference[a], current[a]));
  const top = order.slice(0, maxBars);
  const rest = order.slice(maxBars);
  const chart = { type: "bars" as const, labels: top.map((i) => labels[i]), reference: top.map((i) => reference[i]), current: top.map((i) => current[i]) };
  if (rest.length) {
    chart.labels.push(`${rest.length} more`);
    chart.reference.push(rest.reduce((s, i) => s + reference[i], 0));
    chart.current.push(rest.reduce((s, i) => s + current[i], 0));
  }
  return chart;
}
