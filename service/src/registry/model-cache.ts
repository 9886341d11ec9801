/**
 * The local model cache: `<cacheDir>/<name>/<version>/` holds a complete, verified model directory or nothing.
 * A download lands in `<cacheDir>/.partial-<key>` (same filesystem), is verified (every listed file present with
 * its listed size, MLmodel parses and names an ONNX file that arrived), gets a manifest, and only then is renamed
 * into place: a crash or a cut connection can leave a partial folder behind but never a half model where the
 * model manager looks. Registry versions are immutable, so a complete cached copy is reused without the network,
 * and so is every file a failed attempt completed: the partial folder of a version is kept for the next attempt,
 * each file arriving under a temporary name and renamed into it once it has its listed size.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ENV } from "../contract";
import { MLMODEL_FILE } from "../model/mlmodel";
import type { ArtifactFile, ArtifactStore } from "./artifact-store";
import { ModelSourceError } from "./errors";
import { ABORTED, DEFAULT_DOWNLOAD_LIMITS } from "./transfer";

/** Written last into a verified download; its presence is what makes a cached directory trustworthy. */
export const DOWNLOAD_MANIFEST_FILE = ".modelport-download.json";
const PARTIAL_PREFIX = ".partial-";
/** Inside a partial folder: files still arriving. Removed before the folder is published. */
const INCOMING_DIR = ".incoming";
/** Partial folders untouched this long belong to a crashed process or a version nobody wants: swept. */
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
  /** Largest model directory (sum of its listed files) downloaded. @default DEFAULT_DOWNLOAD_LIMITS.maxBytes */
  readonly maxBytes?: number;
  /** Abandons the download (a superseded reload); the files it completed stay for the next attempt. */
  readonly signal?: AbortSignal;
}

/** One download per version and process, shared by concurrent callers; abandoned when the last one gives up. */
interface SharedDownload {
  readonly done: Promise<string>;
  readonly controller: AbortController;
  users: number;
}
const downloads = new Map<string, SharedDownload>();
/** Partial folders a download of this process is filling: never swept. */
const activePartials = new Set<string>();

/** The cached directory of name/version, downloading it from `store` first unless a complete copy exists. */
export async function cachedModelDirectory(store: ArtifactStore, name: string, version: string, options: CacheOptions): Promise<string> {
  const target = join(options.cacheDir, safeSegment(name), safeSegment(version));
  if (await isComplete(target)) {
    await touch(target);
    return target;
  }
  let shared = downloads.get(target);
  // One whose last user left is winding down: start afresh rather than join it.
  if (!shared || shared.controller.signal.aborted) {
    const controller = new AbortController();
    const done = download(store, name, version, target, options, controller.signal);
    const started: SharedDownload = { done, controller, users: 0 };
    void done.catch(() => undefined).finally(() => downloads.get(target) === started && downloads.delete(target));
    downloads.set(target, (shared = started));
  }
  return joinDownload(shared, options.signal);
}

/** Waits for a shared download as one of its users; the caller's abort leaves it, the last one's stops it. */
function joinDownload(shared: SharedDownload, signal: AbortSignal | undefined): Promise<string> {
  shared.users++;
  if (!signal) return shared.done.finally(() => shared.users--);
  return new Promise<string>((resolve, reject) => {
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      signal.removeEventListener("abort", onAbort);
      if (--shared.users === 0) shared.controller.abort(signal.reason);
    };
    const onAbort = () => {
      leave();
      reject(new ModelSourceError(`download abandoned: ${(signal.reason as Error)?.message ?? "aborted"}`, ABORTED));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    shared.done.then(
      (dir) => (leave(), resolve(dir)),
      (error: unknown) => (leave(), reject(error)),
    );
  });
}

async function download(store: ArtifactStore, name: string, version: string, target: string, options: CacheOptions, signal: AbortSignal): Promise<string> {
  const modelDir = dirname(target);
  await mkdir(modelDir, { recursive: true });
  const files = await store.list(signal);
  checkListing(files, store.uri, options.maxBytes ?? DEFAULT_DOWNLOAD_LIMITS.maxBytes);

  const key = createHash("sha256").update(`${store.uri}\0${name}\0${version}`).digest("hex").slice(0, 16);
  const partial = join(options.cacheDir, `${PARTIAL_PREFIX}${key}`);
  activePartials.add(partial);
  try {
    await mkdir(join(partial, INCOMING_DIR), { recursive: true });
    await downloadMissing(store, files, partial, signal);
    await verifyModelDirectory(partial, files, store.uri);
    await rm(join(partial, INCOMING_DIR), { recursive: true, force: true });
    const manifest: DownloadManifest = { uri: store.uri, name, version, files, downloadedAt: new Date().toISOString() };
    await writeFile(join(partial, DOWNLOAD_MANIFEST_FILE), JSON.stringify(manifest, null, 2));
    await publish(partial, target);
    await rm(partial, { recursive: true, force: true });
  } finally {
    activePartials.delete(partial);
  }
  await prune(options.cacheDir, modelDir, target, options.keepVersions ?? 3);
  return target;
}

/** Downloads every listed file the partial folder lacks (or holds with another size), four at a time. */
async function downloadMissing(store: ArtifactStore, files: readonly ArtifactFile[], into: string, signal: AbortSignal): Promise<void> {
  const missing: ArtifactFile[] = [];
  for (const file of files) if ((await sizeOf(join(into, file.path))) !== file.size) missing.push(file);
  const queue = [...missing];
  let failure: { error: unknown } | undefined;
  // On the first failure the other workers stop taking files; all settle before the caller decides what to keep.
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file && !failure; file = queue.shift()) {
      try {
        await downloadOne(store, file, into, signal);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, missing.length) }, worker));
  if (failure) throw failure.error;
}

/** One file into `<into>/.incoming/`, renamed to its place only once it has its listed size. */
async function downloadOne(store: ArtifactStore, file: ArtifactFile, into: string, signal: AbortSignal): Promise<void> {
  const incoming = join(into, INCOMING_DIR, randomBytes(6).toString("hex"));
  try {
    await store.download(file, incoming, signal);
    const size = await sizeOf(incoming);
    if (size !== file.size) {
      throw new ModelSourceError(`download of ${file.path} from ${store.uri} is incomplete: ${size} bytes arrived, the listing says ${file.size}`, "INVALID_ARTIFACT");
    }
    const destination = join(into, ...file.path.split("/"));
    await mkdir(dirname(destination), { recursive: true });
    await rename(incoming, destination);
  } finally {
    await rm(incoming, { force: true });
  }
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
}

function checkListing(files: readonly ArtifactFile[], uri: string, maxBytes: number): void {
  if (files.length === 0) throw new ModelSourceError(`no files under ${uri}: the version's artifacts were deleted or never uploaded`, "INVALID_ARTIFACT");
  if (!files.some((f) => f.path === MLMODEL_FILE)) {
    throw new ModelSourceError(`${uri} has no ${MLMODEL_FILE} at its top level: the version does not point at an MLflow model directory`, "INVALID_ARTIFACT");
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > maxBytes) {
    const largest = [...files].sort((a, b) => b.size - a.size)[0]!;
    throw new ModelSourceError(
      `${uri} lists ${total} bytes (largest: ${largest.path}, ${largest.size} bytes), more than ${ENV.modelDownloadMaxBytes}=${maxBytes}: nothing was downloaded`,
      "ARTIFACT_TOO_LARGE",
    );
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
    if (activePartials.has(path)) continue;
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
