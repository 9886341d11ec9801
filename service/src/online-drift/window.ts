/**
 * The rolling window of one version's recent feature values: a preallocated ring per feature (numbers in a
 * Float64Array, categories as bin indexes with running counts per bin), so a request appends in O(1) per
 * feature and a version holds features x window values however long it serves. A window is taken for testing
 * once `size` new values have arrived since the previous one, so tested windows never overlap and, under no
 * drift, are independent: false alarms then come at the per-window rate the thresholds are set for.
 */
import type { FeatureRecord } from "../model/types";
import type { FeatureReference, OnlineReference } from "./reference";

/** One tested window: the numeric features' values (NaN where missing) or the categorical features' bin counts. */
export type FeatureWindow = { readonly kind: "numeric"; readonly values: Float64Array } | { readonly kind: "categorical"; readonly counts: Int32Array };

interface Ring {
  readonly reference: FeatureReference;
  readonly values?: Float64Array;
  readonly bins?: Int32Array;
  readonly counts?: Int32Array;
}

export class FeatureWindows {
  private readonly rings: Ring[];
  private next = 0;
  private filled = 0;
  /** Values appended since the last window was taken. */
  private fresh = 0;

  constructor(
    reference: OnlineReference,
    readonly size: number,
  ) {
    this.rings = reference.features.map((feature) =>
      feature.kind === "numeric"
        ? { reference: feature, values: new Float64Array(size).fill(Number.NaN) }
        : { reference: feature, bins: new Int32Array(size).fill(-1), counts: new Int32Array(feature.bins.length) },
    );
  }

  append(record: FeatureRecord): void {
    const at = this.next;
    for (let f = 0; f < this.rings.length; f++) {
      const ring = this.rings[f]!;
      const value = record[ring.reference.name];
      if (ring.values) {
        ring.values[at] = typeof value === "number" ? value : Number.NaN;
        continue;
      }
      const reference = ring.reference as Extract<FeatureReference, { kind: "categorical" }>;
      const old = ring.bins![at]!;
      if (old >= 0) ring.counts![old]!--;
      const bin = value === undefined || value === null ? -1 : (reference.binOf.get(String(value)) ?? reference.bins.length - 1);
      ring.bins![at] = bin;
      if (bin >= 0) ring.counts![bin]!++;
    }
    this.next = at + 1 === this.size ? 0 : at + 1;
    if (this.filled < this.size) this.filled++;
    this.fresh++;
  }

  /** Whether a window of entirely new values is ready. */
  get ready(): boolean {
    return this.fresh >= this.size && this.filled === this.size;
  }

  /** The current window (copies), and a fresh start for the next; undefined until one is ready. */
  take(): FeatureWindow[] | undefined {
    if (!this.ready) return undefined;
    this.fresh = 0;
    return this.rings.map((ring) => (ring.values ? { kind: "numeric", values: ring.values.slice() } : { kind: "categorical", counts: ring.counts!.slice() }));
  }
}
