/**
 * Bounded-memory summaries of one column, filled one value at a time while a data source streams by.
 *
 * Numeric: exact counts per distinct value (a Map) until `maxDistinct` distinct values; then the summary
 * switches to interval mode: the distinct values seen so far (plus any reference values supplied as `anchors`)
 * become bin edges, with an exact count per edge and count/sum/min/max per open interval between edges. A
 * summary's distribution is a list of weighted points; in interval mode each interval's mass sits at its mean.
 * What that keeps exact: every count at and between edges, hence the KS statistic against a reference whose
 * values are the anchors (the ECDF difference only peaks at edges), the mean, and the value range. What it
 * approximates: the Wasserstein distance, within the bound `wassersteinErrorBound` (mass moved to interval
 * means), and histograms for display.
 *
 * Categorical: exact counts per category up to `maxCategories`; later new categories are pooled into
 * OTHER_CATEGORY and reported as pooled.
 */

export const DEFAULT_MAX_DISTINCT = 65_536;
export const DEFAULT_MAX_CATEGORIES = 10_000;
export const OTHER_CATEGORY = "(other categories)";

/** A distribution as sorted support points with weights (counts). */
export interface WeightedPoints {
  readonly values: Float64Array;
  readonly weights: Float64Array;
  readonly total: number;
}

export class NumericSummary {
  /** Finite numbers accepted. */
  count = 0;
  /** Null, undefined or empty values. */
  missing = 0;
  /** Values that are present but not finite numbers ("abc", "NaN", Infinity, objects). */
  invalid = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  // Welford's running mean and sum of squared deviations: stable, and exact in both modes.
  private runningMean = 0;
  private m2 = 0;
  private exact: Map<number, number> | undefined = new Map();
  private intervals: IntervalCounts | undefined;

  constructor(
    private readonly maxDistinct = DEFAULT_MAX_DISTINCT,
    /** Values that must become edges if the summary switches to interval mode (the reference's support). */
    private readonly anchors?: Float64Array,
  ) {}

  /** Accepts a raw value from any reader: numbers, numeric strings, bigint; anything else is counted. */
  add(raw: unknown): void {
    if (raw === null || raw === undefined || raw === "") {
      this.missing++;
      return;
    }
    const value = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw) : typeof raw === "bigint" ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) {
      this.invalid++;
      return;
    }
    this.addNumber(value);
  }

  addNumber(value: number): void {
    this.count++;
    const delta = value - this.runningMean;
    this.runningMean += delta / this.count;
    this.m2 += delta * (value - this.runningMean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (this.exact) {
      this.exact.set(value, (this.exact.get(value) ?? 0) + 1);
      if (this.exact.size > this.maxDistinct) this.switchToIntervals();
    } else {
      this.intervals!.add(value);
    }
  }

  get isExact(): boolean {
    return this.exact !== undefined;
  }

  /** Distinct values (exact mode), or undefined once there are more than maxDistinct. */
  get distinctCount(): number | undefined {
    return this.exact?.size;
  }

  get mean(): number {
    return this.count ? this.runningMean : Number.NaN;
  }

  /** Population standard deviation (numpy's default ddof = 0, as Evidently's norm uses). */
  get std(): number {
    return this.count ? Math.sqrt(this.m2 / this.count) : Number.NaN;
  }

  points(): WeightedPoints {
    if (this.exact) {
      const values = Float64Array.from(this.exact.keys()).sort();
      const weights = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) weights[i] = this.exact.get(values[i])!;
      return { values, weights, total: this.count };
    }
    return this.intervals!.points(this.count);
  }

  /** Upper bound on |W1(true, points())|: each value moved at most half its interval's range. */
  get wassersteinErrorBound(): number {
    return this.intervals ? this.intervals.spreadBound() / this.count : 0;
  }

  /** Counts per distinct value as category keys (for chi-squared / z-test on low-cardinality numerics). */
  categoryCounts(): Map<string, number> {
    if (!this.exact) throw new Error("categoryCounts() needs an exact summary (few distinct values)");
    return new Map([...this.exact].map(([value, count]) => [String(value), count]));
  }

  private switchToIntervals(): void {
    const seen = Float64Array.from(this.exact!.keys());
    const edges = this.anchors ? mergeSorted(this.anchors, seen.sort()) : seen.sort();
    this.intervals = new IntervalCounts(edges);
    for (const [value, count] of this.exact!) this.intervals.addCount(value, count);
    this.exact = undefined;
  }
}

function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const all = new Float64Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[n - 1]) all[n++] = all[i];
  return all.slice(0, n);
}

/** Counts at sorted edges and count/sum/min/max in the open intervals around them (index i = below edge i). */
class IntervalCounts {
  private readonly atEdge: Float64Array;
  private readonly between: Float64Array;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;

  constructor(private readonly edges: Float64Array) {
    this.atEdge = new Float64Array(edges.length);
    const slots = edges.length + 1;
    this.between = new Float64Array(slots);
    this.sums = new Float64Array(slots);
    this.mins = new Float64Array(slots).fill(Number.POSITIVE_INFINITY);
    this.maxs = new Float64Array(slots).fill(Number.NEGATIVE_INFINITY);
  }

  add(value: number): void {
    this.addCount(value, 1);
  }

  addCount(value: number, count: number): void {
    const edges = this.edges;
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo < edges.length && edges[lo] === value) {
      this.atEdge[lo] += count;
      return;
    }
    this.between[lo] += count;
    this.sums[lo] += value * count;
    if (value < this.mins[lo]) this.mins[lo] = value;
    if (value > this.maxs[lo]) this.maxs[lo] = value;
  }

  points(total: number): WeightedPoints {
    const values: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i <= this.edges.length; i++) {
      if (this.between[i] > 0) {
        values.push(this.sums[i] / this.between[i]);
        weights.push(this.between[i]);
      }
      if (i < this.edges.length && this.atEdge[i] > 0) {
        values.push(this.edges[i]);
        weights.push(this.atEdge[i]);
      }
    }
    return { values: Float64Array.from(values), weights: Float64Array.from(weights), total };
  }

  spreadBound(): number {
    let bound = 0;
    for (let i = 0; i <= this.edges.length; i++) if (this.between[i] > 1) bound += (this.between[i] * (this.maxs[i] - this.mins[i])) / 2;
    return bound;
  }
}

export class CategoricalSummary {
  count = 0;
  missing = 0;
  /** Values that are not scalars (objects, arrays): counted, never keyed. */
  invalid = 0;
  /** Values pooled into OTHER_CATEGORY after maxCategories distinct categories. */
  pooled = 0;
  readonly counts = new Map<string, number>();

  constructor(private readonly maxCategories = DEFAULT_MAX_CATEGORIES) {}

  add(raw: unknown): void {
    if (raw === null || raw === undefined || raw === "") {
      this.missing++;
      return;
    }
    if (typeof raw === "object") {
      this.invalid++;
      return;
    }
    this.addKey(String(raw));
  }

  addKey(key: string): void {
    this.count++;
    const existing = this.counts.get(key);
    if (existing !== undefined) {
      this.counts.set(key, existing + 1);
    } else if (this.counts.size < this.maxCategories) {
      this.counts.set(key, 1);
    } else {
      this.pooled++;
      this.counts.set(OTHER_CATEGORY, (this.counts.get(OTHER_CATEGORY) ?? 0) + 1);
    }
  }
}
