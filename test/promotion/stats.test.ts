/**
 * The statistics behind the gates, against values computed by hand or published tables (scipy gives the same):
 * normal quantiles, Pearson's chi-squared test of homogeneity with sparse bins merged, and the
 * non-inferiority verdicts at and around their margins.
 */
import fc from "fast-check";
import { alignBins } from "../../service/src/promotion/gates";
import { chiSquaredHomogeneity, meanNonInferiority, normalQuantile, proportionNonInferiority } from "../../service/src/promotion/stats";

describe("normalQuantile", () => {
  test.each([
    [0.5, 0],
    [0.95, 1.6448536269514722],
    [0.975, 1.959963984540054],
    [0.99, 2.3263478740408408],
    [0.001, -3.090232306167813],
  ])("Φ⁻¹(%p) = %p", (p, z) => expect(normalQuantile(p)).toBeCloseTo(z, 7));

  test("is antisymmetric and rejects p outside (0, 1)", () => {
    fc.assert(fc.property(fc.double({ min: 1e-9, max: 1 - 1e-9, noNaN: true }), (p) => Math.abs(normalQuantile(p) + normalQuantile(1 - p)) < 1e-6));
    expect(() => normalQuantile(1)).toThrow(/p must be in \(0, 1\)/);
  });
});

describe("chiSquaredHomogeneity", () => {
  test("a 2x3 table by hand: statistic 16/3, df 2, p = exp(-8/3)", () => {
    const result = chiSquaredHomogeneity([10, 20, 30], [20, 20, 20]);
    expect(result.statistic).toBeCloseTo(16 / 3, 10);
    expect(result.df).toBe(2);
    expect(result.pValue).toBeCloseTo(Math.exp(-8 / 3), 10);
  });

  test("identical shares at different sample sizes are homogeneous (p = 1, distance 0)", () => {
    const result = chiSquaredHomogeneity([5, 15, 30], [50, 150, 300]);
    expect(result.statistic).toBeCloseTo(0, 12);
    expect(result.pValue).toBeCloseTo(1, 12);
    expect(result.distance).toBeCloseTo(0, 12);
  });

  test("sparse bins are merged with their neighbours until every expected count is at least 5", () => {
    // Without merging, the two single observations in the tails would dominate the statistic.
    const result = chiSquaredHomogeneity([1, 0, 50, 50, 0, 1], [0, 1, 50, 50, 1, 0]);
    expect(result.bins).toBeLessThan(6);
    expect(result.pValue).toBeGreaterThan(0.5);
  });

  test("a whole-sample shift is significant and far apart", () => {
    const result = chiSquaredHomogeneity([80, 15, 5], [5, 15, 80]);
    expect(result.pValue).toBeLessThan(1e-20);
    expect(result.distance).toBeGreaterThan(0.5);
  });

  test("an empty arm or one bin is no evidence of a shift", () => {
    expect(chiSquaredHomogeneity([0, 0], [3, 4])).toMatchObject({ pValue: 1, df: 0 });
    expect(chiSquaredHomogeneity([3, 0], [4, 0])).toMatchObject({ pValue: 1, df: 0 });
  });
});

describe("alignBins", () => {
  test("histograms with different boundaries compare on the shared ones, as per-bin counts", () => {
    const canary = { metric: "prediction_value", cumulative: true, bins: new Map([["5", 2], ["20", 25], ["40", 85], ["60", 100], ["+Inf", 100]]) };
    const stable = { metric: "prediction_value", cumulative: true, bins: new Map([["10", 5], ["20", 25], ["30", 60], ["40", 85], ["60", 100], ["+Inf", 100]]) };
    expect(alignBins(canary, stable)).toEqual({ labels: ["20", "40", "60", "+Inf"], canary: [25, 60, 15, 0], stable: [25, 60, 15, 0] });
  });

  test("classes are the union of both arms' classes, absent ones counted 0", () => {
    const canary = { metric: "prediction_class_total", cumulative: false, bins: new Map([["cat", 3], ["dog", 1]]) };
    const stable = { metric: "prediction_class_total", cumulative: false, bins: new Map([["bird", 2], ["cat", 5]]) };
    expect(alignBins(canary, stable)).toEqual({ labels: ["bird", "cat", "dog"], canary: [0, 3, 1], stable: [2, 5, 0] });
  });
});

describe("non-inferiority", () => {
  test("proportions: equal hit rates with enough labels pass; with few labels the interval straddles the margin", () => {
    expect(proportionNonInferiority({ successes: 6600, trials: 10000 }, { successes: 6600, trials: 10000 }, 0.02, 0.95).verdict).toBe("pass");
    const few = proportionNonInferiority({ successes: 66, trials: 100 }, { successes: 660, trials: 1000 }, 0.02, 0.95);
    expect(few.verdict).toBe("inconclusive");
    expect(few.lower).toBeLessThan(-0.02);
    expect(few.upper).toBeGreaterThan(-0.02);
  });

  test("proportions: clearly worse fails, and the bounds bracket the observed difference", () => {
    const worse = proportionNonInferiority({ successes: 5000, trials: 10000 }, { successes: 6600, trials: 10000 }, 0.02, 0.95);
    expect(worse.verdict).toBe("fail");
    expect(worse.difference).toBeCloseTo(-0.16, 10);
    expect(worse.lower).toBeLessThan(worse.difference);
    expect(worse.upper).toBeGreaterThan(worse.difference);
    // A perfect canary stays well defined (Agresti-Caffo): no zero-width interval.
    const perfect = proportionNonInferiority({ successes: 300, trials: 300 }, { successes: 300, trials: 300 }, 0.02, 0.95);
    expect(perfect.upper - perfect.lower).toBeGreaterThan(0);
  });

  test("means (lower is better): within the margin passes, beyond it fails, the width follows the variance", () => {
    const same = { mean: 4, variance: 9, n: 5000 };
    expect(meanNonInferiority(same, same, 0.4, 0.95).verdict).toBe("pass");
    expect(meanNonInferiority({ mean: 6, variance: 14, n: 5000 }, same, 0.4, 0.95).verdict).toBe("fail");
    expect(meanNonInferiority({ mean: 4.4, variance: 9, n: 50 }, same, 0.4, 0.95).verdict).toBe("inconclusive");
  });
});
