import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";

/**
 * A minimal MLflow model directory: a valid MLmodel (onnx flavor), metrics.json, input_example.json and placeholder
 * bytes for model.onnx and its nested external-data file data/weights.bin. Moved and verified, never run by ORT.
 */
export const TINY_MODEL_DIR = join(__dirname, "fixtures", "tiny-model");

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ readonly path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A writable copy of the tiny model (tests that rebuild or damage it). */
export async function copyTinyModel(into: string): Promise<string> {
  const dir = join(into, "tiny-model");
  await cp(TINY_MODEL_DIR, dir, { recursive: true });
  return dir;
}

/** Relative paths of every file under `dir`, '/'-separated and sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}
