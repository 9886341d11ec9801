import fc from "fast-check";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { EMBEDDED_MODEL_DIR } from "../../service/src/contract";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { projectRoot } from "../../service/src/paths";
import { createModelSource, DOWNLOAD_MANIFEST_FILE, ModelSourceError, type ModelSource } from "../../service/src/registry";
import { checkRelativePath } from "../../service/src/registry/transfer";
import { FakeMlflow, type TransferFault } from "../support/fake-mlflow";
import { copyTinyModel, filesUnder, tempDir, TINY_MODEL_DIR } from "./helpers";

let mlflow: FakeMlflow;
let cache: Awaited<ReturnType<typeof tempDir>>;

beforeEach(async () => {
  mlflow = await FakeMlflow.start();
  cache = await tempDir("registry-cache");
});
afterEach(async () => {
  await mlflow.stop();
  await cache.cleanup();
});

function source(uri = "models:/flight-delay@champion", options: { timeoutMs?: number; trackingUri?: string } = {}): ModelSource {
  return createModelSource(uri, { trackingUri: options.trackingUri ?? mlflow.url, cacheDir: cache.path, timeoutMs: options.timeoutMs ?? 2000 });
}

async function fetchChampion(from = source()): Promise<string> {
  return from.fetch(await from.resolve());
}

/** What a failed download may leave in the cache: nothing under the model's name, no partial folders. */
async function expectNothingPublished(): Promise<void> {
  const leftovers = await readdir(cache.path);
  expect(leftovers.filter((entry) => entry.startsWith(".partial-"))).toEqual([]);
  const versions = await readdir(join(cache.path, "flight-delay")).catch(() => []);
  expect(versions).toEqual([]);
}

test("the whole model directory arrives, nested external-data file included, byte for byte", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  const dir = await fetchChampion();
  expect(dir).toBe(join(cache.path, "flight-delay", "1"));
  const expected = await filesUnder(TINY_MODEL_DIR);
  expect(expected).toContain("data/weights.bin");
  expect(await filesUnder(dir)).toEqual([DOWNLOAD_MANIFEST_FILE, ...expected].sort());
  for (const file of expected) expect(await readFile(join(dir, file))).toEqual(await readFile(join(TINY_MODEL_DIR, file)));
  // One listing per directory level (root and data/), one download per file.
  expect(mlflow.count("listArtifacts")).toBe(2);
  expect(mlflow.count("downloadArtifact")).toBe(expected.length);
});

test("the embedded demo model round-trips through the registry into a package the service can read", async () => {
  const embedded = join(projectRoot(), EMBEDDED_MODEL_DIR);
  await mlflow.register("flight-delay", { dir: embedded, aliases: ["champion"] });
  const dir = await fetchChampion();
  const pkg = await readModelPackage(dir);
  expect(pkg.inputs.map((c) => c.name)).toEqual((await readModelPackage(embedded)).inputs.map((c) => c.name));
  expect((await readFile(pkg.onnxPath)).equals(await readFile(join(embedded, "model.onnx")))).toBe(true);
});

test("a multi-megabyte file streams through intact", async () => {
  const work = await tempDir("big-model");
  try {
    const dir = await copyTinyModel(work.path);
    const big = Buffer.alloc(8 * 1024 * 1024 + 17, 0);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    await writeFile(join(dir, "data", "weights.bin"), big);
    await mlflow.register("flight-delay", { dir, aliases: ["champion"] });
    const fetched = await fetchChampion();
    expect((await readFile(join(fetched, "data", "weights.bin"))).equals(big)).toBe(true);
  } finally {
    await work.cleanup();
  }
});

test("a cached version is reused without any artifact request, also by a fresh source (a restart)", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  const first = await fetchChampion();
  mlflow.resetCounts();
  const again = await fetchChampion(source());
  expect(again).toBe(first);
  expect(mlflow.count("listArtifacts") + mlflow.count("downloadArtifact")).toBe(0);
});

test("a cached copy that lost a file is downloaded again rather than served", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  const dir = await fetchChampion();
  await rm(join(dir, "data", "weights.bin"));
  mlflow.resetCounts();
  expect(await fetchChampion()).toBe(dir);
  expect(await readFile(join(dir, "data", "weights.bin"))).toEqual(await readFile(join(TINY_MODEL_DIR, "data", "weights.bin")));
  expect(mlflow.count("downloadArtifact")).toBeGreaterThan(0);
});

test.each<[TransferFault, string]>([
  ["cut", "UNAVAILABLE"],
  ["short", "INVALID_ARTIFACT"],
  // MLflow's proxy answers a file its store lost with a 500 (an OSError its handler does not catch).
  ["missing", "UNAVAILABLE"],
])("a %s transfer of a nested file fails with %s and publishes nothing; the next fetch after healing succeeds", async (fault, code) => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  mlflow.failTransfer(v1, "data/weights.bin", fault);
  const champion = source();
  const resolved = await champion.resolve();
  const error = (await champion.fetch(resolved).catch((e: unknown) => e)) as ModelSourceError;
  expect(error).toBeInstanceOf(ModelSourceError);
  expect(error.errorCode).toBe(code);
  expect(error.message).toContain("weights.bin");
  await expectNothingPublished();
  mlflow.failTransfer(v1, "data/weights.bin", undefined);
  expect(await filesUnder(await champion.fetch(resolved))).toContain("data/weights.bin");
});

