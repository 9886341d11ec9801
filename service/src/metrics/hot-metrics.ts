/**
 * Counters and histograms for the per-request path.
 *
 * prom-client's `labels(...)` children still hash and validate the whole label set on every inc/observe
 * (~0.4-0.5 µs each on the 2-core bench machine), and a prediction touches six series. These classes resolve a
 * label set to a plain series object once, in `labels()`, so the hot path is a bucket search and two additions.
 * They register on a prom-client Registry like its own metrics (name, help, type, get(), reset()), so /metrics,
 * `getSingleMetric(name).get()` and the default process metrics keep working unchanged.
 *
 * Only what the service uses is implemented: no exemplars, no timers, no cluster aggregation beyond `sum`.
 */
import type { Metric, Registry } from "prom-client";

type Labels<L extends string> = Readonly<Record<L, string>>;

interface HotMetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers?: readonly Registry[];
}

interface SampleValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/** Shared label bookkeeping: one series object per distinct label set, found by a joined key. */
abstract class HotMetric<L extends string, S extends { readonly labels: Labels<L> }> {
  readonly aggregator = "sum" as const;
  abstract readonly type: "counter" | "histogram";
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected series = new Map<string, S>();

  constructor(config: HotMetricConfig<L>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new Error(`invalid metric name ${JSON.stringify(config.name)}`);
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...config.labelNames];
    // The registry only stores the object and calls get()/reset() on it; its type names prom-client's own classes.
    for (const registry of config.registers ?? []) registry.registerMetric(this as unknown as Metric);
  }

  protected abstract create(labels: Labels<L>): S;

  /** The series for one label set, created on first use. Resolve it once and keep it on the hot path. */
  protected resolve(labels: Labels<L>): S {
    const key = this.key(labels);
    let series = this.series.get(key);
    if (!series) {
      const copy = {} as Record<L, string>;
      for (const name of this.labelNames) copy[name] = labels[name];
      this.series.set(key, (series = this.create(copy)));
    }
    return series;
  }

  /** Drops one label set (e.g. a retired model version), as prom-client's remove() does. */
  remove(labels: Labels<L>): void {
    this.series.delete(this.key(labels));
  }

  reset(): void {
    this.series.clear();
  }

  private key(labels: Labels<L>): string {
    const given = Object.keys(labels);
    for (const name of given) {
      if (!this.labelNames.includes(name as L)) throw new Error(`${this.name} has no label ${JSON.stringify(name)} (labels: ${this.labelNames.join(", ")})`);
    }
    let key = "";
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== "string") throw new Error(`${this.name} label ${name} must be a string, got ${JSON.stringify(value)}`);
      key += `${value}\u0000`;
    }
    return key;
  }
}

/** One counter series: `inc()` is a finite check and an addition. */
export class CounterSeries<L extends string = string> {
  value = 0;
  constructor(readonly labels: Labels<L>) {}

  inc(amount = 1): void {
    if (!(amount >= 0) || amount === Infinity) throw new TypeError(`counter increment must be a finite number >= 0, got ${amount}`);
    this.value += amount;
  }
}

export class HotCounter<L extends string = string> extends HotMetric<L, CounterSeries<L>> {
  readonly type = "counter" as const;

  labels(labels: Labels<L>): CounterSeries<L> {
    return this.resolve(labels);
  }

  inc(labels: Labels<L>, amount = 1): void {
    this.resolve(labels).inc(amount);
  }

  protected create(labels: Labels<L>): CounterSeries<L> {
    return new CounterSeries(labels);
  }

  async get() {
    const values: SampleValue[] = [];
    for (const series of this.series.values()) values.push({ value: series.value, labels: { ...series.labels } });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** One histogram series: per-bucket (non-cumulative) counts, made cumulative only when collected. */
export class HistogramSeries<L extends string = string> {
  sum = 0;
  count = 0;
  readonly counts: Float64Array;
  constructor(
    readonly labels: Labels<L>,
    readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  /** Non-finite values cannot be bucketed and are ignored (prom-client would throw, failing the request). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram<L extends string = string> extends HotMetric<L, HistogramSeries<L>> {
  readonly type = "histogram" as const;
  readonly upperBounds: readonly number[];

  private pendingBounds: readonly number[] | undefined;

  constructor(config: HotMetricConfig<L> & { readonly buckets: readonly number[] }) {
    super(config);
    this.upperBounds = checkBuckets(config.name, config.buckets);
  }

  labels(labels: Labels<L>): HistogramSeries<L> {
    return this.resolve(labels);
  }

  /**
   * The series for one label set with its own buckets (a regressor's value range, stored with each version): the
   * exposition then carries that series' `le` bounds. A series that exists keeps the buckets it was created with.
   */
  labelsWithBuckets(labels: Labels<L>, buckets: readonly number[]): HistogramSeries<L> {
    const sorted = checkBuckets(this.name, buckets);
    this.pendingBounds = sorted;
    try {
      return this.resolve(labels);
    } finally {
      this.pendingBounds = undefined;
    }
  }

  observe(labels: Labels<L>, value: number): void {
    this.resolve(labels).observe(value);
  }

  protected create(labels: Labels<L>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.pendingBounds ?? this.upperBounds);
  }

  /** The exposition prom-client's Histogram gives: cumulative `_bucket{le}` (le first), `_sum`, `_count`. */
  async get() {
    const values: SampleValue[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      const bounds = series.upperBounds;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += series.counts[i]!;
        const le = i < bounds.length ? bounds[i]! : "+Inf";
        values.push({ metricName: `${this.name}_bucket`, value: cumulative, labels: { le, ...series.labels } });
      }
      values.push({ metricName: `${this.name}_sum`, value: series.sum, labels: { ...series.labels } });
      values.push({ metricName: `${this.name}_count`, value: series.count, labels: { ...series.labels } });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

function checkBuckets(name: string, buckets: readonly number[]): number[] {
  const sorted = [...buckets].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
    throw new Error(`${name}: buckets must be distinct finite numbers, got [${buckets.join(", ")}]`);
  }
  return sorted;
}
