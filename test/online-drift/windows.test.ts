/**
 * The pieces of online drift on their own: rings that append in O(1) and hand out only windows of new values,
 * categorical bins that follow Cochran's rule and take the categories a reference sample never saw, and the
 * evaluation, which is the drift job's statistics (KS, chi-squared) with the two-sample correction.
 */
import fc from "fast-check";
import { chiSquareTest, ksTest } from "../../service/src/drift/stats/methods";
import { chiSquaredSf } from "../../service/src/drift/stats/special";
import { NumericSummary } from "../../service/src/drift/summary";
import { evaluateWindow, featureThreshold } from "../../service/src/online-drift/evaluate";
import { binCategories, MIN_EXPECTED_PER_BIN, OTHER_BIN, type OnlineReference } from "../../service/src/online-drift/reference";
import { FeatureWindows } from "../../service/src/online-drift/window";

const points = (values: number[]) => {
  const s = new NumericSummary();
  for (const v of values) s.addNumber(v);
  return s.points();
};

describe("categorical bins", () => {
  it("give every category expected >= 5 in a window its own bin; the rare ones and the unseen share `other`, which meets the rule too", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 400 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 50, max: 5000 }), (raw, window) => {
        const counts = new Map(raw.map((c, i) => [`c${i}`, c + 1]));
        const bins = binCategories(counts, window);
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        expect(bins.bins.at(-1)).toBe(OTHER_BIN);
        expect(bins.counts.reduce((a, b) => a + b, 0)).toBe(total);
        // Every bin but a lone `other` expects at least MIN_EXPECTED_PER_BIN values in a window.
        if (bins.bins.length > 1) for (const c of bins.counts) expect((c * window) / total).toBeGreaterThanOrEqual(MIN_EXPECTED_PER_BIN);
        for (const [key] of counts) {
          const bin = bins.binOf.get(key);
          if (bin !== undefined) expect(bins.bins[bin]).toBe(key);
        }
      }),
    );
  });
});

describe("feature windows", () => {
  const reference: OnlineReference = {
    source: "test",
    rows: 100,
    features: [
      { name: "x", kind: "numeric", points: points([1, 2, 3]) },
      // Binned for 100-value windows: a and b get bins, z (expected 10) is the smallest and goes to `other`.
      { ...binCategories(new Map([["a", 60], ["b", 30], ["z", 10]]), 100), name: "c" },
    ],
  };

  it("hand out a window only when `size` new values arrived: tested windows never share a value", () => {
    const windows = new FeatureWindows(reference, 4);
    const taken: number[][] = [];
    for (let i = 0; i < 14; i++) {
      windows.append({ x: i, c: i % 2 ? "a" : "b" });
      const w = windows.take();
      if (w) taken.push([...(w[0] as { values: Float64Array }).values].sort((p, q) => p - q));
    }
    expect(taken).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    expect(windows.take()).toBeUndefined();
  });

  it("keep categorical counts per bin as values roll out; unseen categories count as `other`, missing ones not at all", () => {
    const windows = new FeatureWindows(reference, 3);
    for (const c of ["a", "a", "never-seen", "b", undefined]) windows.append({ x: 1, c });
    const [, cat] = windows.take() ?? [];
    const bins = (reference.features[1] as { readonly bins: readonly string[] }).bins;
    // The window holds never-seen, b and a missing value: one `other` (never-seen, where z is pooled too) and one b.
    expect(Object.fromEntries(bins.map((b, i) => [b, (cat as { counts: Int32Array }).counts[i]]))).toEqual({ a: 0, b: 1, [OTHER_BIN]: 1 });
  });
});

describe("evaluation", () => {
  it("numeric: the drift job's KS test; categorical: its chi-squared statistic, tested in the two-sample form", () => {
    const rng = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), { numRuns: 1300, seed: 7 });
    const ref = rng.slice(0, 1000);
    const cats = new Map([["a", 500], ["b", 300], ["c", 200]]);
    const reference: OnlineReference = { source: "t", rows: 1000, features: [{ name: "x", kind: "numeric", points: points(ref) }, { ...binCategories(cats, 300), name: "c" }] };
    const values = Float64Array.from(rng.slice(1000));
    const counts = Int32Array.from([140, 100, 60]);
    const threshold = featureThreshold(10_000, 2);
    const [ks, chi] = evaluateWindow(reference.features, [{ kind: "numeric", values }, { kind: "categorical", counts }], threshold);
    expect(ks).toEqual({ feature: "x", method: "ks", ...pick(ksTest(points(ref), points([...values]))), threshold, drifted: false, values: 300 });
    const { bins, counts: referenceCounts } = reference.features[1] as { readonly bins: readonly string[]; readonly counts: readonly number[] };
    expect(bins).toEqual(["a", "b", OTHER_BIN]);
    const goodness = chiSquareTest(new Map(bins.map((b, i) => [b, referenceCounts[i]!])), new Map(bins.map((b, i) => [b, counts[i]!]))).statistic;
    expect(chi!.statistic).toBeCloseTo((goodness * 1000) / 1300, 12);
    expect(chi!.pValue).toBeCloseTo(chiSquaredSf(chi!.statistic, bins.length - 1), 12);
    expect(threshold).toBe(1 / 20_000);
  });
});

function pick(result: { statistic: number; pValue: number }) {
  return { statistic: result.statistic, pValue: result.pValue };
}
