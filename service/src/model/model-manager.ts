/**
 * Owns the served model version: first load, registry polling, warm-up, atomic swap and retirement.
 *
 * - A version is swapped in only after its model contract was read (task, feeds, outputs: model-contract.ts)
 *   and it scored its input example with outputs its task can serve (probabilities in [0, 1], finite values).
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
import { TASK_DEFINITIONS, ModelContractError, rowValues, type RowValues } from "../tasks";
import { tensorMetadata } from "../v2/codec";
import { cpuPlacement } from "./execution-provider";
import { readModelPackage, type ModelPackage } from "./mlmodel";
import { readModelContract, withClassCount, type ModelContract, type ScorerModel } from "./model-contract";
import { readOnnxGraph } from "./onnx-graph";
import { compileRecordValidator, refusingValidator, type RecordValidator } from "./request-schema";
import { concatRows, type TensorMap } from "./tensors";
import type { ModelIdentity, ServedModel, ServingScorer, TensorRequest } from "./types";
import { warmUpExamples, type WarmUpExamples } from "./warm-up";

/** What a fresh scorer is warmed up with (each worker of a pool runs it). */
export type WarmUp = WarmUpExamples;

/** Turns a version's scorer model into a scorer (in-thread session, worker pool, micro-batcher...). */
export type ScorerFactory = (model: ScorerModel, version: ResolvedModelVersion, warmUp: WarmUp) => Promise<ServingScorer>;

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
  /** The configured overload answer (FALLBACK_LABEL / FALLBACK_PROBABILITY), for the tasks that have one. */
  readonly fallback?: { readonly label: 0 | 1; readonly probability: number };
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
    const contract = readModelContract(pkg, await readOnnxGraph(pkg.onnxPath), resolved.tags);
    const examples = warmUpExamples(pkg, contract);
    const scorer = await this.options.createScorer(contract.scorer, resolved, examples);
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
      return await this.warmUp(identity, pkg, contract, scorer, examples);
    } catch (error) {
      await scorer.close();
      throw error;
    }
  }

  /**
   * Runs the example through both paths the version serves (tensors for V2; records for /predict), confirms the
   * outputs follow dimension 0 before requests are coalesced along it, and binds the task to what it saw.
   */
  private async warmUp(identity: ModelIdentity, pkg: ModelPackage, found: ModelContract, scorer: ServingScorer, examples: WarmUp): Promise<LoadedModel> {
    const { tensors } = examples;
    const outputs = await scorer.run(tensors).catch((error: Error) => {
      throw new ModelContractError(`warm-up run on the input example failed: ${error.message}${pkg.tensorExample || pkg.inputExample.length > 0 ? "" : " (the model has no input example, so it was run on zeros: log it with input_example)"}`);
    });
    for (const output of found.outputs) {
      if (!outputs[output.name]) throw new ModelContractError(`warm-up run returned no output "${output.name}"`);
    }
    const batchAxis = found.batchAxis && followsRows(outputs, tensors.rows) && followsRows(await scorer.run(doubled(tensors)), 2 * tensors.rows);
    let rows: RowValues | undefined;
    let n = tensors.rows;
    if (found.tabular) {
      n = examples.records!.length;
      rows = await scorer.score(examples.records!);
    } else if (found.taskOutputs.rowOutput !== undefined) {
      rows = rowValues(outputs[found.taskOutputs.rowOutput]!);
    }
    const width = rows ? rows.length / n : 0;
    const contract = withClassCount(found, width);
    const task = TASK_DEFINITIONS[contract.task].bind({
      identity,
      tabular: contract.tabular,
      outputs: contract.taskOutputs,
      width,
      classLabels: contract.classLabels,
      valueBuckets: contract.valueBuckets,
      graphOutputs: contract.outputs,
      fallback: this.options.fallback,
    });
    if (rows) task.checkWarmUp(rows, n);
    const validator: RecordValidator = contract.tabular
      ? compileRecordValidator(contract.columns, pkg.featureSpec)
      : refusingValidator(contract.notTabularReason ?? "this model does not answer /predict");
    return {
      identity,
      package: pkg,
      contract,
      task,
      threshold: task.threshold ?? Number.NaN,
      batchAxis,
      scorer,
      executionProvider: scorer.executionProvider ?? cpuPlacement(),
      io: { inputs: contract.inputs.map(tensorMetadata), outputs: contract.outputs.map(tensorMetadata) },
      validator,
      loadedAt: new Date(),
    };
  }

  private swap(model: LoadedModel): void {
    const { metrics, variant, baselineMetric } = this.options;
    const previous = this.slot;
    this.slot = { model, leases: 0, retired: false };
    const id = model.identity;
    if (previous) {
      const old = previous.model.identity;
      metrics.modelInfo.remove(infoLabels(previous.model, variant));
      metrics.baselineHitRate.remove({ model: old.name, version: old.version });
      metrics.baselineMae.remove({ model: old.name, version: old.version });
      if (old.name !== id.name) metrics.modelLoaded.remove({ model: old.name, variant });
      previous.retired = true;
      if (previous.leases === 0) this.close(previous);
    }
    metrics.modelInfo.set(infoLabels(model, variant), 1);
    metrics.modelLoaded.set({ model: id.name, variant }, 1);
    this.count("success");
    const baseline = model.task.baseline(id.metrics, baselineMetric);
    if (baseline.hitRate !== undefined) metrics.baselineHitRate.set({ model: id.name, version: id.version }, baseline.hitRate);
    if (baseline.mae !== undefined) metrics.baselineMae.set({ model: id.name, version: id.version }, baseline.mae);
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

function infoLabels(model: LoadedModel, variant: string) {
  const id = model.identity;
  return {
    model: id.name,
    version: id.version,
    alias: id.alias ?? "",
    run_id: id.runId ?? "",
    variant,
    task: model.task.task,
    execution_provider: model.executionProvider.used,
  };
}

function sameVersion(a: { readonly name: string; readonly version: string }, b: { readonly name: string; readonly version: string }): boolean {
  return a.name === b.name && a.version === b.version;
}

/** Every output has `rows` rows along dimension 0. */
function followsRows(outputs: TensorMap, rows: number): boolean {
  return Object.values(outputs).every((t) => t.dims[0] === rows);
}

/** The example twice over along dimension 0: a batch-axis model answers it with twice the rows. */
function doubled(request: TensorRequest): TensorRequest {
  const tensors: Record<string, TensorMap[string]> = {};
  for (const [name, tensor] of Object.entries(request.tensors)) tensors[name] = concatRows([tensor, tensor]);
  return { tensors, rows: 2 * request.rows };
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
