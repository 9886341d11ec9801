/**
 * The columns the scorer encodes itself (prediction ids as DELTA_BYTE_ARRAY, model and version as one-entry
 * dictionaries) are plain Parquet to other readers: a scored file is read by hyparquet and by arrow-rs (the
 * Rust implementation Arrow, DataFusion and Polars use, via parquet-wasm) with every id equal to the text
 * predictionId() gives, across row groups, gaps left by rejected rows, and digits that carry.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCORED_COLUMNS } from "../../service/src/contract";
import { ConstantText, encodeGeneratedColumn, PredictionIds } from "../../service/src/scoring/generated-columns";
import { predictionId, predictionIdPrefix } from "../../service/src/scoring/ids";
import { concatRowGroups, encodeRowGroup, ParquetAssembler } from "../../service/src/scoring/parquet-chunks";
import { runScoringJob } from "../../service/src/scoring/job";
import { BINARY_MODEL, featuresCsv, readParquetRows } from "./support";
import { arrowRsRoundTrip } from "../support/arrow-rs";

jest.setTimeout(120_000);

const STRING = { type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" } as const;
const PREFIX = predictionIdPrefix("flight-delay", "7", "s3://bucket/in.parquet");

/** Row indexes with gaps, runs that carry into higher digits, and the largest index an id can hold. */
const GROUPS: number[][] = [
  [0, 1, 2, 3, 5, 15, 16, 17, 255, 256, 257, 4095, 4096, 65_535, 65_536],
  [16 ** 6 - 1, 16 ** 6, 16 ** 6 + 1, 2 ** 40, 2 ** 48 - 2, 2 ** 48 - 1],
  [7],
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "generated-columns-"));
});

async function writeFileOf(path: string): Promise<void> {
  const schema = [{ name: "root", num_children: 3 }, { name: "prediction_id", ...STRING }, { name: "row", type: "DOUBLE", repetition_type: "REQUIRED" } as const, { name: "model", ...STRING }];
  const out: Uint8Array[] = [];
  const assembler = new ParquetAssembler(async (bytes) => void out.push(bytes.slice()), schema);
  for (const rows of GROUPS) {
    const row = encodeRowGroup([{ name: "root", num_children: 1 }, schema[2]!], [{ name: "row", data: Float64Array.from(rows) as unknown as unknown[] }]);
    const parts = [encodeGeneratedColumn("prediction_id", new PredictionIds(PREFIX, Float64Array.from(rows))), row, encodeGeneratedColumn("model", new ConstantText("flight-delay", rows.length))];
    await assembler.append(concatRowGroups(parts, rows.length));
  }
  await assembler.finish();
  await writeFile(path, Buffer.concat(out));
}

test("ids, model and version read back as text by hyparquet and by arrow-rs, across row groups and gaps", async () => {
  const file = join(dir, "generated.parquet");
  await writeFileOf(file);
  const expected = GROUPS.flat().map((row) => ({ prediction_id: predictionId(PREFIX, row), row, model: "flight-delay" }));
  expect(await readParquetRows(file)).toEqual(expected);
  const copy = join(dir, "generated.arrow-rs.parquet");
  expect(await arrowRsRoundTrip(file, copy)).toEqual({ rows: expected.length });
  expect(await readParquetRows(copy)).toEqual(expected);
});

test("a scored file with rejected rows: the ids arrow-rs reads are those of the rows' places in the input", async () => {
  const input = await featuresCsv(join(dir, "in.csv"), 3000, ["7,1,1,abc,SRQ,ATL", "7,1,1,445,SRQ,ATL", "25,1,1,445,SRQ,ATL", "7,1,1,445,SRQ,ATL"]);
  const output = join(dir, "scored.parquet");
  const summary = await runScoringJob({ model: { uri: BINARY_MODEL, mlflow: {}, cacheDir: join(dir, "cache") }, workers: 2, inputs: [input], output });
  expect(summary).toMatchObject({ read: 3004, scored: 3002, rejected: 2 });
  const copy = join(dir, "scored.arrow-rs.parquet");
  expect(await arrowRsRoundTrip(output, copy)).toEqual({ rows: 3002 });
  const rows = await readParquetRows(copy);
  const prefix = String(rows[0]![SCORED_COLUMNS.predictionId]).slice(0, 24);
  const places = [...Array.from({ length: 3000 }, (_, i) => i), 3001, 3003];
  expect(rows.map((r) => r[SCORED_COLUMNS.predictionId])).toEqual(places.map((row) => predictionId(prefix, row)));
  expect(new Set(rows.map((r) => `${r[SCORED_COLUMNS.model]} ${r[SCORED_COLUMNS.modelVersion]}`)).size).toBe(1);
  expect(rows[0]![SCORED_COLUMNS.model]).toBe("flight-delay");
  expect(await readParquetRows(output)).toEqual(rows);
});
