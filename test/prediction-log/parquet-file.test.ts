/**
 * The prediction log's own Parquet writer (parquet-file.ts and the modules under it), judged by two readers it
 * shares no code with: hyparquet (the drift job's reader) and arrow-rs (Rust's Parquet implementation, as
 * WebAssembly). Every column kind with NULLs, COPY escapes, non-ASCII text, NaN and infinities, int64 seqs
 * beyond 2^53 with an epoch jump (delta encoding's PLAIN fallback), pages cut at 1 MiB, several row groups and
 * hours; statistics checked against the values; refused rows leave the other columns aligned; Snappy
 * round trips through hyparquet's decoder.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetMetadata, snappyUncompress } from "hyparquet";
import { readParquet } from "../../service/src/drift/readers/parquet";
import { booleanField, decodeLine, jsonField, millisecondsField, NULL_FIELD, outputField, textField } from "../../service/src/prediction-log/copy-text";
import { ByteSink } from "../../service/src/prediction-log/byte-sink";
import { RollBuilder } from "../../service/src/prediction-log/parquet-roll";
import { PREDICTION_PARQUET_COLUMNS, parquetValue } from "../../service/src/prediction-log/parquet-schema";
import { PREDICTION_LINE_COLUMNS } from "../../service/src/prediction-log/rows";
import { snappyCompress } from "../../service/src/prediction-log/snappy";
import { newPredictionId } from "../../service/src/model/prediction-id";
import { arrowRsRoundTrip } from "../support/arrow-rs";

const OPTIONS = { location: { bucket: "log", prefix: "p" }, stream: "predictions" as const, replica: "replica-a", rowGroupRows: 1500 };
const EPOCH = BigInt(Date.UTC(2026, 11, 2, 5)) << 20n;
const LATER_EPOCH = BigInt(Date.UTC(2026, 11, 9, 5)) << 20n;

/** Row i as a journal line: every kind of value the columns meet, deterministically. */
function line(i: number): string {
  const hour = i < 5000 ? 5 : 6;
  const time = new Date(Date.UTC(2026, 11, 2, hour, 0, Math.floor(i / 100) % 60, (i >> 2) % 1000)).toISOString();
  const regression = i % 7 === 3;
  const probability = regression ? NULL_FIELD : i % 97 === 0 ? "NaN" : i % 89 === 0 ? "-Infinity" : outputField(Math.fround(((i * 37) % 1000) / 1000));
  const label = regression ? NULL_FIELD : i % 11 === 0 ? textField(`class\t${i % 300}\\é`) : String(i % 2);
  const features = JSON.stringify({ i, origin: i % 5 ? "SFO" : "Zürich \u{1F6EB}", note: i % 13 ? "" : 'say "hi"\\n', pad: "x".repeat(700 + (i % 50)) });
  const model = i % 1000 < 990 ? "flight-delay" : textField("odd\tmodel");
  const seq = (i < 3000 ? EPOCH : LATER_EPOCH) + BigInt(i);
  return [
    newPredictionId(), model, i % 3 ? "3" : "12", i % 4 ? "stable" : "canary", time, regression ? "regression" : "binary",
    jsonField(features), probability, label, regression ? String(i / 8) : NULL_FIELD, millisecondsField((i % 40) / 7), booleanField(i % 9 === 0), "replica-a", String(seq),
  ].join("\t");
}

/** Lines the columns refuse, one per column kind that can refuse. */
const BAD = [
  (l: string[]) => (l[7] = "abc"),
  (l: string[]) => (l[11] = "x"),
  (l: string[]) => (l[4] = "2026-13-40T99:00:00.000Z"),
  (l: string[]) => (l[13] = "12a"),
  (l: string[]) => (l[0] = NULL_FIELD),
];

function journal(rows: number): { text: string; good: string[][] } {
  const good: string[][] = [];
  let text = "";
  for (let i = 0; i < rows; i++) {
    const fields = line(i).split("\t");
    if (i % 1500 === 700) BAD[(i / 1500) | 0]?.(fields);
    else good.push(fields);
    text += `${fields.join("\t")}\n`;
  }
  return { text, good };
}

