/**
 * A model URI turned into two operations the model manager polls and acts on: `resolve()` says which version
 * should be served now (cheap, no download), `fetch()` makes that version's whole directory available locally.
 */
import { LocalModelSource } from "./local-source";
import { MlflowClient } from "./mlflow-client";
import { MlflowModelSource } from "./mlflow-source";
import { formatModelUri, parseModelUri } from "./model-uri";
import { ModelSourceError } from "./errors";
import { ENV } from "../contract";
import { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from "./transfer";

export interface ResolvedModelVersion {
  readonly name: string;
  /** Registry version ("3"), or the first 12 hex digits of a content hash for a local directory. */
  readonly version: string;
  /** The alias the URI named (models:/name@alias). */
  readonly alias?: string;
  /** The version's registry stage, unless "None". */
  readonly stage?: string;
  readonly runId?: string;
  /** Model-version tags merged over run tags (git commit, dataset, ...); MLmodel metadata for a local directory. */
  readonly tags: Readonly<Record<string, string>>;
  /** Run metrics (accuracy, auc, chosen_threshold, ...), or metrics.json for a local directory. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Where the files are: mlflow-artifacts:/..., s3://..., or a local directory path. */
  readonly artifactUri: string;
}

export interface ModelSource {
  /** The configured URI in MLflow's spelling. */
  readonly uri: string;
  /** Which version should be served now. One registry request in the steady state; never downloads. */
  resolve(): Promise<ResolvedModelVersion>;
  /**
   * Path of a complete local copy of `version`'s model directory (external-data files and subfolders included),
   * downloaded into the cache atomically unless already there. A local directory is returned as is.
   */
  fetch(version: ResolvedModelVersion, options?: FetchOptions): Promise<string>;
}

export interface FetchOptions {
  /** Abandons the download (a superseded reload): rejects with errorCode ABORTED; completed files are kept. */
  readonly signal?: AbortSignal;
}

export interface ModelSourceOptions {
  /** MLFLOW_TRACKING_URI; required for models:/ URIs. */
  readonly trackingUri?: string;
  /** MLFLOW_TRACKING_TOKEN (Bearer). */
  readonly token?: string;
  /** MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (Basic; wins over the token, as in MLflow). */
  readonly username?: string;
  readonly password?: string;
  /** MLFLOW_S3_ENDPOINT_URL, for s3:// artifacts on an S3-compatible server. */
  readonly s3EndpointUrl?: string;
  /** MODEL_CACHE_DIR: downloaded versions live in <cacheDir>/<name>/<version>. */
  readonly cacheDir: string;
  /** Deadline per registry request (and artifact listing). @default 10000 */
  readonly timeoutMs?: number;
  /** Limits of each file transfer and the largest model accepted (MODEL_DOWNLOAD_*). @default DEFAULT_DOWNLOAD_LIMITS */
  readonly download?: Partial<DownloadLimits>;
  /** Versions of a model kept in the cache. @default 3 */
  readonly keepVersions?: number;
}

/** Throws ModelUriError for a malformed URI, ModelSourceError when a registry URI has no tracking URI. */
export function createModelSource(uri: string, options: ModelSourceOptions): ModelSource {
  const parsed = parseModelUri(uri);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (parsed.kind === "local") return new LocalModelSource(parsed.path);
  if (!options.trackingUri) {
    throw new ModelSourceError(`${formatModelUri(parsed)} is a registry URI but ${ENV.mlflowTrackingUri} is not set`, "INVALID_PARAMETER_VALUE");
  }
  const client = new MlflowClient({
    trackingUri: options.trackingUri,
    token: options.token,
    username: options.username,
    password: options.password,
    timeoutMs,
  });
  return new MlflowModelSource(parsed, client, {
    cacheDir: options.cacheDir,
    keepVersions: options.keepVersions,
    s3EndpointUrl: options.s3EndpointUrl,
    timeoutMs,
    limits: { ...DEFAULT_DOWNLOAD_LIMITS, ...options.download },
  });
}
