/**
 * Where a model version's files live, behind one small interface: list the whole tree, download one file.
 * Schemes: `mlflow-artifacts:` and `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` (the tracking server's
 * artifact proxy), `s3://` (read directly), and `file:` or an absolute path (a tracking server with a local
 * artifact store on a shared volume).
 */
import { constants } from "node:fs";
import { copyFile, readdir, stat } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelSourceError } from "./errors";
import { MLFLOW_API } from "./mlflow-api";
import type { MlflowClient } from "./mlflow-client";
import { S3ArtifactStore } from "./s3-artifact-store";
import { checkRelativePath, TransferGuard, writeBodyToFile, type DownloadLimits } from "./transfer";

export interface ArtifactFile {
  /** Relative to the model directory, '/'-separated, never escaping it. */
  readonly path: string;
  readonly size: number;
}

export interface ArtifactStore {
  readonly uri: string;
  /** Every file under the URI, subdirectories included. */
  list(signal?: AbortSignal): Promise<ArtifactFile[]>;
  /** Writes one listed file to `destination` (which must not exist; its directory does), under the download limits. */
  download(file: ArtifactFile, destination: string, signal?: AbortSignal): Promise<void>;
}

export interface ArtifactStoreContext {
  /** Needed for mlflow-artifacts: URIs. */
  readonly mlflow?: MlflowClient;
  /** MLFLOW_S3_ENDPOINT_URL: an S3-compatible server instead of AWS S3. */
  readonly s3EndpointUrl?: string;
  /** Per-request deadline for listings. */
  readonly timeoutMs: number;
  readonly limits: DownloadLimits;
}

/** Where http(s) artifact roots anchor the proxy's path (handlers._get_proxied_run_artifact_destination_path). */
const HTTP_ARTIFACTS_ANCHOR = `${MLFLOW_API.artifacts}/`;

export function openArtifactStore(uri: string, context: ArtifactStoreContext): ArtifactStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === "mlflow-artifacts" || scheme === "http" || scheme === "https") {
    if (!context.mlflow) throw new ModelSourceError(`artifact URI ${uri} needs the MLflow tracking server, but no tracking URI is configured`, "UNSUPPORTED_ARTIFACT_URI");
    return new MlflowProxyStore(uri, context.mlflow, context.limits);
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
    `artifact URI ${uri} uses a storage Modelport cannot read; supported: mlflow-artifacts:/ and http(s)://…/api/2.0/mlflow-artifacts/artifacts/… (serve MLflow with --serve-artifacts), s3://, file://`,
    "UNSUPPORTED_ARTIFACT_URI",
  );
}

/**
 * The tracking server's artifact proxy, as MLflow's own MlflowArtifactsRepository and HttpArtifactRepository read
 * it: `mlflow-artifacts:/<path>` on the tracking server, `mlflow-artifacts://host:port/<path>` on another proxy
 * host (the tracking server's scheme and path prefix still apply), or `http(s)://…/api/2.0/mlflow-artifacts/
 * artifacts/<path>` (everything before the anchor is the server). Credentials are the tracking server's, as MLflow
 * sends them.
 */
class MlflowProxyStore implements ArtifactStore {
  private readonly root: string;
  /** Base URL of the proxy when it is not the tracking server itself. */
  private readonly base?: string;

  constructor(
    readonly uri: string,
    private readonly mlflow: MlflowClient,
    private readonly limits: DownloadLimits,
  ) {
    const url = new URL(uri);
    let path = url.pathname;
    if (url.protocol === "mlflow-artifacts:") {
      if (url.host) {
        const base = new URL(mlflow.trackingUri);
        base.host = url.host;
        this.base = base.href;
      }
    } else {
      const at = url.pathname.indexOf(HTTP_ARTIFACTS_ANCHOR);
      if (at < 0) {
        throw new ModelSourceError(
          `artifact URI ${uri} is an http(s) URL but not an MLflow artifact proxy root (…${HTTP_ARTIFACTS_ANCHOR}…): Modelport cannot list it`,
          "UNSUPPORTED_ARTIFACT_URI",
        );
      }
      this.base = `${url.origin}${url.pathname.slice(0, at)}`;
      path = url.pathname.slice(at + HTTP_ARTIFACTS_ANCHOR.length);
    }
    this.root = path.split("/").filter(Boolean).map(decodeURIComponent).join("/");
  }

  async list(signal?: AbortSignal): Promise<ArtifactFile[]> {
    const files: ArtifactFile[] = [];
    const pending = [""];
    while (pending.length > 0) {
      const dir = pending.shift()!;
      for (const entry of await this.mlflow.listArtifacts(posix.join(this.root, dir), this.base, signal)) {
        // The proxy answers basenames; some servers answer paths from the artifact root: keep the last segment.
        const path = checkRelativePath(posix.join(dir, posix.basename(entry.path)), this.uri);
        if (entry.is_dir) pending.push(path);
        else files.push({ path, size: Number(entry.file_size ?? 0) });
      }
    }
    return files;
  }

  async download(file: ArtifactFile, destination: string, signal?: AbortSignal): Promise<void> {
    const guard = new TransferGuard(`download of ${file.path} from ${this.uri}`, file.size, this.limits, signal);
    try {
      const body = await this.mlflow.openArtifact(posix.join(this.root, file.path), guard, this.base);
      await writeBodyToFile(body, destination, guard);
    } catch (error) {
      throw guard.error(error);
    } finally {
      guard.finish();
    }
  }
}

class LocalArtifactStore implements ArtifactStore {
  constructor(
    readonly uri: string,
    private readonly dir: string,
  ) {}

  async list(_signal?: AbortSignal): Promise<ArtifactFile[]> {
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
