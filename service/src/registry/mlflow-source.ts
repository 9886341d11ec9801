/**
 * A models:/ URI served from the MLflow registry. Each poll costs one request (alias lookup, latest-in-stage or
 * version get); the run and the download URI of a version are fetched once and remembered, since a registered
 * version's lineage does not change. Only READY versions are answered: a version still registering (or whose
 * registration failed) is refused with NOT_READY, so the manager keeps serving what it has.
 */
import { openArtifactStore } from "./artifact-store";
import { ModelSourceError } from "./errors";
import type { MlflowModelVersion, MlflowRun } from "./mlflow-api";
import type { MlflowClient } from "./mlflow-client";
import { cachedModelDirectory } from "./model-cache";
import type { FetchOptions, ModelSource, ResolvedModelVersion } from "./model-source";
import { formatModelUri, type ModelUri } from "./model-uri";
import type { DownloadLimits } from "./transfer";

type RegistryUri = Exclude<ModelUri, { kind: "local" }>;

/** Run tags that are bulky bookkeeping rather than lineage. */
const IGNORED_RUN_TAGS = new Set(["mlflow.log-model.history"]);
/** Versions whose lineage is remembered: the served one, a candidate, and a little slack. */
const LINEAGE_CACHE_SIZE = 8;

interface Lineage {
  readonly artifactUri: string;
  readonly runTags: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface MlflowSourceOptions {
  readonly cacheDir: string;
  readonly keepVersions?: number;
  readonly s3EndpointUrl?: string;
  readonly timeoutMs: number;
  readonly limits: DownloadLimits;
}

export class MlflowModelSource implements ModelSource {
  readonly uri: string;
  private readonly lineage = new Map<string, Promise<Lineage>>();

  constructor(
    private readonly modelUri: RegistryUri,
    private readonly client: MlflowClient,
    private readonly options: MlflowSourceOptions,
  ) {
    this.uri = formatModelUri(modelUri);
  }

  async resolve(): Promise<ResolvedModelVersion> {
    const modelVersion = await this.lookUp();
    const described = `model "${modelVersion.name}" version ${modelVersion.version}${this.modelUri.kind === "alias" ? ` (alias "${this.modelUri.alias}")` : ""}`;
    if (modelVersion.status !== "READY") {
      const detail = modelVersion.status_message ? `: ${modelVersion.status_message}` : "";
      throw new ModelSourceError(`${described} is ${modelVersion.status ?? "of unknown status"}, not READY${detail}; only READY versions are served`, "NOT_READY");
    }
    const lineage = await this.lineageOf(modelVersion);
    const versionTags = Object.fromEntries((modelVersion.tags ?? []).map((t) => [t.key, t.value]));
    return {
      name: modelVersion.name,
      version: modelVersion.version,
      alias: this.modelUri.kind === "alias" ? this.modelUri.alias : undefined,
      stage: modelVersion.current_stage && modelVersion.current_stage !== "None" ? modelVersion.current_stage : undefined,
      runId: modelVersion.run_id || undefined,
      tags: { ...lineage.runTags, ...versionTags },
      metrics: lineage.metrics,
      artifactUri: lineage.artifactUri,
    };
  }

  async fetch(version: ResolvedModelVersion, options: FetchOptions = {}): Promise<string> {
    const { limits } = this.options;
    const store = openArtifactStore(version.artifactUri, {
      mlflow: this.client,
      s3EndpointUrl: this.options.s3EndpointUrl,
      timeoutMs: this.options.timeoutMs,
      limits,
    });
    return cachedModelDirectory(store, version.name, version.version, { ...this.options, maxBytes: limits.maxBytes, signal: options.signal });
  }

