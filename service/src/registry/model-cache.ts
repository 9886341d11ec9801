/**
 * The local model cache: `<cacheDir>/<name>/<version>/` holds a complete, verified model directory or nothing.
 * A download lands in `<cacheDir>/.partial-*` (same filesystem), is verified (every listed file present with
 * its listed size, MLmodel parses and names an ONNX file that arrived), gets a manifest, and only then is renamed
 * into place: a crash or a cut connection can leave a partial folder behind but never a half model where the
 * model manager looks. Registry versions are immutable, so a complete cached copy is reused without the network.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { MLMODEL_FILE } from "../model/mlmodel";
import type { ArtifactFile, ArtifactStore } from "./artifact-store";
import { ModelSourceError } from "./errors";

/** Written last into a verified download; its presence is what makes a cached directory trustworthy. */
export const DOWNLOAD_MANIFEST_FILE = ".modelport-download.json";
const PARTIAL_PREFIX = ".partial-";
/** Partial folders older than this belong to a crashed process and are swept. */
const STALE_PARTIAL_MS = 60 * 60 * 1000;
/** Files transferred at once: model directories hold a handful of files, some large. */
const PARALLEL_DOWNLOADS = 4;

interface DownloadManifest {
  readonly uri: string;
  readonly name: string;
  readonly version: string;
  readonly files: readonly ArtifactFile[];
  readonly downloadedAt: string;
}

export interface CacheOptions {
  readonly cacheDir: string;
  /** Versions of one model kept on disk (least recently used go first). @default 3 */
  readonly keepVersions?: number;
}

/** The cached directory of name/version, downloading it from `store` first unless a complete copy exists. */
export async function cachedModelDirectory(store: ArtifactStore, name: string, version: string, options: CacheOptions): Promise<string> {
  const modelDir = join(options.cacheDir, safeSegment(name));
  const target = join(modelDir, safeSegment(version));
  if (await isComplete(target)) {
    await touch(target);
    return target;
  }
  await mkdir(modelDir, { recursive: true });
  const files = await store.list();
  checkListing(files, store.uri);

  const partial = join(options.cacheDir, `${PARTIAL_PREFIX}${randomBytes(6).toString("hex")}`);
  await mkdir(partial);
  try {
    await downloadAll(store, files, partial);
    await verifyModelDirectory(partial, files, store.uri);
    const manifest: DownloadManifest = { uri: store.uri, name, version, files, downloadedAt: new Date().toISOString() };
    await writeFile(join(partial, DOWNLOAD_MANIFEST_FILE), JSON.stringify(manifest, null, 2));
    await publish(partial, target);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  await prune(options.cacheDir, modelDir, target, options.keepVersions ?? 3);
  return target;
}

async function downloadAll(store: ArtifactStore, files: readonly ArtifactFile[], into: string): Promise<void> {
  const queue = [...files];
  let failure: { error: unknown } | undefined;
  // On the first failure the other workers stop taking files; all settle before the caller removes the folder.
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file && !failure; file = queue.shift()) {
      const destination = join(into, ...file.path.split("/"));
      try {
        await mkdir(dirname(destination), { recursive: true });
        await store.download(file, destination);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, files.length) }, worker));
  if (failure) throw failure.error;
}

function checkListing(files: readonly ArtifactFile[], uri: string): void {
  if (files.length === 0) throw new ModelSourceError(`no files under ${uri}: the version's artifacts were deleted or never uploaded`, "INVALID_ARTIFACT");
  if (!files.some((f) => f.path === MLMODEL_FILE)) {
    throw new ModelSourceError(`${uri} has no ${MLMODEL_FILE} at its top level: the version does not point at an MLflow model directory`, "INVALID_ARTIFACT");
  }
}

