/**
 * Owns the served model version: first load, registry polling, warm-up, atomic swap and retirement.
 *
 * - A version is swapped in only after it loaded and scored its input example with sane outputs.
 * - Requests hold a lease on the version they started with; a retired version is closed when its last lease
 *   ends, so in-flight requests finish on the old session and none is dropped.
 * - Any failure (registry down, stalled or corrupt download, bad graph) keeps the current version serving, is
 *   counted in model_reloads_total{result="failure"}, logged, and retried with exponential backoff.
 * - Polling never waits for a load: each poll resolves what the URI names now (the desired version), and a load
 *   of anything else is abandoned (result="superseded"), so moving the alias back is picked up within one poll
 *   interval even while an earlier download is stuck.
 */
import type { FastifyBaseLogger } from "fastify";
import type { ReloadResult, Variant } from "../contract";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { ModelSource, ResolvedModelVersion } from "../registry/model-source";
import { readModelPackage, type ModelPackage } from "./mlmodel";
import { compileRecordValidator, type RecordValidator } from "./request-schema";
import type { ModelIdentity, Scorer, ServedModel, TensorMetadata } from "./types";

/** Turns a model package into a scorer (in-thread session, worker pool, micro-batcher...). */
export type ScorerFactory = (
  pkg: ModelPackage,
  version: ResolvedModelVersion,
) => Promise<Scorer & { io?(): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } }>;

/** A served version plus what the routes need per version, built once at swap time. */
export interface LoadedModel extends ServedModel {
  readonly validator: RecordValidator;
  readonly loadedAt: Date;
}

export interface ModelLease {
  readonly model: LoadedModel;
  release(): void;
}

export interface ModelManagerOptions {
  readonly uri: string;
  readonly variant: Variant;
  readonly source: ModelSource;
  readonly createScorer: ScorerFactory;
  readonly pollIntervalMs: number;
  readonly baselineMetric: string;
  readonly metrics: ServiceMetrics;
  readonly log: FastifyBaseLogger;
  /** First retry delay after a failure; doubles up to maxBackoffMs. @default 1000 */
  readonly initialBackoffMs?: number;
  /** @default max(pollIntervalMs, 60 s) */
  readonly maxBackoffMs?: number;
}

export type ModelState =
  | { readonly status: "loading"; readonly reason: string }
  | { readonly status: "ready" }
  | { readonly status: "failed"; readonly reason: string };

/** Where reloading stands, for /readyz and /model: what should serve, what is being done about it, what failed. */
export interface ReloadStatus {
  /** `idle`: the desired version serves (or nothing is known yet); `pending`: loading it; `failing`: the last poll or load failed. */
  readonly state: "idle" | "pending" | "failing";
  /** What the URI (alias, stage) resolved to at the last poll that reached the registry. */
  readonly desired?: { readonly name: string; readonly version: string; readonly resolvedAt: Date };
  /** The version being downloaded or warmed up, and since when. */
  readonly pending?: { readonly version: string; readonly since: Date };
  /** The last failure of the current streak: message, when, since when it fails, attempts so far. */
  readonly lastError?: { readonly message: string; readonly version?: string; readonly at: Date; readonly since: Date; readonly attempts: number };
}

interface Slot {
  readonly model: LoadedModel;
  leases: number;
  retired: boolean;
}

interface Loading {
  readonly version: ResolvedModelVersion;
  readonly controller: AbortController;
  readonly since: Date;
  done?: Promise<void>;
}

interface Failure {
  readonly message: string;
  /** The version whose load failed; undefined when the poll itself failed (registry unreachable). */
  readonly version?: string;
  readonly at: Date;
  readonly since: Date;
  readonly attempts: number;
  /** Earliest time the same version is tried again. */
  readonly retryAt: number;
}

