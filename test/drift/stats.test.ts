/**
 * The drift statistics against published values: scipy 1.17 (stats.ks_2samp, kstwo, ksone, chisquare, chi2,
 * norm, wasserstein_distance; spatial.distance.jensenshannon) and closed forms. Expected numbers were computed
 * once with scipy and are written here as literals.
 */
import { ksTwoSamplePValue, kolmogorovSf, smirnovSf } from "../../service/src/drift/stats/kolmogorov";
import {
  chiSquareTest,
  defaultMethod,
  isDrift,
  jensenShannonDistance,
  ksTest,
  normedWasserstein,
  wassersteinDistance,
  zTest,
} from "../../service/src/drift/stats/methods";
import { chiSquaredSf, normalCdf, normalTwoSidedP } from "../../service/src/drift/stats/special";
import { NumericSummary } from "../../service/src/drift/summary";

/** Sorted weighted points from raw values (through the summary the job uses). */
function points(values: readonly number[], weights?: readonly number[]) {
  if (!weights) {
    const summary = new NumericSummary();
    for (const v of values) summary.addNumber(v);
    return summary.points();
  }
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  return {
    values: Float64Array.from(order, (i) => values[i]),
    weights: Float64Array.from(order, (i) => weights[i]),
    total: weights.reduce((s, w) => s + w, 0),
  };
}
const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));
/** Relative closeness, for p-values spanning hundreds of orders of magnitude. */
function expectRelative(actual: number, expected: number, digits = 6) {
  expect(Math.abs(actual - expected) / expected).toBeLessThan(10 ** -digits);
}

describe("two-sample Kolmogorov-Smirnov", () => {
  it("exact small samples match ks_2samp (method auto)", () => {
    const separated = ksTest(points([1, 2, 3]), points([4, 5, 6]));
    expect(separated.statistic).toBe(1);
    expectRelative(separated.pValue, 0.1); // 2 / C(6,3)
    expect(separated.detail).toContain("exact");

    const unequal = ksTest(points([0, 1, 2, 3, 4]), points([2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]));
    expect(unequal.statistic).toBeCloseTo(0.7142857142857143, 15);
    expectRelative(unequal.pValue, 0.06565656565656565);

    const a = Array.from({ length: 40 }, (_, i) => (i * 0.37) % 5);
    const b = Array.from({ length: 33 }, (_, i) => ((i * 0.53) % 5) + 0.8);
    const mixed = ksTest(points(a), points(b));
    expect(mixed.statistic).toBeCloseTo(0.175, 12);
    expectRelative(mixed.pValue, 0.5566968433881885);
  });

  it("n = m fully separated: 2 / C(2n, n)", () => {
    expectRelative(ksTwoSamplePValue(1, 5, 5).pValue, 2 / 252, 10);
    expectRelative(ksTwoSamplePValue(1, 20, 20).pValue, 2 / 137846528820, 8);
  });

  it("asymptotic (above 10,000 a side) follows kstwo with n = round(n1 n2 / (n1 + n2)), far tails included", () => {
    const moderate = ksTwoSamplePValue(0.02, 12_000, 12_000);
    expect(moderate.method).toBe("asymptotic");
    expectRelative(moderate.pValue, 0.016237424765516796, 5);
    expectRelative(ksTwoSamplePValue(0.05, 12_000, 12_000).pValue, 1.7821450409183714e-13, 5);
    // scipy's kstwo gives 1.1e-52 here; ks_2samp itself would already round to 0 beyond n·x² ≥ 370.
    const tail = ksTwoSamplePValue(0.1, 12_000, 12_000).pValue;
    expect(tail).toBeGreaterThan(0);
    expectRelative(tail, 1.1019323377725278e-52, 5);
    expectRelative(kolmogorovSf(0.3, 200), 1.8482195753126875e-16, 5);
    expectRelative(smirnovSf(6000, 0.1), 5.509661688862639e-53, 5);
  });

  it("identical samples do not drift; a shifted sample does", () => {
    const base = Array.from({ length: 500 }, (_, i) => Math.sin(i) * 10 + i / 50);
    const same = ksTest(points(base), points(base));
    expect(same.statistic).toBe(0);
    expect(same.pValue).toBe(1);
    const shifted = ksTest(points(base), points(base.map((v) => v + 3)));
    expect(isDrift("ks", shifted.pValue, 0.05)).toBe(true);
    // Evidently's ks drifts at p <= threshold; chisquare and z at p < threshold.
    expect(isDrift("ks", 0.05, 0.05)).toBe(true);
    expect(isDrift("chisquare", 0.05, 0.05)).toBe(false);
    expect(isDrift("z", 0.05, 0.05)).toBe(false);
    expect(isDrift("jensenshannon", 0.1, 0.1)).toBe(true);
    expect(shifted.pValue).toBeGreaterThan(0);
  });
});

