import { rm, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { createModelSource, ModelSourceError } from "../../service/src/registry";
import { copyTinyModel, tempDir, TINY_MODEL_DIR } from "./helpers";

let work: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;

beforeEach(async () => {
  work = await tempDir("local-model");
  modelDir = await copyTinyModel(work.path);
});
afterEach(() => work.cleanup());

function local(path = modelDir) {
  return createModelSource(path, { cacheDir: join(work.path, "cache") });
}

test("a local directory resolves to its name, a content-hash version, metrics.json, MLmodel metadata and run", async () => {
  const source = local();
  const resolved = await source.resolve();
  expect(resolved).toEqual({
    name: "tiny-model",
    version: expect.stringMatching(/^[0-9a-f]{12}$/),
    runId: "8f1e2d3c4b5a69788796a5b4c3d2e1f0",
    tags: { dataset: "flights-3m", git_commit: "0123abc" },
    metrics: { accuracy: 0.81, auc: 0.7, chosen_threshold: 0.35 },
    artifactUri: modelDir,
  });
  // Served in place: no copy.
  expect(await source.fetch(resolved)).toBe(modelDir);
});

test("the version is stable while the files are, and changes when any model file is rebuilt or added", async () => {
  const source = local();
  const first = (await source.resolve()).version;
  expect((await local(TINY_MODEL_DIR).resolve()).version).toBe(first); // same bytes elsewhere, same version
  const later = new Date(Date.now() + 5000);
  await utimes(join(modelDir, "model.onnx"), later, later); // touched, not changed
  expect((await source.resolve()).version).toBe(first);

  await writeFile(join(modelDir, "model.onnx"), "rebuilt graph bytes");
  const rebuilt = (await source.resolve()).version;
  expect(rebuilt).not.toBe(first);
  await writeFile(join(modelDir, "data", "extra.bin"), "a new external-data file");
  expect((await source.resolve()).version).not.toBe(rebuilt);
});

test("a relative path resolves against the working directory", async () => {
  const resolved = await local(relative(process.cwd(), modelDir)).resolve();
  expect(resolved.artifactUri).toBe(modelDir);
});

test("a directory without MLmodel, or with a broken metrics.json, fails naming the file", async () => {
  await writeFile(join(modelDir, "metrics.json"), "{ not json");
  await expect(local().resolve()).rejects.toMatchObject({ errorCode: "INVALID_ARTIFACT", message: expect.stringMatching(/metrics\.json in .* is not valid JSON/) });
  await rm(join(modelDir, "MLmodel"));
  const error = await local().resolve().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ModelSourceError);
  expect((error as Error).message).toMatch(new RegExp(`^${modelDir} is not an MLflow model directory: cannot read MLmodel`));
  await expect(local(join(work.path, "missing")).resolve()).rejects.toThrow(/is not an MLflow model directory/);
});
