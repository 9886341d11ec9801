import { PutObjectCommand } from "@aws-sdk/client-s3";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createModelSource, DOWNLOAD_MANIFEST_FILE, type ModelSource } from "../../service/src/registry";
import { FakeMlflow } from "../support/fake-mlflow";
import { startS3, type S3Harness } from "../support/s3";
import { filesUnder, tempDir, TINY_MODEL_DIR } from "./helpers";

// MLflow answers s3:// download URIs when the tracking server does not proxy artifacts; the service then reads the
// bucket itself with the AWS default credential chain, here pointed at s3rver.
let s3: S3Harness;
let mlflow: FakeMlflow;
let cache: Awaited<ReturnType<typeof tempDir>>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  s3 = await startS3({ buckets: ["mlflow"] });
  Object.assign(process.env, s3.env);
});
afterAll(async () => {
  process.env = savedEnv;
  await s3.stop();
});
beforeEach(async () => {
  mlflow = await FakeMlflow.start();
  cache = await tempDir("registry-cache");
});
afterEach(async () => {
  await mlflow.stop();
  await cache.cleanup();
});

function source(s3EndpointUrl = s3.endpoint): ModelSource {
  return createModelSource("models:/flight-delay@champion", { trackingUri: mlflow.url, s3EndpointUrl, cacheDir: cache.path, timeoutMs: 2000 });
}

async function fetchChampion(from = source()): Promise<string> {
  return from.fetch(await from.resolve());
}

test("an s3:// version downloads its whole prefix, nested files included, and nothing from a sibling prefix", async () => {
  await s3.uploadDirectory("mlflow", "1/run-a/artifacts/model", TINY_MODEL_DIR);
  await s3.client.send(new PutObjectCommand({ Bucket: "mlflow", Key: "1/run-a/artifacts/model-2/stray.bin", Body: "not this model" }));
  await s3.client.send(new PutObjectCommand({ Bucket: "mlflow", Key: "1/run-a/artifacts/model/data/", Body: Buffer.alloc(0) }));
  await mlflow.register("flight-delay", { artifactUri: "s3://mlflow/1/run-a/artifacts/model", aliases: ["champion"] });
  const dir = await fetchChampion();
  expect(dir).toBe(join(cache.path, "flight-delay", "1"));
  const expected = await filesUnder(TINY_MODEL_DIR);
  expect(await filesUnder(dir)).toEqual([DOWNLOAD_MANIFEST_FILE, ...expected].sort());
  for (const file of expected) expect(await readFile(join(dir, file))).toEqual(await readFile(join(TINY_MODEL_DIR, file)));
});

test("a prefix with no objects is refused as INVALID_ARTIFACT; a missing bucket as RESOURCE_DOES_NOT_EXIST", async () => {
  await mlflow.register("flight-delay", { artifactUri: "s3://mlflow/1/nothing-here/artifacts/model", aliases: ["champion"] });
  await expect(fetchChampion()).rejects.toMatchObject({ errorCode: "INVALID_ARTIFACT", message: expect.stringContaining("no files under s3://mlflow/1/nothing-here") });
  await mlflow.register("flight-delay", { artifactUri: "s3://no-such-bucket/model", aliases: ["champion"] });
  await expect(fetchChampion()).rejects.toMatchObject({ errorCode: "RESOURCE_DOES_NOT_EXIST", status: 404, message: expect.stringContaining("NoSuchBucket") });
});

test("an unreachable S3 endpoint is a retryable UNAVAILABLE error", async () => {
  await s3.uploadDirectory("mlflow", "1/run-b/artifacts/model", TINY_MODEL_DIR);
  await mlflow.register("flight-delay", { artifactUri: "s3://mlflow/1/run-b/artifacts/model", aliases: ["champion"] });
  // A port nothing listens on: the fake MLflow's, after it is stopped, is known free.
  const spare = await FakeMlflow.start();
  const deadEndpoint = spare.url;
  await spare.stop();
  await expect(fetchChampion(source(deadEndpoint))).rejects.toMatchObject({ errorCode: "UNAVAILABLE", retryable: true });
});