describe("chi-squared", () => {
  it("matches scipy.stats.chisquare's documented examples", () => {
    // chisquare([16, 18, 16, 14, 12, 12], f_exp=[16, 16, 16, 16, 16, 8]) -> (3.5, 0.62338762774958)
    const result = chiSquareTest(counts({ a: 16, b: 16, c: 16, d: 16, e: 16, f: 8 }), counts({ a: 16, b: 18, c: 16, d: 14, e: 12, f: 12 }));
    expect(result.statistic).toBeCloseTo(3.5, 12);
    expectRelative(result.pValue, 0.6233876277495822, 10);
    // Uniform expectation: chisquare([16, 18, 16, 14, 12, 12]) -> (2.0, 0.84914503608460956)
    const uniform = chiSquareTest(counts({ a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 }), counts({ a: 16, b: 18, c: 16, d: 14, e: 12, f: 12 }));
    expect(uniform.statistic).toBeCloseTo(2, 12);
    expectRelative(uniform.pValue, 0.8491450360846096, 10);
  });

  it("survival function is accurate in the tails (chi2.sf)", () => {
    expectRelative(chiSquaredSf(1.5, 4), 0.8266414672967757, 12);
    expectRelative(chiSquaredSf(1000, 3), 1.7994208765314067e-216, 8);
    // df = 2 has the closed form exp(-x/2).
    expectRelative(chiSquaredSf(1200, 2), Math.exp(-600), 10);
  });

  it("a category the reference never had gives p = 0; identical counts p = 1", () => {
    expect(chiSquareTest(counts({ a: 10, b: 10 }), counts({ a: 10, b: 5, c: 5 })).pValue).toBe(0);
    expect(chiSquareTest(counts({ a: 10, b: 30, c: 5 }), counts({ a: 10, b: 30, c: 5 })).pValue).toBeCloseTo(1, 12);
  });
});

describe("two-proportion z-test", () => {
  it("matches the textbook pooled z statistic and the exact normal tail", () => {
    // p1 = 60/200, p2 = 90/200, pooled 0.375: z = -0.15 / sqrt(0.375·0.625·0.01) = -3.0983866769659336
    const result = zTest(counts({ "0": 140, "1": 60 }), counts({ "0": 110, "1": 90 }), "numeric");
    expect(result.statistic).toBeCloseTo(-3.0983866769659336, 12);
    expectRelative(result.pValue, normalTwoSidedP(3.0983866769659336), 12);
    expectRelative(normalTwoSidedP(1.96), 0.04999579029644087, 12);
    expectRelative(normalTwoSidedP(10), 1.523970604832094e-23, 10);
    // 2·norm.sf(30): finite, where 2·(1 - Φ(30)) would be 0.
    expectRelative(normalTwoSidedP(30), 9.813427854295816e-198, 8);
  });

  it("computes p = 2·(1 - Φ(|z|)) as Evidently does: 0 in the far tail, where the exact tail is not", () => {
    // 400 of 500 vs 100 of 400: z ≈ 16.8; Evidently reports 0, the exact tail is ~1.7e-63.
    const far = zTest(counts({ a: 400, b: 100 }), counts({ a: 100, b: 300 }), "text");
    expect(far.pValue).toBe(0);
    expect(normalTwoSidedP(far.statistic)).toBeGreaterThan(0);
    // scipy: 2 * (1 - norm.cdf(1.96)) = 0.04999579029644097 (ndtr rounds 1 - 0.5·erfc first).
    expect(2 * (1 - normalCdf(1.96))).toBe(0.04999579029644097);
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(-1.5)).toBeCloseTo(0.0668072012688581, 15);
  });

  it("sorts a categorical column's values as text and a numeric column's as numbers (the first value is tested)", () => {
    const reference = counts({ "10": 50, "9": 30, "8": 20 });
    const current = counts({ "10": 40, "9": 40, "8": 20 });
    expect(zTest(reference, current, "text").detail).toContain('"10"');
    expect(zTest(reference, current, "numeric").detail).toContain('"8"');
  });
});

