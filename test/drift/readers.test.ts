/**
 * Readers and summaries on untrusted input: the CSV parser against any field content and any chunking
 * (property-based), NDJSON with bad lines and the prediction log's nested shape, Parquet from the real flights
 * file, and the bounded numeric summary giving the same KS statistic and Wasserstein distance (within its
 * stated bound) as the exact one.
 */
import fc from "fast-check";
import { asyncBufferFromFile } from "hyparquet";
import { flightsParquetPath } from "../../service/model-kit/flights";
import type { ColumnBatch } from "../../service/src/drift/readers/batch";
import { readCsv } from "../../service/src/drift/readers/csv";
import { readNdjson } from "../../service/src/drift/readers/ndjson";
import { readParquet } from "../../service/src/drift/readers/parquet";
import { ksStatistic, wassersteinDistance } from "../../service/src/drift/stats/methods";
import { NumericSummary } from "../../service/src/drift/summary";

async function collect(batches: AsyncIterable<ColumnBatch>, columns: readonly string[]) {
  const out: Record<string, unknown[]> = Object.fromEntries(columns.map((c) => [c, []]));
  let malformed = 0;
  for await (const batch of batches) {
    malformed += batch.malformed;
    for (const c of columns) out[c].push(...Array.from(batch.column(c) ?? []));
  }
  return { out, malformed };
}

async function* chunked(text: string, cuts: readonly number[]): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  let at = 0;
  for (const cut of [...cuts].map((c) => c % (bytes.length + 1)).sort((a, b) => a - b)) {
    yield bytes.subarray(at, cut);
    at = cut;
  }
  yield bytes.subarray(at);
}

const csvField = (value: string) => (/[",\r\n]/.test(value) || value === "" ? `"${value.replace(/"/g, '""')}"` : value);

describe("CSV reader", () => {
  it("round-trips any field content (quotes, commas, newlines, unicode) under any chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string(), fc.string({ unit: "grapheme" })), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom("\n", "\r\n"),
        async (rows, cuts, eol) => {
          const text = `a,b${eol}${rows.map(([a, b]) => `${csvField(a)},${csvField(b)}`).join(eol)}${eol}`;
          const { out, malformed } = await collect(readCsv(chunked(text, cuts), 7), ["a", "b"]);
          expect(malformed).toBe(0);
          expect(out.a).toEqual(rows.map(([a]) => a));
          expect(out.b).toEqual(rows.map(([, b]) => b));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a BOM, blank lines and a missing final newline are fine; rows with too many fields are counted, short rows padded", async () => {
    const text = "\uFEFFx,y\n1,2\n\n3,4,5\n6\n7,8";
    const { out, malformed } = await collect(readCsv(chunked(text, [])), ["x", "y"]);
    expect(out).toEqual({ x: ["1", "6", "7"], y: ["2", "", "8"] });
    expect(malformed).toBe(1);
  });
});

describe("CSV reader: rows it cannot read", () => {
  it("reports each row with too many fields (line, text, place among the parsed rows) under any chunking", async () => {
    const text = 'a,b\n1,2\n3,4,5\n"x\ny",6\n7,8,"9,9"\n10,11\n';
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 5 }), async (cuts) => {
        const batches: ColumnBatch[] = [];
        for await (const batch of readCsv(chunked(text, cuts), 2)) batches.push(batch);
        const malformed = batches.flatMap((b, k) => (b.malformedRows ?? []).map((m) => ({ ...m, batch: k })));
        expect(malformed.map(({ line, text, reason }) => ({ line, text, reason }))).toEqual([
          { line: 3, text: "3,4,5", reason: "line 3 has 3 fields, the header has 2" },
          { line: 6, text: '7,8,"9,9"', reason: "line 6 has 3 fields, the header has 2" },
        ]);
        // Rows + malformed rows fill each batch: no batch grows past its size with unparsable rows.
        expect(batches.every((b) => b.rows + b.malformed <= 2)).toBe(true);
        const { out } = await collect(readCsv(chunked(text, cuts)), ["a", "b"]);
        expect(out.a).toEqual(["1", "x\ny", "10"]);
      }),
      { numRuns: 40 },
    );
  });

  it("fails on a quote that is never closed, or that swallows more than the field limit, naming line and column", async () => {
    const drain = async (text: string, maxFieldLength?: number) => {
      for await (const _ of readCsv(chunked(text, [7]), { maxFieldLength })) void _;
    };
    await expect(drain('a,b\n1,2\n3,"4\n5,6\n')).rejects.toThrow('line 3: the quoted field of column "b" that opens there is never closed');
    await expect(drain('a,b\n"1' + "x".repeat(100) + "\n", 50)).rejects.toThrow('line 2: the quoted field of column "a" that opens there runs past 50 characters');
    // A closing quote at the very end of the file closes the field.
    await expect(drain('a,b\n1,"2"')).resolves.toBeUndefined();
  });
});

describe("NDJSON reader", () => {
  it("reads top-level and nested `features` keys; counts lines that are not JSON objects", async () => {
    const text = ['{"x": 1, "features": {"y": "a"}}', "not json", "[1,2]", "", '{"x": 2.5, "y": "b"}'].join("\n");
    const { out, malformed } = await collect(readNdjson(chunked(text, [5, 17])), ["x", "y"]);
    expect(out).toEqual({ x: [1, 2.5], y: ["a", "b"] });
    expect(malformed).toBe(2);
  });
});

describe("Parquet reader", () => {
  it("streams the real flights file one row group at a time, only the columns asked for", async () => {
    const file = await asyncBufferFromFile(flightsParquetPath());
    const batches = readParquet(file, ["distance", "origin", "no_such_column"]);
    const first = (await batches.next()).value as ColumnBatch;
    await batches.return(undefined);
    expect(first.rows).toBeGreaterThan(0);
    expect(first.column("distance")).toHaveLength(first.rows);
    expect(typeof first.column("origin")![0]).toBe("string");
    expect(first.column("delay")).toBeUndefined();
    expect(first.column("no_such_column")).toBeUndefined();
  }, 30_000);
});

describe("bounded numeric summary", () => {
  it("past its distinct-value cap: same KS statistic as exact, Wasserstein within the stated bound", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.double({ min: -150, max: 150, noNaN: true }), { minLength: 1, maxLength: 400 }),
        (referenceValues, currentValues) => {
          const reference = new NumericSummary();
          for (const v of referenceValues) reference.addNumber(v);
          const exact = new NumericSummary();
          const bounded = new NumericSummary(8, reference.points().values);
          for (const v of currentValues) {
            exact.addNumber(v);
            bounded.addNumber(v);
          }
          const r = reference.points();
          expect(ksStatistic(r, bounded.points())).toBeCloseTo(ksStatistic(r, exact.points()), 12);
          const error = Math.abs(wassersteinDistance(r, bounded.points()) - wassersteinDistance(r, exact.points()));
          expect(error).toBeLessThanOrEqual(bounded.wassersteinErrorBound + 1e-9);
          expect(bounded.mean).toBeCloseTo(exact.mean, 9);
          expect(bounded.std).toBeCloseTo(exact.std, 9);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("counts missing and non-numeric values instead of failing", () => {
    const summary = new NumericSummary();
    for (const v of [1, "2", "", null, undefined, "abc", "NaN", Infinity, {}, 3n]) summary.add(v);
    expect({ count: summary.count, missing: summary.missing, invalid: summary.invalid }).toEqual({ count: 3, missing: 3, invalid: 4 });
  });
});
