/**
 * Drift scores equal Evidently's: every default method (ks, chisquare, z, wasserstein, jensenshannon, psi) on
 * small and large references, numeric and categorical columns, against values computed with scipy the way
 * Evidently's stattests call it (fixtures/evidently-parity.py wrote fixtures/evidently-parity.json). The data go
 * through the job's own path: column summaries filled batch by batch, then analyzeDrift.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeDrift, type ColumnDrift } from "../../service/src/drift/analyze";
import { DatasetSummary, type ColumnPlan } from "../../service/src/drift/dataset";
import type { ColumnBatch } from "../../service/src/drift/readers/batch";
import { METHODS, type ColumnKind, type MethodName } from "../../service/src/drift/stats/methods";

interface Expected {
  readonly score: number;
  readonly drifted: boolean;
}
interface ParityCase {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly reference: string;
  readonly current: string;
  readonly defaultMethod: MethodName;
  readonly methods: Readonly<Record<string, Expected>>;
}
interface Fixture {
  readonly thresholds: Readonly<Record<MethodName, number>>;
  readonly datasets: Readonly<Record<string, [number | string, number][]>>;
  readonly cases: readonly ParityCase[];
}

const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "evidently-parity.json"), "utf8")) as Fixture;
const COLUMN = "x";

/** A data set as the readers deliver it: one column, in batches of at most 4096 rows. */
function summarize(name: string, kind: ColumnKind, anchors?: Float64Array): DatasetSummary {
  const values = fixture.datasets[name].flatMap(([value, count]) => Array<number | string>(count).fill(value));
  const plan: ColumnPlan = { name: COLUMN, role: "feature", kind };
  const summary = new DatasetSummary([plan], anchors ? () => anchors : undefined);
  for (let start = 0; start < values.length; start += 4096) {
    const slice = values.slice(start, start + 4096);
    const batch: ColumnBatch = { rows: slice.length, names: [COLUMN], malformed: 0, column: (c) => (c === COLUMN ? slice : undefined) };
    summary.add(batch);
  }
  return summary;
}

function drift(testCase: ParityCase, method?: MethodName): ColumnDrift {
  const reference = summarize(testCase.reference, testCase.kind);
  const numeric = reference.columns.get(COLUMN)!.numeric;
  const current = summarize(testCase.current, testCase.kind, numeric?.isExact ? numeric.points().values : undefined);
  const analysis = analyzeDrift(reference, current, method ? { all: { method } } : {});
  expect(analysis.skipped).toEqual([]);
  return analysis.columns[0];
}

/** Equal to the last few digits: relative 1e-9 (p-values down to 1e-300 included), and 0 exactly where scipy gives 0. */
function expectScore(actual: number, expected: number) {
  if (expected === 0) expect(actual).toBe(0);
  else expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(1e-9);
}

describe("drift scores equal Evidently's (scipy-computed fixture)", () => {
  it("covers every default method on small and large references, both column kinds", () => {
    const defaults = new Set(fixture.cases.map((c) => c.defaultMethod));
    expect([...defaults].sort()).toEqual(["chisquare", "jensenshannon", "ks", "wasserstein", "z"]);
    const methods = new Set(fixture.cases.flatMap((c) => Object.keys(c.methods)));
    expect([...methods].sort()).toEqual(["chisquare", "jensenshannon", "ks", "psi", "wasserstein", "z"]);
    for (const kind of ["numeric", "categorical"]) {
      const rows = fixture.cases.filter((c) => c.kind === kind).map((c) => fixture.datasets[c.reference].reduce((n, [, count]) => n + count, 0));
      expect(Math.min(...rows)).toBeLessThanOrEqual(1000);
      expect(Math.max(...rows)).toBeGreaterThan(1000);
    }
  });

  it("uses Evidently's default thresholds and comparisons", () => {
    for (const [method, threshold] of Object.entries(fixture.thresholds)) expect(METHODS[method as MethodName].defaultThreshold).toBe(threshold);
  });

  describe.each(fixture.cases.map((c) => [c.name, c] as const))("%s", (_name, testCase) => {
    it(`picks ${testCase.defaultMethod} by default, with Evidently's score and verdict`, () => {
      const result = drift(testCase);
      const expected = testCase.methods[testCase.defaultMethod];
      expect(result.method).toBe(testCase.defaultMethod);
      expect(result.threshold).toBe(fixture.thresholds[testCase.defaultMethod]);
      expectScore(result.score, expected.score);
      expect(result.drifted).toBe(expected.drifted);
      expect(result.exact).toBe(true);
    });

    it.each(Object.entries(testCase.methods).map(([method, expected]) => [method, expected] as const))("%s equals Evidently's", (method, expected) => {
      const result = drift(testCase, method as MethodName);
      expect(result.method).toBe(method);
      expectScore(result.score, expected.score);
      expect(result.drifted).toBe(expected.drifted);
    });
  });
});