describe("Wasserstein", () => {
  it("matches scipy.stats.wasserstein_distance's documented examples", () => {
    expect(wassersteinDistance(points([0, 1, 3]), points([5, 6, 8]))).toBeCloseTo(5, 12);
    expect(wassersteinDistance(points([0, 1], [3, 1]), points([0, 1], [2, 2]))).toBeCloseTo(0.25, 12);
    expect(
      wassersteinDistance(points([3.4, 3.9, 7.5, 7.8], [1.4, 0.9, 3.1, 7.2]), points([4.5, 1.4], [3.2, 3.5])),
    ).toBeCloseTo(4.078133143804785, 12);
  });

  it("normed like Evidently: distance / population std of the reference, std floored at 0.001", () => {
    // std([0, 1, 3]) = sqrt(14/9)
    expect(normedWasserstein(points([0, 1, 3]), points([5, 6, 8]), Math.sqrt(14 / 9))).toBeCloseTo(5 / Math.sqrt(14 / 9), 12);
    expect(normedWasserstein(points([2, 2]), points([2, 3]), 0)).toBeCloseTo(0.5 / 0.001, 9);
  });
});

describe("Jensen-Shannon distance", () => {
  it("matches scipy.spatial.distance.jensenshannon", () => {
    expect(jensenShannonDistance([1, 0], [0, 1], Math.E)).toBeCloseTo(0.8325546111576977, 14);
    expect(jensenShannonDistance([1, 0], [0, 1], 2)).toBeCloseTo(1, 14);
    expect(jensenShannonDistance([1, 0, 0], [0.5, 0.5, 0], Math.E)).toBeCloseTo(0.464501404022459, 14);
    expect(jensenShannonDistance([0.2, 0.3, 0.5], [0.5, 0.3, 0.2], 2)).toBeCloseTo(0.3095409536771482, 14);
    // Unnormalized inputs are normalized first, as scipy does.
    expect(jensenShannonDistance([2, 3, 5], [5, 3, 2], 2)).toBeCloseTo(0.3095409536771482, 14);
    expect(jensenShannonDistance([0.4, 0.6], [0.4, 0.6], 2)).toBe(0);
  });

  it("defaults to the natural logarithm, as Evidently passes scipy's base=None", () => {
    // jensenshannon([1, 0], [0, 1]) = sqrt(ln 2) = 0.8325546111576977; base 2 reads 1 / sqrt(ln 2) times higher.
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(0.8325546111576977, 15);
    const natural = jensenShannonDistance([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]);
    expect(jensenShannonDistance([0.2, 0.3, 0.5], [0.5, 0.3, 0.2], 2) / natural).toBeCloseTo(1 / Math.sqrt(Math.LN2), 12);
  });
});

describe("default test per column (Evidently's registry)", () => {
  it.each([
    ["numeric", 1000, 50, "ks"],
    ["numeric", 1000, 4, "chisquare"],
    ["numeric", 1000, 2, "z"],
    ["categorical", 500, 40, "chisquare"],
    ["categorical", 500, 2, "z"],
    ["numeric", 1001, 50, "wasserstein"],
    ["numeric", 5000, 3, "jensenshannon"],
    ["categorical", 5000, 200, "jensenshannon"],
  ] as const)("%s, %d reference rows, %d distinct -> %s", (kind, rows, distinct, method) => {
    expect(defaultMethod(kind, rows, distinct)).toBe(method);
  });
});