export class ModelManager {
  private slot?: Slot;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private polling?: Promise<void>;
  private desired?: { readonly version: ResolvedModelVersion; readonly at: Date };
  private loading?: Loading;
  private failure?: Failure;
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly options: ModelManagerOptions) {}

  /** Starts loading in the background and keeps polling; never throws (readiness reports failures). */
  start(): void {
    this.options.metrics.modelLoaded.set(this.loadedLabels(), 0);
    void this.tick();
  }

  /** The version serving now, or undefined while none is loaded. */
  get current(): LoadedModel | undefined {
    return this.slot?.model;
  }

  state(): ModelState {
    if (this.slot) return { status: "ready" };
    if (this.failure) return { status: "failed", reason: this.failure.message };
    return { status: "loading", reason: `loading ${this.options.uri}` };
  }

  reloadStatus(): ReloadStatus {
    const desired = this.desired && { name: this.desired.version.name, version: this.desired.version.version, resolvedAt: this.desired.at };
    const pending = this.loading && { version: this.loading.version.version, since: this.loading.since };
    const failure = this.failure;
    const lastError = failure && { message: failure.message, version: failure.version, at: failure.at, since: failure.since, attempts: failure.attempts };
    return { state: failure ? "failing" : pending ? "pending" : "idle", desired, pending, lastError };
  }

  /** Pins the current version for one request; call release() when the response is done. */
  acquire(): ModelLease | undefined {
    const slot = this.slot;
    if (!slot) return undefined;
    slot.leases++;
    let released = false;
    return {
      model: slot.model,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
        if (slot.retired && slot.leases === 0) this.close(slot);
      },
    };
  }

  /** Polls the registry now and waits for the load it starts, if any (the poll timer never waits for loads). */
  async checkNow(): Promise<void> {
    await this.poll();
    await this.loading?.done;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    const loading = this.loading;
    if (loading) {
      loading.controller.abort(new Error("the service is shutting down"));
      await loading.done;
    }
    if (this.slot) {
      this.slot.retired = true;
      if (this.slot.leases === 0) this.close(this.slot);
    }
    await Promise.all(this.closing);
  }

  private async tick(): Promise<void> {
    await this.poll();
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.nextPollDelay());
    this.timer.unref();
  }

  /**
   * The poll interval; backed off while the registry itself fails; sooner when a failed version is due for its
   * retry (but never while a load runs: polls then only watch for the alias moving on).
   */
  private nextPollDelay(): number {
    const { pollIntervalMs } = this.options;
    const failure = this.failure;
    if (!failure) return pollIntervalMs;
    const retryIn = Math.max(0, failure.retryAt - Date.now());
    if (failure.version === undefined) return retryIn;
    return this.loading ? pollIntervalMs : Math.min(pollIntervalMs, retryIn);
  }

  private poll(): Promise<void> {
    this.polling ??= this.resolveAndAct().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** One registry request; starts, keeps or abandons a load. Never waits for a download. */
  private async resolveAndAct(): Promise<void> {
    let resolved: ResolvedModelVersion;
    try {
      resolved = await this.options.source.resolve();
    } catch (error) {
      this.recordFailure(undefined, error);
      return;
    }
    if (this.stopped) return;
    this.desired = { version: resolved, at: new Date() };
    // A failure is news only while it concerns what the registry names now (a version since replaced, or the
    // registry being unreachable, is not).
    if (this.failure?.version !== resolved.version) this.failure = undefined;
    if (this.slot && sameVersion(this.slot.model.identity, resolved)) {
      this.supersede(`${this.options.uri} names the serving version ${resolved.version} again`);
      this.failure = undefined;
      return;
    }
    if (this.loading && sameVersion(this.loading.version, resolved)) return;
    const failure = this.failure;
    if (failure && Date.now() < failure.retryAt) return;
    this.supersede(`${this.options.uri} now names version ${resolved.version}`);
    this.startLoad(resolved);
  }

  private startLoad(resolved: ResolvedModelVersion): void {
    const loading: Loading = { version: resolved, controller: new AbortController(), since: new Date() };
    this.loading = loading;
    loading.done = this.runLoad(loading).finally(() => {
      if (this.loading === loading) this.loading = undefined;
    });
  }

  /** Loads, warms up and swaps one version; settles without throwing. An abandoned load closes what it built. */
  private async runLoad(loading: Loading): Promise<void> {
    const { log } = this.options;
    const resolved = loading.version;
    const { signal } = loading.controller;
    const started = performance.now();
    try {
      const model = await this.load(resolved, signal);
      if (signal.aborted || this.stopped) {
        await model.scorer.close();
        return;
      }
      this.swap(model);
      this.failure = undefined;
      log.info(
        { model: resolved.name, version: resolved.version, alias: resolved.alias, loadMs: Math.round(performance.now() - started) },
        "model version loaded, warmed up and serving",
      );
    } catch (error) {
      if (signal.aborted) return; // counted as superseded when it was abandoned
      this.recordFailure(resolved, error);
    }
  }

  /** Abandons the load in progress, if any: the URI names something else now. */
  private supersede(reason: string): void {
    const loading = this.loading;
    if (!loading || loading.controller.signal.aborted) return;
    loading.controller.abort(new Error(reason));
    this.loading = undefined;
    this.count("superseded");
    this.options.log.warn(
      { uri: this.options.uri, abandoned: loading.version.version, loadingForMs: Date.now() - loading.since.getTime(), reason },
      "model reload abandoned: the registry names another version now",
    );
  }

  private recordFailure(version: ResolvedModelVersion | undefined, error: unknown): void {
    const { initialBackoffMs = 1000, pollIntervalMs, log } = this.options;
    const maxBackoffMs = this.options.maxBackoffMs ?? Math.max(pollIntervalMs, 60_000);
    const previous = this.failure;
    const attempts = (previous?.attempts ?? 0) + 1;
    const now = new Date();
    this.failure = {
      message: `${version ? `version ${version.version} of ${version.name}` : this.options.uri}: ${(error as Error).message}`,
      version: version?.version,
      at: now,
      since: previous?.since ?? now,
      attempts,
      retryAt: now.getTime() + Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempts - 1)),
    };
    this.count("failure");
    log.error(
      { err: error, uri: this.options.uri, version: version?.version, attempt: attempts, serving: this.slot?.model.identity.version ?? null },
      this.slot ? "model reload failed; still serving the current version" : "model load failed; not ready",
    );
  }

  private count(result: ReloadResult): void {
    this.options.metrics.reloads.inc({ ...this.loadedLabels(), result });
  }

  private async load(resolved: ResolvedModelVersion, signal?: AbortSignal): Promise<LoadedModel> {
    const dir = await this.options.source.fetch(resolved, { signal });
    const pkg = await readModelPackage(dir);
    const scorer = await this.options.createScorer(pkg, resolved);
    try {
      const identity: ModelIdentity = {
        name: resolved.name,
        version: resolved.version,
        alias: resolved.alias,
        stage: resolved.stage,
        runId: resolved.runId,
        uri: this.options.uri,
        tags: resolved.tags,
        metrics: { ...numericMetrics(pkg.metrics), ...resolved.metrics },
      };
      const threshold = decisionThreshold(identity);
      await warmUp(scorer, pkg);
      const io = scorer.io?.() ?? { inputs: [], outputs: [] };
      return { identity, package: pkg, threshold, scorer, io, validator: compileRecordValidator(pkg.inputs, pkg.featureSpec), loadedAt: new Date() };
    } catch (error) {
      await scorer.close();
      throw error;
    }
  }

  private swap(model: LoadedModel): void {
    const { metrics, variant, baselineMetric } = this.options;
    const previous = this.slot;
    this.slot = { model, leases: 0, retired: false };
    const id = model.identity;
    if (previous) {
      const old = previous.model.identity;
      metrics.modelInfo.remove({ model: old.name, version: old.version, alias: old.alias ?? "", run_id: old.runId ?? "", variant });
      metrics.baselineHitRate.remove({ model: old.name, version: old.version });
      if (old.name !== id.name) metrics.modelLoaded.remove({ model: old.name, variant });
      previous.retired = true;
      if (previous.leases === 0) this.close(previous);
    }
    metrics.modelInfo.set({ model: id.name, version: id.version, alias: id.alias ?? "", run_id: id.runId ?? "", variant }, 1);
    metrics.modelLoaded.set({ model: id.name, variant }, 1);
    this.count("success");
    const baseline = id.metrics[baselineMetric];
    if (baseline !== undefined) metrics.baselineHitRate.set({ model: id.name, version: id.version }, baseline);
  }

  private close(slot: Slot): void {
    const done = slot.model.scorer.close().catch((error: Error) => this.options.log.warn({ err: error }, "closing a retired model version failed"));
    this.closing.add(done);
    void done.finally(() => this.closing.delete(done));
  }

  private loadedLabels(): { model: string; variant: string } {
    return { model: this.slot?.model.identity.name ?? modelNameFromUri(this.options.uri), variant: this.options.variant };
  }
}

