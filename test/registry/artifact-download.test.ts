import fc from "fast-check";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { EMBEDDED_MODEL_DIR } from "../../service/src/contract";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { projectRoot } from "../../service/src/paths";
import { createModelSource, DOWNLOAD_MANIFEST_FILE, ModelSourceError, type ModelSource } from "../../service/src/registry";
import { checkRelativePath, type DownloadLimits } from "../../service/src/registry/transfer";
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

function source(
  uri = "models:/flight-delay@champion",
  options: { timeoutMs?: number; trackingUri?: string; download?: Partial<DownloadLimits> } = {},
): ModelSource {
  return createModelSource(uri, {
    trackingUri: options.trackingUri ?? mlflow.url,
    cacheDir: cache.path,
    timeoutMs: options.timeoutMs ?? 2000,
    download: options.download,
  });
}

async function fetchChampion(from = source()): Promise<string> {
  return from.fetch(await from.resolve());
}

/**
 * What a failed download may leave in the cache: nothing under the model's name; a partial folder holding only
 * files that arrived whole (kept for the next attempt), nothing still arriving.
 */
async function expectNothingPublished(): Promise<void> {
  const versions = await readdir(join(cache.path, "flight-delay")).catch(() => []);
  expect(versions).toEqual([]);
  const expected = new Map((await filesUnder(TINY_MODEL_DIR)).map((f) => [f, f]));
  for (const partial of (await readdir(cache.path)).filter((entry) => entry.startsWith(".partial-"))) {
    for (const file of await filesUnder(join(cache.path, partial))) {
      expect(expected.has(file)).toBe(true);
    }
  }
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
])("a %s transfer of a nested file fails with %s and publishes nothing; the retry after healing fetches only that file", async (fault, code) => {
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
  mlflow.resetCounts();
  const dir = await champion.fetch(resolved);
  expect(await readFile(join(dir, "data", "weights.bin"))).toEqual(await readFile(join(TINY_MODEL_DIR, "data", "weights.bin")));
  // Every other file arrived whole the first time: the retry downloads the one that failed, nothing else.
  expect(mlflow.requests.filter((r) => r.endpoint === "downloadArtifact").map((r) => r.url.split("/").pop())).toEqual(["weights.bin"]);
  expect((await readdir(cache.path)).filter((e) => e.startsWith(".partial-"))).toEqual([]);
});

test("a stalled transfer is abandoned after the idle timeout without data, not after the whole download", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  mlflow.failTransfer(v1, "model.onnx", "stall");
  const champion = source(undefined, { download: { idleTimeoutMs: 500 } });
  const resolved = await champion.resolve();
  const error = (await champion.fetch(resolved).catch((e: unknown) => e)) as ModelSourceError;
  expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
  expect(error.message).toMatch(/download of model\.onnx from mlflow-artifacts:\/.* stalled: no data for 500 ms \(MODEL_DOWNLOAD_IDLE_TIMEOUT_SECONDS\)/);
  await expectNothingPublished();
});

