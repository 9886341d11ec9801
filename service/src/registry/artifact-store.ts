/**
 * Where a model version's files live, behind one small interface: list the whole tree, download one file.
 * Schemes: `mlflow-artifacts:` (the tracking server's artifact proxy), `s3://` (read directly), and `file:` or
 * an absolute path (a tracking server with a local artifact store on a shared volume).
 */
import { constants } from "node:fs";
import { copyFile, readdir, stat } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelSourceError } from "./errors";
import type { MlflowClient } from "./mlflow-client";
import { S3ArtifactStore } from "./s3-artifact-store";
import { checkRelativePath, IdleTimeout, transferError, writeBodyToFile } from "./transfer";

export interface ArtifactFile {
  /** Relative to the model directory, '/'-separated, never escaping it. */
  readonly path: string;
  readonly size: number;
}

export interface ArtifactStore {
  readonly uri: string;
  /** Every file under the URI, subdirectories included. */
  list(): Promise<ArtifactFile[]>;
  /** Writes one listed file to `destination` (which must not exist; its directory does). */
  download(file: ArtifactFile, destination: string): Promise<void>;
}

export interface ArtifactStoreContext {
  /** Needed for mlflow-artifacts: URIs. */
  readonly mlflow?: MlflowClient;
  /** MLFLOW_S3_ENDPOINT_URL: an S3-compatible server instead of AWS S3. */
  readonly s3EndpointUrl?: string;
  /** Per-request deadline for listings; idle timeout for file transfers. */
  readonly timeoutMs: number;
}

export function openArtifactStore(uri: string, context: ArtifactStoreContext): ArtifactStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === "mlflow-artifacts") {
    if (!context.mlflow) throw new ModelSourceError(`artifact URI ${uri} needs the MLflow tracking server, but no tracking URI is configured`, "UNSUPPORTED_ARTIFACT_URI");
    return new MlflowProxyStore(uri, context.mlflow, context.timeoutMs);
  }
  if (scheme === "s3") return new S3ArtifactStore(uri, context);
  if (scheme === "file") {
    try {
      return new LocalArtifactStore(uri, fileURLToPath(uri));
    } catch (error) {
      throw new ModelSourceError(`artifact URI ${uri} is not a usable file URL: ${(error as Error).message}`, "UNSUPPORTED_ARTIFACT_URI");
    }
  }
  if (scheme === undefined && uri.startsWith("/")) return new LocalArtifactStore(uri, uri);
  throw new ModelSourceError(
    `artifact URI ${uri} uses a storage Modelport cannot read; supported: mlflow-artifacts:/ (serve MLflow with --serve-artifacts), s3://, file://`,
    "UNSUPPORTED_ARTIFACT_URI",
  );
}

class MlflowProxyStore implements ArtifactStore {
  private readonly root: string;
  private readonly origin?: string;

  constructor(
    readonly uri: string,
    private readonly mlflow: MlflowClient,
    private readonly timeoutMs: number,
  ) {
    const url = new URL(uri);
    // mlflow-artifacts://host:port/path names another proxy host; the tracking server's scheme still applies.
    this.origin = url.host ? `${new URL(mlflow.trackingUri).protocol}//${url.host}` : undefined;
    this.root = url.pathname.split("/").filter(Boolean).map(decodeURIComponent).join("/");
  }

  async list(): Promise<ArtifactFile[]> {
    const files: ArtifactFile[] = [];
    const pending = [""];
    while (pending.length > 0) {
      const dir = pending.shift()!;
      for (const entry of await this.mlflow.listArtifacts(posix.join(this.root, dir), this.origin)) {
        // The proxy answers basenames; some servers answer paths from the artifact root: keep the last segment.
        const path = checkRelativePath(posix.join(dir, posix.basename(entry.path)), this.uri);
        if (entry.is_dir) pending.push(path);
        else files.push({ path, size: Number(entry.file_size ?? 0) });
      }
    }
    return files;
  }

  async download(file: ArtifactFile, destination: string): Promise<void> {
    const idle = new IdleTimeout(this.timeoutMs);
    try {
      const body = await this.mlflow.openArtifact(posix.join(this.root, file.path), idle, this.origin);
      await writeBodyToFile(body, destination, idle);
    } catch (error) {
      throw transferError(error, idle, `download of ${file.path} from ${this.uri}`);
    } finally {
      idle.clear();
    }
  }
}

class LocalArtifactStore implements ArtifactStore {
  constructor(
    readonly uri: string,
    private readonly dir: string,
  ) {}

  async list(): Promise<ArtifactFile[]> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true }).catch((error: Error) => {
      throw new ModelSourceError(`cannot read artifact directory ${this.dir}: ${error.message}`, "RESOURCE_DOES_NOT_EXIST");
    });
    const files: ArtifactFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      files.push({ path: relative(this.dir, full).split(sep).join("/"), size: (await stat(full)).size });
    }
    return files;
  }

  async download(file: ArtifactFile, destination: string): Promise<void> {
    await copyFile(join(this.dir, file.path), destination, constants.COPYFILE_EXCL);
  }
}