/** What a reader should give for a line: the column's value (times as ms, int64 as text). */
function expectedRow(fields: string[]): Record<string, unknown> {
  const decoded = decodeLine(fields.join("\t"));
  const row: Record<string, unknown> = {};
  PREDICTION_PARQUET_COLUMNS.forEach((c) => {
    const raw = decoded[PREDICTION_LINE_COLUMNS.indexOf(c.name)] === null ? NULL_FIELD : fields[PREDICTION_LINE_COLUMNS.indexOf(c.name)]!;
    const value = parquetValue(c.kind, c.nullable, raw, c.name);
    row[c.name] = c.kind === "float" ? Math.fround(value as number) : typeof value === "bigint" ? String(value) : value;
  });
  return row;
}

function normalise(value: unknown): unknown {
  if (value instanceof Date) return String(value.getTime());
  if (typeof value === "bigint") return String(value);
  return value;
}

async function readRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const group of readParquet(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)) {
    for (let r = 0; r < group.rows; r++) rows.push(Object.fromEntries(group.names.map((n) => [n, normalise(group.column(n)?.[r])])));
  }
  return rows;
}

describe("the prediction log's Parquet files", () => {
  const ROWS = 7000;
  const { text, good } = journal(ROWS);
  const roll = new RollBuilder(OPTIONS);
  const data = Buffer.from(text);
  // Chunks cut at line ends, as the journal reads them.
  for (let at = 0; at < data.length; ) {
    const end = Math.min(data.length, data.lastIndexOf(0x0a, at + (256 << 10)) + 1 || data.length);
    expect(roll.take(data.subarray(at, end), PREDICTION_LINE_COLUMNS, undefined).bytes).toBe(end - at);
    at = end;
  }
  const finished = roll.finish();

  test("refused rows are named and add nothing: every other row reads back exactly, by hyparquet and by arrow-rs", async () => {
    expect(finished.rejected.map((r) => r.message)).toEqual([
      "probability is not a number: abc",
      "fallback is not a boolean: x",
      "created_at is not a time: 2026-13-40T99:00:00.000Z",
      "seq is not an integer: 12a",
      "prediction_id is NULL",
    ]);
    const byKey = new Map<string, Record<string, unknown>[]>();
    for (const fields of good) {
      const row = expectedRow(fields);
      const model = row.model_name === "flight-delay" ? "flight-delay" : "odd%09model";
      const key = `p/predictions/model=${model}/version=${row.model_version}/date=2026-12-02/hour=0${Number(row.created_at) >= Date.UTC(2026, 11, 2, 6) ? 6 : 5}/replica-a-${String(EPOCH).padStart(20, "0")}.parquet`;
      byKey.set(key, [...(byKey.get(key) ?? []), row]);
    }
    expect(finished.files.map((f) => f.key).sort()).toEqual([...byKey.keys()].sort());
    const dir = await mkdtemp(join(tmpdir(), "predlog-parquet-"));
    for (const [n, { key, body }] of finished.files.entries()) {
      const expected = byKey.get(key)!;
      expect(await readRows(body)).toEqual(expected);
      const input = join(dir, `${n}.parquet`);
      await writeFile(input, body);
      await expect(arrowRsRoundTrip(input, `${input}.arrow-rs`)).resolves.toEqual({ rows: expected.length });
      expect(await readRows(await readFile(`${input}.arrow-rs`))).toEqual(expected);
    }
  }, 60_000);

  test("row groups, 1 MiB pages, statistics that match the values, and delta encoding only where it fits", () => {
    const big = finished.files.find((f) => f.key.includes("model=flight-delay/version=3/date=2026-12-02/hour=05"))!;
    const metadata = parquetMetadata(big.body.buffer.slice(big.body.byteOffset, big.body.byteOffset + big.body.byteLength) as ArrayBuffer);
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([1500, 1500, 297]);
    const chunk = (group: number, name: string) => metadata.row_groups[group]!.columns.find((c) => c.meta_data!.path_in_schema[0] === name)!.meta_data!;
    // About 1.1 MB of features in a group: two pages (the first test read the values across them).
    expect(Number(chunk(0, "features").total_uncompressed_size)).toBeGreaterThan(1 << 20);
    expect(chunk(0, "features").statistics).toBeUndefined();
    // The second group holds seqs of both epochs (a jump of 2^32 and more): PLAIN; the others delta-encoded.
    expect([0, 1, 2].map((g) => chunk(g, "seq").encodings[0])).toEqual(["DELTA_BINARY_PACKED", "PLAIN", "DELTA_BINARY_PACKED"]);
    expect(chunk(0, "created_at").encodings).toContain("DELTA_BINARY_PACKED");
    expect(chunk(0, "model_version").encodings).toContain("RLE_DICTIONARY");
    const rows = good.map(expectedRow).filter((r) => r.model_name === "flight-delay" && r.model_version === "3" && Number(r.created_at) < Date.UTC(2026, 11, 2, 6));
    const firstGroup = rows.slice(0, OPTIONS.rowGroupRows);
    const bounds = (name: string, compare: (a: never, b: never) => number = (a, b) => (a < b ? -1 : a > b ? 1 : 0)) => {
      const values = firstGroup.map((r) => r[name]).filter((v) => v !== null && !(typeof v === "number" && Number.isNaN(v))) as never[];
      values.sort(compare);
      return { min: values[0], max: values.at(-1) };
    };
    const stats = (name: string) => chunk(0, name).statistics!;
    expect(Number(stats("probability").null_count)).toBe(firstGroup.filter((r) => r.probability === null).length);
    expect({ min: stats("probability").min_value, max: stats("probability").max_value }).toEqual(bounds("probability", (a: number, b: number) => a - b));
    expect({ min: String(stats("seq").min_value), max: String(stats("seq").max_value) }).toEqual(bounds("seq", (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : 1)));
    const time = (v: unknown) => String(v instanceof Date ? v.getTime() : v);
    expect({ min: time(stats("created_at").min_value), max: time(stats("created_at").max_value) }).toEqual(bounds("created_at", (a: string, b: string) => Number(a) - Number(b)));
    const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    expect({ min: stats("prediction_id").min_value, max: stats("prediction_id").max_value }).toEqual(bounds("prediction_id", bytewise));
    expect({ min: stats("label").min_value, max: stats("label").max_value }).toEqual(bounds("label", bytewise));
  });
});