describe("download limits against MLflow's proxy (it copies the whole file from the store before the first byte)", () => {
  test("a first byte later than the idle timeout arrives: the idle timer starts only when the answer does", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.setFirstByteDelay(2000);
    const dir = await fetchChampion(source(undefined, { download: { idleTimeoutMs: 500, firstByteTimeoutMs: 20_000 } }));
    expect(await filesUnder(dir)).toContain("data/weights.bin");
  });

  test("a first byte that never comes fails after the first-byte timeout, saying why the wait is long", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.setFirstByteDelay(60_000);
    const error = (await fetchChampion(source(undefined, { download: { firstByteTimeoutMs: 500 } })).catch((e: unknown) => e)) as ModelSourceError;
    expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
    expect(error.message).toMatch(/sent no first byte within \d+ ms \(MODEL_DOWNLOAD_FIRST_BYTE_TIMEOUT_SECONDS plus \d+ listed bytes at the minimum rate/);
    await expectNothingPublished();
  });

  test("the first-byte wait grows with the listed size: a big file copied slowly arrives, and fails without the allowance", async () => {
    const work = await tempDir("slow-copy");
    try {
      const dir = await copyTinyModel(work.path);
      await writeFile(join(dir, "data", "weights.bin"), Buffer.alloc(40_000, 3));
      await mlflow.register("flight-delay", { dir, aliases: ["champion"] });
      // The proxy copies 20 kB/s: weights.bin answers after ~2 s, the small files after a few tens of ms. Allowed
      // at the 10 kB/s minimum: 0.7 s + 4 s for weights.bin; without the allowance only 0.7 s.
      mlflow.setArtifactCopyRate(20_000);
      const scaled = { firstByteTimeoutMs: 700, minBytesPerSecond: 10_000, rateWindowMs: 60_000 };
      expect(await filesUnder(await fetchChampion(source(undefined, { download: scaled })))).toContain("data/weights.bin");
      await cache.cleanup();
      cache = await tempDir("registry-cache");
      const unscaled = { ...scaled, minBytesPerSecond: 1e12 };
      const error = (await fetchChampion(source(undefined, { download: unscaled })).catch((e: unknown) => e)) as ModelSourceError;
      expect(error.message).toMatch(/weights\.bin .* sent no first byte/);
    } finally {
      await work.cleanup();
    }
  });

  test("a trickle (a byte at a time, never idle) fails on the minimum rate", async () => {
    const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.failTransfer(v1, "model.onnx", "trickle", { trickleEveryMs: 100 });
    const limits = { idleTimeoutMs: 5000, rateWindowMs: 1000, minBytesPerSecond: 1000 };
    const error = (await fetchChampion(source(undefined, { download: limits })).catch((e: unknown) => e)) as ModelSourceError;
    expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
    expect(error.message).toMatch(/download of model\.onnx .* is too slow: \d+ bytes in the last 1000 ms, below MODEL_DOWNLOAD_MIN_BYTES_PER_SECOND=1000/);
    await expectNothingPublished();
  });

  test("a model larger than MODEL_DOWNLOAD_MAX_BYTES is refused from its listing, before any byte is downloaded", async () => {
    const work = await tempDir("big-junk");
    try {
      const dir = await copyTinyModel(work.path);
      await writeFile(join(dir, "junk.bin"), Buffer.alloc(50_000));
      await mlflow.register("flight-delay", { dir, aliases: ["champion"] });
      const error = (await fetchChampion(source(undefined, { download: { maxBytes: 40_000 } })).catch((e: unknown) => e)) as ModelSourceError;
      expect(error).toMatchObject({ errorCode: "ARTIFACT_TOO_LARGE", retryable: false });
      expect(error.message).toMatch(/lists \d+ bytes \(largest: junk\.bin, 50000 bytes\), more than MODEL_DOWNLOAD_MAX_BYTES=40000: nothing was downloaded/);
      expect(mlflow.count("downloadArtifact")).toBe(0);
    } finally {
      await work.cleanup();
    }
  });

  test("an abandoned fetch (a superseded reload) stops at once with ABORTED and keeps the files that arrived", async () => {
    const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.failTransfer(v1, "model.onnx", "stall");
    const champion = source(undefined, { download: { idleTimeoutMs: 60_000 } });
    const resolved = await champion.resolve();
    const controller = new AbortController();
    const fetching = champion.fetch(resolved, { signal: controller.signal }).catch((e: unknown) => e);
    await waitForPartialFiles(4); // all but model.onnx arrived
    controller.abort(new Error("the alias moved to version 2"));
    expect(await fetching).toMatchObject({ errorCode: "ABORTED", message: expect.stringContaining("the alias moved to version 2") });
    await expectNothingPublished();
    mlflow.failTransfer(v1, "model.onnx", undefined);
    mlflow.resetCounts();
    await champion.fetch(resolved);
    expect(mlflow.requests.filter((r) => r.endpoint === "downloadArtifact").map((r) => r.url.split("/").pop())).toEqual(["model.onnx"]);
  });

  test("a fetch another caller still waits for goes on when one caller abandons it", async () => {
    const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.setFirstByteDelay(300);
    const champion = source();
    const resolved = await champion.resolve();
    const controller = new AbortController();
    const abandoned = champion.fetch(resolved, { signal: controller.signal }).catch((e: unknown) => e);
    const kept = source().fetch(resolved);
    controller.abort();
    expect(await abandoned).toMatchObject({ errorCode: "ABORTED" });
    expect(await filesUnder(await kept)).toContain("data/weights.bin");
    expect(v1.version).toBe("1");
  });
});

