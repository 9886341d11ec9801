/**
 * A model directory on disk (the embedded demo model, a mounted volume, a dev build). Its version is a content
 * hash, so rebuilding the model in place is seen by the poller as a new version and hot-reloaded like a registry
 * promotion. Hashes are memoised per file by (size, mtime, inode): a poll re-reads only files that changed.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { parse as parseYaml } from "yaml";
import { METRICS_FILE, MLMODEL_FILE } from "../model/mlmodel";
import { ModelSourceError } from "./errors";
import type { ModelSource, ResolvedModelVersion } from "./model-source";

/** Hex digits of the content hash used as the version: short enough for a label, long enough not to collide. */
const VERSION_HEX_DIGITS = 12;

interface MlModelLineage {
  run_id?: unknown;
  metadata?: Record<string, unknown>;
}

export class LocalModelSource implements ModelSource {
  readonly uri: string;
  private readonly dir: string;
  private readonly fileDigests = new Map<string, { readonly stamp: string; readonly digest: string }>();

  constructor(path: string) {
    this.uri = path;
    this.dir = resolve(path);
  }

  async resolve(): Promise<ResolvedModelVersion> {
    const mlmodelText = await readFile(join(this.dir, MLMODEL_FILE), "utf8").catch((error: Error) => {
      throw new ModelSourceError(`${this.dir} is not an MLflow model directory: cannot read ${MLMODEL_FILE} (${error.message})`, "INVALID_ARTIFACT");
    });
    let mlmodel: MlModelLineage | null;
    try {
      mlmodel = parseYaml(mlmodelText) as MlModelLineage | null;
    } catch (error) {
      throw new ModelSourceError(`${MLMODEL_FILE} in ${this.dir} is not valid YAML: ${(error as Error).message}`, "INVALID_ARTIFACT");
    }
    return {
      name: basename(this.dir),
      version: await this.contentHash(),
      runId: typeof mlmodel?.run_id === "string" && mlmodel.run_id !== "" ? mlmodel.run_id : undefined,
      tags: stringEntries(mlmodel?.metadata),
      metrics: await this.metrics(),
      artifactUri: this.dir,
    };
  }

  async fetch(version: ResolvedModelVersion): Promise<string> {
    return version.artifactUri;
  }

  /** sha256 over (relative path, file digest) of every file, dot-files excepted, in a stable order. */
  private async contentHash(): Promise<string> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => relative(this.dir, join(e.parentPath, e.name)).split(sep).join("/"))
      .filter((path) => !path.split("/").some((segment) => segment.startsWith(".")))
      .sort();
    const hash = createHash("sha256");
    const seen = new Set<string>();
    for (const path of files) {
      hash.update(`${path}\0${await this.fileDigest(path)}\n`);
      seen.add(path);
    }
    for (const path of this.fileDigests.keys()) if (!seen.has(path)) this.fileDigests.delete(path);
    return hash.digest("hex").slice(0, VERSION_HEX_DIGITS);
  }

  private async fileDigest(path: string): Promise<string> {
    const full = join(this.dir, path);
    const info = await stat(full);
    const stamp = `${info.size}:${info.mtimeMs}:${info.ino}`;
    const known = this.fileDigests.get(path);
    if (known?.stamp === stamp) return known.digest;
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
    const digest = hash.digest("hex");
    this.fileDigests.set(path, { stamp, digest });
    return digest;
  }

  private async metrics(): Promise<Record<string, number>> {
    let text: string;
    try {
      text = await readFile(join(this.dir, METRICS_FILE), "utf8");
    } catch {
      return {};
    }
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1])));
    } catch (error) {
      throw new ModelSourceError(`${METRICS_FILE} in ${this.dir} is not valid JSON: ${(error as Error).message}`, "INVALID_ARTIFACT");
    }
  }
}

function stringEntries(record: Record<string, unknown> | undefined): Record<string, string> {
  if (!record || typeof record !== "object") return {};
  return Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => ["string", "number", "boolean"].includes(typeof value))
      .map(([key, value]) => [key, String(value)]),
  );
}
