/**
 * The deployed shape: the model from the registry (models:/...@alias through the MLflow fake, downloaded as the
 * service downloads it), inputs read from S3 and outputs written to S3 (s3rver on loopback) by multipart upload,
 * which only becomes an object when the run completes.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ENV } from "../../service/src/contract";
import { runScoringJob } from "../../service/src/scoring/job";
import { ScoringInputError } from "../../service/src/scoring/errors";
import { FakeMlflow } from "../support/fake-mlflow";
import { startS3, type S3Harness } from "../support/s3";
import { BINARY_MODEL, featuresCsv, featuresParquet, runScoreCli } from "./support";

jest.setTimeout(240_000);

let dir: string;
let s3: S3Harness;
let mlflow: FakeMlflow;
let version: string;
const saved = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "score-s3-"));
  s3 = await startS3({ buckets: ["data"] });
  Object.assign(process.env, s3.env);
  mlflow = await FakeMlflow.start();
  version = (await mlflow.register("flight-delay", { dir: BINARY_MODEL })).version;
  mlflow.setAlias("flight-delay", "champion", version);
  const put = async (key: string, path: string) => s3.client.send(new PutObjectCommand({ Bucket: "data", Key: key, Body: await readFile(path) }));
  await put("in/flights.parquet", await featuresParquet(join(dir, "flights.parquet"), 3000, 1000));
  await put("csv/a.csv", await featuresCsv(join(dir, "a.csv"), 50));
  await put("csv/b.csv", await featuresCsv(join(dir, "b.csv"), 50, ["7,1,1,445,SRQ"]));
  await s3.client.send(new PutObjectCommand({ Bucket: "data", Key: "mixed/a.csv", Body: await readFile(join(dir, "a.csv")) }));
  await s3.client.send(new PutObjectCommand({ Bucket: "data", Key: "mixed/b.csv", Body: "hour,origin\n7,SRQ\n" }));
});

afterAll(async () => {
  process.env = saved;
  await mlflow?.stop();
  await s3?.stop();
});

const model = () => ({ uri: "models:/flight-delay@champion", mlflow: { trackingUri: mlflow.url }, cacheDir: join(dir, "cache") });
const exists = (key: string) =>
  s3.client.send(new HeadObjectCommand({ Bucket: "data", Key: key })).then(
    () => true,
    () => false,
  );

test("models:/...@alias, Parquet from S3, Parquet to S3: the registry's version, every row, one object", async () => {
  const summary = await runScoringJob({ model: model(), inputs: ["s3://data/in/flights.parquet"], output: "s3://data/out/flights.parquet", workers: 2, s3EndpointUrl: s3.endpoint });
  expect(summary).toMatchObject({ model: "flight-delay", version, read: 3000, scored: 3000, rejected: 0 });
  const object = await s3.client.send(new GetObjectCommand({ Bucket: "data", Key: "out/flights.parquet" }));
  const bytes = await object.Body!.transformToByteArray();
  const { parquetMetadata } = await import("hyparquet");
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  expect(Number(metadata.num_rows)).toBe(3000);
  expect(metadata.key_value_metadata).toEqual(expect.arrayContaining([{ key: "modelport.model_version", value: version }]));
});

test("an s3:// prefix is every table under it; a row rejected in one file goes to the S3 rejects", async () => {
  const summary = await runScoringJob({ model: model(), inputs: ["s3://data/csv/"], output: "s3://data/out/csv.csv", workers: 2, s3EndpointUrl: s3.endpoint });
  expect(summary).toMatchObject({ inputs: ["s3://data/csv/a.csv", "s3://data/csv/b.csv"], read: 101, scored: 100, rejected: 1, rejects: "s3://data/out/csv.rejects.csv" });
  const rejects = await (await s3.client.send(new GetObjectCommand({ Bucket: "data", Key: "out/csv.rejects.csv" }))).Body!.transformToString();
  expect(rejects.split("\n")[1]).toMatch(/^s3:\/\/data\/csv\/b\.csv,50,destination is required,,7,1,1,445,SRQ,$/);
});

test("a run that fails half way leaves no object at the output key (the multipart upload is never completed)", async () => {
  await expect(runScoringJob({ model: model(), inputs: ["s3://data/mixed/"], output: "s3://data/out/mixed.parquet", workers: 1, s3EndpointUrl: s3.endpoint })).rejects.toThrow(
    ScoringInputError,
  );
  expect(await exists("out/mixed.parquet")).toBe(false);
  expect(await exists("out/flights.parquet")).toBe(true);
});

test("an S3 object that cannot be read: exit 2, the URI and S3's answer, nothing written", async () => {
  const env = { ...s3.env, [ENV.mlflowS3EndpointUrl]: s3.endpoint, [ENV.mlflowTrackingUri]: mlflow.url };
  const run = await runScoreCli(["--model", "models:/flight-delay@champion", "--input", "s3://data/in/nothing.parquet", "--output", "s3://data/out/nothing.parquet"], env);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/score: cannot read the input s3:\/\/data\/in\/nothing\.parquet as Parquet: NotFound \(HTTP 404\)/);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(await exists("out/nothing.parquet")).toBe(false);
  const alias = await runScoreCli(["--model", "models:/flight-delay@nobody", "--input", "s3://data/csv/a.csv", "--output", join(dir, "x.csv")], env);
  expect(alias.code).toBe(2);
  expect(alias.stderr).toMatch(/--model models:\/flight-delay@nobody: .*alias/i);
});