test("a stalled transfer is abandoned after timeoutMs without data, not after the whole download", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  mlflow.failTransfer(v1, "model.onnx", "stall");
  const champion = source(undefined, { timeoutMs: 200 });
  const resolved = await champion.resolve();
  const started = performance.now();
  const error = (await champion.fetch(resolved).catch((e: unknown) => e)) as ModelSourceError;
  expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
  expect(error.message).toMatch(/download of model\.onnx from mlflow-artifacts:\/.* stalled: no data for 200 ms/);
  expect(performance.now() - started).toBeLessThan(1500);
  await expectNothingPublished();
});

test("an artifact whose model file is empty, or that has no MLmodel, is refused as INVALID_ARTIFACT", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  await mlflow.corruptArtifact(v1, "model.onnx", 0);
  const empty = (await fetchChampion().catch((e: unknown) => e)) as ModelSourceError;
  expect(empty).toMatchObject({ errorCode: "INVALID_ARTIFACT" });
  expect(empty.message).toMatch(/MLmodel of mlflow-artifacts:\/.* names model\.onnx, which is empty/);
  await expectNothingPublished();

  const work = await tempDir("no-mlmodel");
  try {
    const dir = await copyTinyModel(work.path);
    await rm(join(dir, "MLmodel"));
    await mlflow.register("flight-delay", { dir, aliases: ["champion"] });
    const error = (await fetchChampion().catch((e: unknown) => e)) as ModelSourceError;
    expect(error.message).toMatch(/has no MLmodel at its top level/);
  } finally {
    await work.cleanup();
  }
});

test("an MLmodel without an onnx flavor is refused before it reaches the cache", async () => {
  const work = await tempDir("sklearn-model");
  try {
    const dir = await copyTinyModel(work.path);
    await writeFile(join(dir, "MLmodel"), "flavors:\n  sklearn:\n    pickled_model: model.pkl\n");
    await mlflow.register("flight-delay", { dir, aliases: ["champion"] });
    await expect(fetchChampion()).rejects.toThrow(/has no onnx flavor \(flavors\.onnx\.data\): Modelport serves ONNX models/);
    await expectNothingPublished();
  } finally {
    await work.cleanup();
  }
});

test("concurrent fetches of one version both get the complete directory", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  const champion = source();
  const resolved = await champion.resolve();
  const [a, b] = await Promise.all([champion.fetch(resolved), source().fetch(resolved)]);
  expect(a).toBe(b);
  expect(await filesUnder(a)).toContain("data/weights.bin");
  expect((await readdir(cache.path)).filter((e) => e.startsWith(".partial-"))).toEqual([]);
});

test("the cache keeps the three most recently used versions of a model", async () => {
  const champion = source();
  for (let i = 1; i <= 5; i++) {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    await fetchChampion(champion);
  }
  expect((await readdir(join(cache.path, "flight-delay"))).sort()).toEqual(["3", "4", "5"]);
});

test("mlflow-artifacts://host/... downloads from that host's proxy, with the tracking server's scheme", async () => {
  const artifactHost = await FakeMlflow.start();
  try {
    const stored = await artifactHost.register("flight-delay", { dir: TINY_MODEL_DIR });
    const remoteUri = stored.artifactUri.replace("mlflow-artifacts:/", `mlflow-artifacts://${new URL(artifactHost.url).host}/`);
    await mlflow.register("flight-delay", { artifactUri: remoteUri, aliases: ["champion"] });
    const dir = await fetchChampion();
    expect(await filesUnder(dir)).toContain("data/weights.bin");
    expect(artifactHost.count("downloadArtifact")).toBeGreaterThan(0);
    expect(mlflow.count("downloadArtifact")).toBe(0);
  } finally {
    await artifactHost.stop();
  }
});

test("a file: download URI (local artifact store on a shared volume) is copied into the cache", async () => {
  await mlflow.register("flight-delay", { artifactUri: `file://${TINY_MODEL_DIR}`, aliases: ["champion"] });
  const dir = await fetchChampion();
  expect(dir).toBe(join(cache.path, "flight-delay", "1"));
  expect(await filesUnder(dir)).toEqual([DOWNLOAD_MANIFEST_FILE, ...(await filesUnder(TINY_MODEL_DIR))].sort());
});

test("an unsupported artifact scheme is named with what is supported", async () => {
  await mlflow.register("flight-delay", { artifactUri: "gs://bucket/flight-delay/1", aliases: ["champion"] });
  await expect(fetchChampion()).rejects.toMatchObject({
    errorCode: "UNSUPPORTED_ARTIFACT_URI",
    message: expect.stringMatching(/gs:\/\/bucket\/flight-delay\/1 uses a storage Modelport cannot read; supported: mlflow-artifacts:\/.*s3:\/\/, file:\/\//),
  });
});

test("no listed path a server could send escapes the download folder", () => {
  const segment = fc.oneof(fc.constantFrom("..", ".", "", "data", "model.onnx", "a\\b", "\u0000"), fc.string({ maxLength: 6 }));
  const listedPath = fc.oneof(fc.string({ maxLength: 20 }), fc.array(segment, { maxLength: 5 }).map((parts) => parts.join("/")));
  fc.assert(
    fc.property(listedPath, (path) => {
      try {
        checkRelativePath(path, "mlflow-artifacts:/1/run/artifacts/model");
      } catch (error) {
        return error instanceof ModelSourceError && error.errorCode === "INVALID_ARTIFACT";
      }
      return posix.join("/cache/partial", path).startsWith("/cache/partial/") && posix.normalize(path) === path && !path.includes("\\");
    }),
    { numRuns: 3000 },
  );
});