test("Snappy output decodes to its input through hyparquet's decoder: empty, tiny, random, repetitive, across 64 KiB fragments", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const inputs = [
    new Uint8Array(0),
    Uint8Array.of(1),
    Buffer.from("abcd"),
    Buffer.from("abcabcabcabcabcabcabc"),
    Uint8Array.from({ length: 200_000 }, () => Math.floor(random() * 256)),
    Buffer.from("the same long sentence again and again, ".repeat(10_000)),
    Buffer.alloc(300_000, 0x61),
    Uint8Array.from({ length: 150_000 }, (_, i) => (i % 70_000 < 100 ? 7 : Math.floor(random() * 4))),
  ];
  for (const input of inputs) {
    const compressed = snappyCompress(input).slice();
    const output = new Uint8Array(input.length);
    snappyUncompress(compressed, output);
    expect(Buffer.from(output).equals(Buffer.from(input))).toBe(true);
  }
  // Repetitive input compresses; random input grows by little.
  expect(snappyCompress(inputs[5]!).length).toBeLessThan(inputs[5]!.length / 20);
  expect(snappyCompress(inputs[4]!).length).toBeLessThan(inputs[4]!.length * 1.01);
  // A sink given to it keeps what was written before.
  const sink = new ByteSink(4);
  sink.byte(9);
  snappyCompress(inputs[3]!, sink);
  expect(sink.subarray()[0]).toBe(9);
});