  private async lookUp(): Promise<MlflowModelVersion> {
    const uri = this.modelUri;
    switch (uri.kind) {
      case "alias":
        return this.client.getModelVersionByAlias(uri.name, uri.alias);
      case "version":
        return this.client.getModelVersion(uri.name, uri.version);
      case "stage":
      case "latest": {
        const candidates = await this.client.getLatestVersions(uri.name, uri.kind === "stage" ? [uri.stage] : undefined);
        const newest = candidates.reduce<MlflowModelVersion | undefined>((a, b) => (a && Number(a.version) >= Number(b.version) ? a : b), undefined);
        if (!newest) {
          const where = uri.kind === "stage" ? `in stage ${uri.stage}` : "at all";
          throw new ModelSourceError(`model "${uri.name}" has no version ${where}`, "RESOURCE_DOES_NOT_EXIST");
        }
        return newest;
      }
    }
  }

  private lineageOf(modelVersion: MlflowModelVersion): Promise<Lineage> {
    const key = `${modelVersion.name}\0${modelVersion.version}`;
    let pending = this.lineage.get(key);
    if (!pending) {
      pending = this.loadLineage(modelVersion);
      // Forget failures so the next poll asks again; bound the map (oldest entries first).
      pending.catch(() => this.lineage.delete(key));
      this.lineage.set(key, pending);
      while (this.lineage.size > LINEAGE_CACHE_SIZE) this.lineage.delete(this.lineage.keys().next().value!);
    }
    return pending;
  }

  private async loadLineage(modelVersion: MlflowModelVersion): Promise<Lineage> {
    const [downloadUri, run] = await Promise.all([
      this.client.getDownloadUri(modelVersion.name, modelVersion.version),
      modelVersion.run_id ? this.runOrNothing(modelVersion.run_id) : undefined,
    ]);
    const artifactUri = /^runs:/i.test(downloadUri) ? await this.resolveRunsUri(downloadUri, modelVersion, run) : downloadUri;
    return {
      artifactUri,
      runTags: Object.fromEntries((run?.data.tags ?? []).filter((t) => !IGNORED_RUN_TAGS.has(t.key)).map((t) => [t.key, t.value])),
      metrics: Object.fromEntries(
        (run?.data.metrics ?? []).map((m) => [m.key, Number(m.value)] as const).filter(([, value]) => Number.isFinite(value)),
      ),
    };
  }

  /**
   * A version registered from `runs:/<run>/<path>` answers get-download-uri with that URI as is
   * (SqlAlchemyStore.get_model_version_download_uri returns `storage_location or source`); MLflow's own loader
   * resolves it through the run's artifact_uri (RunsArtifactRepository.get_underlying_uri -> get_artifact_uri).
   */
  private async resolveRunsUri(uri: string, modelVersion: MlflowModelVersion, knownRun: MlflowRun | undefined): Promise<string> {
    const described = `model "${modelVersion.name}" version ${modelVersion.version} is registered from ${uri}`;
    const match = /^runs:\/([^/]+)(?:\/(.*))?$/i.exec(uri);
    if (!match) {
      throw new ModelSourceError(`${described}, which is not runs:/<run_id>/<path> (runs URIs with a profile are not supported)`, "UNSUPPORTED_ARTIFACT_URI");
    }
    const [, runId, path = ""] = match as unknown as [string, string, string | undefined];
    let run = knownRun?.info.run_id === runId ? knownRun : undefined;
    try {
      run ??= await this.client.getRun(runId);
    } catch (error) {
      if (!(error instanceof ModelSourceError) || error.errorCode !== "RESOURCE_DOES_NOT_EXIST") throw error;
      throw new ModelSourceError(`${described}, but run ${runId} no longer exists, so its artifacts cannot be located`, error.errorCode, error.status);
    }
    const root = run.info.artifact_uri;
    if (!root) throw new ModelSourceError(`${described}, but MLflow answered run ${runId} without an artifact_uri`, "BAD_RESPONSE");
    const resolved = path === "" ? root : `${root.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
    if (/^runs:/i.test(resolved)) throw new ModelSourceError(`${described}, whose run's artifact_uri is itself a runs:/ URI (${root})`, "BAD_RESPONSE");
    return resolved;
  }

  /** A deleted run leaves the version servable: its lineage is then the version tags alone. */
  private async runOrNothing(runId: string): Promise<MlflowRun | undefined> {
    try {
      return await this.client.getRun(runId);
    } catch (error) {
      if (error instanceof ModelSourceError && error.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw error;
    }
  }
}