/** Resolves once the cache's partial folders hold `count` completed files. */
async function waitForPartialFiles(count: number): Promise<void> {
  const completed = async () => {
    let files = 0;
    for (const partial of (await readdir(cache.path)).filter((entry) => entry.startsWith(".partial-"))) {
      files += (await filesUnder(join(cache.path, partial))).filter((f) => !f.startsWith(".incoming/")).length;
    }
    return files;
  };
  for (let i = 0; i < 1000 && (await completed()) < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

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

test("a version registered from runs:/<run>/model is fetched through the run's artifact_uri, as MLflow's loader does", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"], fromRunUri: true });
  const champion = source();
  const resolved = await champion.resolve();
  expect(resolved.artifactUri).toBe(`mlflow-artifacts:/1/${v1.runId}/artifacts/model`);
  expect(await filesUnder(await champion.fetch(resolved))).toEqual([DOWNLOAD_MANIFEST_FILE, ...(await filesUnder(TINY_MODEL_DIR))].sort());
  // The run is read once, for lineage and the artifact location alike.
  expect(mlflow.count("run")).toBe(1);
});

test("a runs:/ version whose run was deleted says its artifacts cannot be located", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"], fromRunUri: true });
  mlflow.deleteRun(v1.runId!);
  await expect(source().resolve()).rejects.toMatchObject({
    errorCode: "RESOURCE_DOES_NOT_EXIST",
    message: `model "flight-delay" version 1 is registered from runs:/${v1.runId}/model, but run ${v1.runId} no longer exists, so its artifacts cannot be located`,
  });
});

test("an http(s)://…/api/2.0/mlflow-artifacts/artifacts/… root is listed and downloaded through that proxy", async () => {
  const prefixed = await FakeMlflow.start({ basePath: "/mlflow" });
  try {
    const stored = await prefixed.register("flight-delay", { dir: TINY_MODEL_DIR, artifactRoot: "http" });
    expect(stored.artifactUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mlflow\/api\/2\.0\/mlflow-artifacts\/artifacts\/1\//);
    await mlflow.register("flight-delay", { artifactUri: stored.artifactUri, aliases: ["champion"] });
    expect(await filesUnder(await fetchChampion())).toContain("data/weights.bin");
    expect(prefixed.count("listArtifacts")).toBe(2);
    expect(prefixed.count("unknown")).toBe(0);
    expect(mlflow.count("downloadArtifact")).toBe(0);
  } finally {
    await prefixed.stop();
  }
});

test("an http URL that is not an MLflow artifact proxy is refused naming the form that is", async () => {
  await mlflow.register("flight-delay", { artifactUri: "https://models.example.com/flight-delay/1", aliases: ["champion"] });
  await expect(fetchChampion()).rejects.toMatchObject({
    errorCode: "UNSUPPORTED_ARTIFACT_URI",
    message: expect.stringContaining("is an http(s) URL but not an MLflow artifact proxy root (…/api/2.0/mlflow-artifacts/artifacts/…)"),
  });
});

test("a tracking server run with --no-serve-artifacts is named as such, with the flag to set", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  mlflow.setServeArtifacts(false);
  await expect(fetchChampion()).rejects.toMatchObject({
    errorCode: "ARTIFACTS_NOT_SERVED",
    status: 503,
    retryable: true,
    message: expect.stringMatching(/runs with --no-serve-artifacts and cannot serve the artifact listing of .*: start it with --serve-artifacts/),
  });
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
