/**
 * The batch scorer's model: resolved and downloaded through the service's registry sources (every MODEL_URI
 * form), then loaded by the service's own ModelManager (contract, warm-up checks, task binding, record
 * validator) from that one downloaded version. The main thread and every scoring worker load it the same way,
 * from the same pinned directory, so each holds exactly what a serving replica would serve.
 */
import pino from "pino";
import { Registry } from "prom-client";
import type { MlflowSettings } from "../config";
import { createServiceMetrics } from "../metrics/service-metrics";
import { ModelManager, type LoadedModel, type ScorerFactory } from "../model/model-manager";
import { OnnxScorer } from "../model/onnx-scorer";
import { ModelSourceError } from "../registry/errors";
import { createModelSource, type ModelSource, type ResolvedModelVersion } from "../registry/model-source";
import { ModelUriError } from "../registry/model-uri";
import type { DownloadLimits } from "../registry/transfer";
import { ScoringInputError } from "./errors";

export interface ModelLocation {
  /** models:/name@alias, models:/name/stage, models:/name/version or a local MLflow model directory. */
  readonly uri: string;
  readonly mlflow: MlflowSettings;
  readonly cacheDir: string;
  readonly download?: Partial<DownloadLimits>;
}

/** One downloaded version: plain data, so it crosses to the scoring workers as is. */
export interface PinnedModel {
  readonly uri: string;
  readonly resolved: ResolvedModelVersion;
  readonly dir: string;
}

/** Registry answers that a human must fix (a wrong name, alias or credentials), as opposed to an outage. */
const CALLER_ERRORS = new Set(["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_READY", "ARTIFACT_TOO_LARGE", "UNSUPPORTED_ARTIFACT_URI", "ARTIFACTS_NOT_SERVED", "INVALID_ARTIFACT", "ENDPOINT_NOT_FOUND"]);

/** Resolves the URI once (an alias names one version for the whole run) and downloads that version. */
export async function pinModel(location: ModelLocation): Promise<PinnedModel> {
  try {
    const source = createModelSource(location.uri, { ...location.mlflow, cacheDir: location.cacheDir, download: location.download });
    const resolved = await source.resolve();
    const dir = await source.fetch(resolved);
    return { uri: location.uri, resolved, dir };
  } catch (error) {
    if (error instanceof ModelUriError || (error instanceof ModelSourceError && CALLER_ERRORS.has(error.errorCode))) {
      throw new ScoringInputError(`--model ${location.uri}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** A source that always names the pinned version, already on disk. */
function pinnedSource(pinned: PinnedModel): ModelSource {
  return { uri: pinned.uri, resolve: async () => pinned.resolved, fetch: async () => pinned.dir };
}

/** Sessions on the calling thread: each scoring worker runs its own, one ORT thread each. */
const inThread: ScorerFactory = (model) => OnnxScorer.load(model, { intraOpThreads: 1 });

export interface ScoringModel {
  readonly model: LoadedModel;
  close(): Promise<void>;
}

/** Loads the pinned version as the service does; a version the service would refuse is refused with its reason. */
export async function loadPinnedModel(pinned: PinnedModel, createScorer: ScorerFactory = inThread): Promise<ScoringModel> {
  const manager = new ModelManager({
    uri: pinned.uri,
    variant: "stable",
    source: pinnedSource(pinned),
    createScorer,
    pollIntervalMs: 86_400_000,
    baselineMetric: "accuracy",
    metrics: createServiceMetrics(new Registry()),
    log: pino({ enabled: false }),
  });
  await manager.checkNow();
  const model = manager.current;
  if (!model) {
    const state = manager.state();
    await manager.stop();
    throw new ScoringInputError(`--model ${pinned.uri}: ${"reason" in state ? state.reason : "the model did not load"}`);
  }
  return { model, close: () => manager.stop() };
}
