/**
 * Every row is accounted for: scored, or rejected with the contract's reason (or the reader's, for a row that
 * cannot be parsed), never dropped; ids are deterministic, so re-scoring a shard writes the same bytes; shards
 * split the work without overlap and with the ids an unsharded run gives.
 */
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { REJECT_COLUMNS, SCORED_COLUMNS } from "../../service/src/contract";
import { runScoringJob, type ScoringJobConfig } from "../../service/src/scoring/job";
import { BINARY_MODEL, featuresCsv, featuresParquet, readParquetRows } from "./support";

jest.setTimeout(240_000);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "score-rows-"));
});
const model = () => ({ uri: BINARY_MODEL, mlflow: {}, cacheDir: join(dir, "cache") });
const job = (config: Omit<ScoringJobConfig, "model">) => runScoringJob({ model: model(), workers: 2, ...config });

const BAD_LINES = [
  "7,1,1,abc,SRQ,ATL", // distance is not a number
  "25,1,1,445,SRQ,ATL", // hour past the feature spec's maximum
  "7,1,1,445,SRQ,ATL,extra", // one field too many: the reader cannot parse it
  "7,1,1,445,,ATL", // origin missing (required)
  "7,1,1,445,srq,ATL", // origin does not match ^[A-Z]{3}$
  '7,1,1,445,"SRQ",ATL', // quoted, fine
];

test("CSV with bad rows: each rejected with its reason and its row, the rest scored, read = scored + rejected", async () => {
  const input = await featuresCsv(join(dir, "bad.csv"), 200, BAD_LINES);
  const output = join(dir, "bad-out.parquet");
  const summary = await job({ inputs: [input], output });
  expect(summary).toMatchObject({ read: 206, scored: 201, rejected: 5, unparsable: 1, rejects: join(dir, "bad-out.rejects.parquet") });
  const rejects = await readParquetRows(join(dir, "bad-out.rejects.parquet"));
  expect(rejects.map((r) => [r[REJECT_COLUMNS.row], r[REJECT_COLUMNS.reason]])).toEqual([
    [200n, "distance must be number"],
    [201n, "hour must be <= 23"],
    [202n, "line 204 has 7 fields, the header has 6"],
    [203n, "origin is required"],
    [204n, 'origin must match pattern "^[A-Z]{3}$"'],
  ]);
  expect(rejects[0]).toMatchObject({ input, raw: null, hour: "7", distance: "abc", origin: "SRQ" });
  expect(rejects[2]).toMatchObject({ raw: "7,1,1,445,SRQ,ATL,extra", hour: null });
  const rows = await readParquetRows(output);
  expect(rows).toHaveLength(201);
  // The quoted row was scored and kept its place (row 205): ids carry the row index.
  expect(rows[200]).toMatchObject({ origin: "SRQ", hour: 7n });
  expect(String(rows[200]![SCORED_COLUMNS.predictionId]).endsWith("0000000000cd")).toBe(true);
});

test("NDJSON is judged as /predict judges JSON bodies: no coercion of strings, lines that are not objects rejected", async () => {
  const input = join(dir, "rows.ndjson");
  await writeFile(
    input,
    [
      JSON.stringify({ hour: 7, day_of_week: 1, day_of_month: 1, distance: 445, origin: "SRQ", destination: "ATL", flight: "AA1" }),
      JSON.stringify({ hour: "7", day_of_week: 1, day_of_month: 1, distance: 445, origin: "SRQ", destination: "ATL", flight: "AA2" }),
      "not json",
      JSON.stringify({ hour: 8, day_of_week: 1, day_of_month: 1, distance: 445, origin: "SRQ", destination: "ATL", flight: { nested: true } }),
    ].join("\n"),
  );
  const output = join(dir, "ndjson-out.csv");
  const summary = await job({ inputs: [input], output, rejects: join(dir, "ndjson-rejects.csv") });
  expect(summary).toMatchObject({ read: 4, scored: 2, rejected: 2 });
  const lines = (await readFile(output, "utf8")).trim().split("\n");
  expect(lines[0]).toBe("hour,day_of_week,day_of_month,distance,origin,destination,flight,probability,label,prediction_id,model,model_version");
  expect(lines[1]!.startsWith("7,1,1,445,SRQ,ATL,AA1,")).toBe(true);
  expect(lines[2]!.startsWith('8,1,1,445,SRQ,ATL,"{""nested"":true}",')).toBe(true);
  const rejects = (await readFile(join(dir, "ndjson-rejects.csv"), "utf8")).trim().split("\n");
  expect(rejects[1]).toContain(",1,hour must be integer,,7,");
  expect(rejects[2]).toMatch(/^.*,2,"line 3 is not JSON \(.*\)",not json,/);
});

test("re-running a shard writes the same bytes; shards together are the unsharded run, row for row", async () => {
  const input = await featuresParquet(join(dir, "many.parquet"), 2500, 1000);
  const whole = join(dir, "whole.parquet");
  await job({ inputs: [input], output: whole });
  const again = join(dir, "again.parquet");
  await job({ inputs: [input], output: again });
  expect(Buffer.compare(await readFile(whole), await readFile(again))).toBe(0);

  const parts = await Promise.all([0, 1].map((index) => job({ inputs: [input], output: join(dir, `part-${index}.parquet`), shard: { index, count: 2 }, workers: 1 })));
  expect(parts.map((p) => p.units)).toEqual([2, 1]);
  expect(parts.map((p) => p.read)).toEqual([1500, 1000]);
  const ids = async (path: string) => (await readParquetRows(path)).map((r) => String(r[SCORED_COLUMNS.predictionId]));
  const all = await ids(whole);
  const [p0, p1] = await Promise.all([ids(join(dir, "part-0.parquet")), ids(join(dir, "part-1.parquet"))]);
  // Shard 0 has row groups 0 and 2, shard 1 row group 1.
  expect([...p0.slice(0, 1000), ...p1, ...p0.slice(1000)]).toEqual(all);
  expect(new Set(all).size).toBe(2500);
  expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("a shard with no units writes nothing and says why", async () => {
  const input = await featuresCsv(join(dir, "one.csv"), 10);
  const lines: string[] = [];
  const summary = await job({ inputs: [input], output: join(dir, "idle.parquet"), shard: { index: 1, count: 2 }, log: (l) => lines.push(l) });
  expect(summary).toMatchObject({ units: 0, read: 0, output: null });
  expect(lines.join("\n")).toContain("shard 1 of 2 has no work");
  expect((await readdir(dir)).includes("idle.parquet")).toBe(false);
});