function sameVersion(a: { readonly name: string; readonly version: string }, b: { readonly name: string; readonly version: string }): boolean {
  return a.name === b.name && a.version === b.version;
}

/** chosen_threshold from version tags, then run metrics / metrics.json; 0.5 otherwise. */
export function decisionThreshold(identity: Pick<ModelIdentity, "tags" | "metrics">): number {
  const raw = identity.tags.chosen_threshold ?? identity.metrics.chosen_threshold;
  if (raw === undefined) return 0.5;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value >= 1) {
    throw new Error(`chosen_threshold=${String(raw)} is not a probability strictly between 0 and 1: fix the model version's tag or run metric`);
  }
  return value;
}

/** Scores the input example; a version whose outputs are not probabilities never serves. */
async function warmUp(scorer: Scorer, pkg: ModelPackage): Promise<void> {
  if (pkg.inputExample.length === 0) throw new Error("the model has no input example to warm up with: log it with input_example");
  const probabilities = await scorer.score(pkg.inputExample);
  if (probabilities.length !== pkg.inputExample.length) {
    throw new Error(`warm-up returned ${probabilities.length} probabilities for ${pkg.inputExample.length} example records`);
  }
  for (const p of probabilities) {
    if (!(p >= 0 && p <= 1)) throw new Error(`warm-up produced probability ${p}, outside [0, 1]: the artifact is corrupt or not a classifier`);
  }
}

function numericMetrics(metrics: ModelPackage["metrics"]): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter((e): e is [string, number] => typeof e[1] === "number"));
}

/** Best-effort model name before anything loaded, for the model_loaded=0 sample. */
export function modelNameFromUri(uri: string): string {
  const registry = /^models:\/([^/@]+)/.exec(uri);
  if (registry) return registry[1]!;
  return uri.replace(/\/+$/, "").split("/").pop() || uri;
}
