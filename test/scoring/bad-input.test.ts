/**
 * Input the scorer cannot read as the model's table: one line naming the file (and the column or line), exit
 * code 2, no stack trace, and nothing at the output path (no temp file left either). Run as the CLI process.
 */
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import { TORCH_MLP_DIR } from "../support/fixture-models";
import { BINARY_MODEL, featuresCsv, runScoreCli } from "./support";

jest.setTimeout(240_000);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "score-bad-"));
});

function parquetBytes(columns: { name: string; data: unknown[]; type: string }[]): Buffer {
  const writer = new ByteWriter();
  parquetWrite({ writer, columnData: columns as never });
  return Buffer.from(writer.getBuffer());
}

const good = { hour: [7], day_of_week: [1], day_of_month: [1], origin: ["SRQ"], destination: ["ATL"] };

const CASES: [string, () => Promise<string[]>, RegExp][] = [
  [
    "an unbalanced CSV quote",
    async () => [await featuresCsv(join(dir, "quote.csv"), 5, ['7,1,1,445,"SRQ,ATL', "8,1,1,445,SRQ,ATL"])],
    /quote\.csv: line 7: the quoted field of column "origin" that opens there is never closed/,
  ],
  [
    "a Parquet column of the wrong type",
    async () => {
      const path = join(dir, "types.parquet");
      await writeFile(path, parquetBytes([...Object.entries(good).map(([name, data]) => ({ name, data, type: typeof data[0] === "number" ? "INT64" : "STRING" })), { name: "distance", data: ["445"], type: "STRING" }].map((c) => (c.type === "INT64" ? { ...c, data: c.data.map((v) => BigInt(v as number)) } : c))));
      return [path];
    },
    /types\.parquet: column "distance" is BYTE_ARRAY \((STRING|UTF8)\) but the model's signature declares double/,
  ],
  [
    "a missing column",
    async () => {
      const path = join(dir, "missing.csv");
      await writeFile(path, "hour,day_of_week,day_of_month,distance,destination\n7,1,1,445,ATL\n");
      return [path];
    },
    /missing\.csv: column "origin" missing: the model flight-delay requires hour, day_of_week, day_of_month, distance, origin, destination/,
  ],
  [
    "a CSV with a header and no rows",
    async () => {
      const path = join(dir, "header.csv");
      await writeFile(path, "hour,day_of_week,day_of_month,distance,origin,destination\n");
      return [path];
    },
    /header\.csv: no rows to score/,
  ],
  [
    "an empty file",
    async () => {
      const path = join(dir, "empty.ndjson");
      await writeFile(path, "");
      return [path];
    },
    /empty\.ndjson: no rows to score/,
  ],
  [
    "a .parquet file that is not Parquet",
    async () => {
      const path = join(dir, "junk.parquet");
      await writeFile(path, "hour,day_of_week\n7,1\n");
      return [path];
    },
    /cannot read the input .*junk\.parquet as Parquet: /,
  ],
  ["a file that does not exist", async () => [join(dir, "nowhere.csv")], /cannot read the input .*nowhere\.csv: ENOENT/],
];

describe.each(CASES)("%s", (_name, makeInput, message) => {
  test("exit 2, one line naming it, nothing written", async () => {
    const inputs = await makeInput();
    const output = join(dir, `out-${Math.random().toString(36).slice(2)}.parquet`);
    const run = await runScoreCli(["--model", BINARY_MODEL, ...inputs.flatMap((i) => ["--input", i]), "--output", output, "--workers", "1"]);
    expect(run.code).toBe(2);
    const problems = run.stderr.split("\n").filter((l) => l.startsWith("score: ") && !/^score: (model |shard )/.test(l));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe("");
    const left = (await readdir(dir)).filter((f) => f.startsWith(".out-") || f === output.split("/").pop() || f.includes("rejects"));
    expect(left).toEqual([]);
  });
});

test("a tensor model is refused: it takes tensors, not tables", async () => {
  const input = await featuresCsv(join(dir, "tensor.csv"), 3);
  const run = await runScoreCli(["--model", TORCH_MLP_DIR, "--input", input, "--output", join(dir, "tensor.parquet")]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/is a tensor model: batch scoring reads tables of named columns.*POST \/v2\/models\/<name>\/infer/);
});

test("a model directory the service would not load is refused with the service's reason", async () => {
  const input = await featuresCsv(join(dir, "nomodel.csv"), 3);
  const run = await runScoreCli(["--model", join(dir, "no-such-model"), "--input", input, "--output", join(dir, "x.parquet")]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/--model .*no-such-model: .*not an MLflow model directory/);
});

test("arguments: several shards need {shard} in the output name; the index comes from JOB_COMPLETION_INDEX", async () => {
  const input = await featuresCsv(join(dir, "args.csv"), 3);
  const run = await runScoreCli(["--model", BINARY_MODEL, "--input", input, "--output", join(dir, "same.parquet"), "--shard-count", "4"]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain("with 4 shards each writes its own file; put {shard} in the name");
  const indexed = await runScoreCli(["--model", BINARY_MODEL, "--input", input, "--output", join(dir, "part-{shard}.csv"), "--shard-count", "2", "--workers", "1"], { JOB_COMPLETION_INDEX: "0" });
  expect(indexed.code).toBe(0);
  expect(JSON.parse(indexed.stdout)).toMatchObject({ shard: { index: 0, count: 2 }, output: join(dir, "part-00000.csv"), read: 3 });
});
