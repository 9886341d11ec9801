/**
 * Owns the served model version: first load, registry polling, warm-up, atomic swap and retirement.
 *
 * - A version is swapped in only after it loaded and scored its input example with sane outputs.
 * - Requests hold a lease on the version they started with; a retired version is closed when its last lease
 *   ends, so in-flight requests finish on the old session and none is dropped.
 * - Any failure (registry down, corrupt artifact, bad graph) keeps the current version serving, is counted in
 *   model_reloads_total{result="failure"}, logged, and retried with exponential backoff.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Variant } from "../contract";
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

interface Slot {
  readonly model: LoadedModel;
  leases: number;
  retired: boolean;
}

export class ModelManager {
  private slot?: Slot;
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private checking?: Promise<void>;
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
    if (this.lastError) return { status: "failed", reason: this.lastError };
    return { status: "loading", reason: `loading ${this.options.uri}` };
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

  /** Checks the registry now (also what the poll timer does). Resolves when the check and any swap are done. */
  checkNow(): Promise<void> {
    this.checking ??= this.check().finally(() => (this.checking = undefined));
    return this.checking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking?.catch(() => undefined);
    if (this.slot) {
      this.slot.retired = true;
      if (this.slot.leases === 0) this.close(this.slot);
    }
    await Promise.all(this.closing);
  }

  private async tick(): Promise<void> {
    await this.checkNow();
    if (this.stopped) return;
    const { pollIntervalMs, initialBackoffMs = 1000 } = this.options;
    const maxBackoffMs = this.options.maxBackoffMs ?? Math.max(pollIntervalMs, 60_000);
    const delay = this.failures === 0 ? pollIntervalMs : Math.min(maxBackoffMs, initialBackoffMs * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const { source, log } = this.options;
    let resolved: ResolvedModelVersion | undefined;
    try {
      resolved = await source.resolve();
      if (this.slot && this.slot.model.identity.version === resolved.version && this.slot.model.identity.name === resolved.name) {
        this.failures = 0;
        this.lastError = undefined;
        return;
      }
      const started = performance.now();
      const model = await this.load(resolved);
      if (this.stopped) {
        await model.scorer.close();
        return;
      }
      this.swap(model);
      this.failures = 0;
      this.lastError = undefined;
      log.info(
        { model: resolved.name, version: resolved.version, alias: resolved.alias, loadMs: Math.round(performance.now() - started) },
        "model version loaded, warmed up and serving",
      );
    } catch (error) {
      this.failures++;
      this.lastError = `${resolved ? `version ${resolved.version} of ${resolved.name}` : this.options.uri}: ${(error as Error).message}`;
      this.options.metrics.reloads.inc({ ...this.loadedLabels(), result: "failure" });
      log.error(
        { err: error, uri: this.options.uri, attempt: this.failures, serving: this.slot?.model.identity.version ?? null },
        this.slot ? "model reload failed; still serving the current version" : "model load failed; not ready",
      );
    }
  }

  private async load(resolved: ResolvedModelVersion): Promise<LoadedModel> {
    const dir = await this.options.source.fetch(resolved);
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
    metrics.reloads.inc({ model: id.name, variant, result: "success" });
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
