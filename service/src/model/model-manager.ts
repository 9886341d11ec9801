/**
 * Owns the served model version: first load, registry polling, warm-up, atomic swap and retirement.
 *
 * - A version is swapped in only after its model contract was read (task, feeds, outputs: model-contract.ts)
 *   and it scored its input example with outputs its task can serve (probabilities in [0, 1], finite values).
 * - Requests hold a lease on the version they started with; a retired version is closed when its last lease
 *   ends, so in-flight requests finish on the old session and none is dropped.
 * - Any failure (registry down, corrupt artifact, bad graph) keeps the current version serving, is counted in
 *   model_reloads_total{result="failure"}, logged, and retried with exponential backoff.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Variant } from "../contract";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { ModelSource, ResolvedModelVersion } from "../registry/model-source";
import { TASK_DEFINITIONS, ModelContractError, rowValues, type RowValues } from "../tasks";
import { tensorMetadata } from "../v2/codec";
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
    metrics.reloads.inc({ model: id.name, variant, result: "success" });
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
  return { model: id.name, version: id.version, alias: id.alias ?? "", run_id: id.runId ?? "", variant, task: model.task.task };
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