/** Every listed file with its listed size, and an MLmodel whose onnx flavor names a file that arrived. */
async function verifyModelDirectory(dir: string, files: readonly ArtifactFile[], uri: string): Promise<void> {
  for (const file of files) {
    const size = await stat(join(dir, file.path)).then((s) => s.size, () => -1);
    if (size !== file.size) {
      throw new ModelSourceError(`download of ${uri} is incomplete: ${file.path} has ${size < 0 ? "no file" : `${size} bytes`}, the listing says ${file.size}`, "INVALID_ARTIFACT");
    }
  }
  let onnxFile: unknown;
  try {
    const mlmodel = parseYaml(await readFile(join(dir, MLMODEL_FILE), "utf8")) as { flavors?: { onnx?: { data?: unknown } } } | null;
    onnxFile = mlmodel?.flavors?.onnx?.data;
  } catch (error) {
    throw new ModelSourceError(`${MLMODEL_FILE} of ${uri} is not valid YAML: ${(error as Error).message}`, "INVALID_ARTIFACT");
  }
  if (typeof onnxFile !== "string") throw new ModelSourceError(`${MLMODEL_FILE} of ${uri} has no onnx flavor (flavors.onnx.data): Modelport serves ONNX models`, "INVALID_ARTIFACT");
  const onnx = files.find((f) => f.path === onnxFile);
  if (!onnx || onnx.size === 0) throw new ModelSourceError(`${MLMODEL_FILE} of ${uri} names ${onnxFile}, which is ${onnx ? "empty" : "not among the artifacts"}`, "INVALID_ARTIFACT");
}

async function isComplete(dir: string): Promise<boolean> {
  let manifest: DownloadManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, DOWNLOAD_MANIFEST_FILE), "utf8")) as DownloadManifest;
  } catch {
    return false;
  }
  if (!Array.isArray(manifest?.files)) return false;
  for (const file of manifest.files) {
    const size = await stat(join(dir, file.path)).then((s) => s.size, () => -1);
    if (size !== file.size) return false;
  }
  return true;
}

/** Atomic rename into place; an incomplete leftover at the target (someone deleted files) is moved aside first. */
async function publish(partial: string, target: string): Promise<void> {
  try {
    await rename(partial, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    if (await isComplete(target)) return; // another fetch of the same version won the race
    const aside = `${target}${PARTIAL_PREFIX}${randomBytes(6).toString("hex")}`;
    await rename(target, aside);
    await rm(aside, { recursive: true, force: true });
    await rename(partial, target);
  }
}

async function touch(dir: string): Promise<void> {
  const now = new Date();
  await utimes(join(dir, DOWNLOAD_MANIFEST_FILE), now, now).catch(() => undefined);
}

/** Keeps the `keep` most recently used versions of this model (always `current`) and sweeps stale partials. */
async function prune(cacheDir: string, modelDir: string, current: string, keep: number): Promise<void> {
  const now = Date.now();
  for (const entry of await readdir(cacheDir).catch(() => [] as string[])) {
    if (!entry.startsWith(PARTIAL_PREFIX)) continue;
    const path = join(cacheDir, entry);
    const age = await stat(path).then((s) => now - s.mtimeMs, () => 0);
    if (age > STALE_PARTIAL_MS) await rm(path, { recursive: true, force: true });
  }
  const versions = await Promise.all(
    (await readdir(modelDir).catch(() => [] as string[])).map(async (entry) => {
      const path = join(modelDir, entry);
      const used = await stat(join(path, DOWNLOAD_MANIFEST_FILE)).then((s) => s.mtimeMs, () => 0);
      return { path, used };
    }),
  );
  const stale = versions.filter((v) => v.path !== current).sort((a, b) => b.used - a.used).slice(Math.max(0, keep - 1));
  for (const version of stale) await rm(version.path, { recursive: true, force: true });
}

/** A name or version as one directory name: no separators, no "." or "..", readable when already safe. */
function safeSegment(value: string): string {
  return encodeURIComponent(value).replace(/^\.\.?$/, (dots) => dots.replace(/\./g, "%2E"));
}
