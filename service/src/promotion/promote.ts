/**
 * Metric-gated promotion: compare the canary (the version behind `challenger`) with the stable it would replace
 * (the version behind `champion`) over one window, and on `pass` move `champion` to the canary's version,
 * recording the version it replaced on the promoted version (PROMOTION_TAGS.previousVersion) for rollback.
 * `fail` and `inconclusive` change nothing. The stable pods poll the alias and hot-swap: no deploy.
 */
import { PROMOTION_TAGS, TASK_TAG, VARIANT_ALIASES, isTask, type PromotionOutcome, type Task } from "../contract";
import { ModelSourceError } from "../registry";
import type { MlflowModelVersion } from "../registry/mlflow-api";
import type { MlflowRegistryWriter } from "../registry/mlflow-writes";
import { PromotionError } from "./errors";
import { evaluateGate, gatesFor, type GateName, type GateResult, type GateThresholds } from "./gates";
import { armQueries, measureArm, reportedTask, type Arm, type ArmData } from "./measure";
import type { PrometheusClient } from "./prometheus";

export interface PromoteOptions {
  readonly model: string;
  /** Prometheus duration of the comparison window. */
  readonly window: string;
  /** @default window */
  readonly labelWindow?: string;
  readonly thresholds: GateThresholds;
  /** Gates not evaluated (e.g. quality where no labels ever arrive). */
  readonly skip?: ReadonlySet<GateName>;
  /** Evaluate and report, change nothing. */
  readonly dryRun?: boolean;
  /** @default VARIANT_ALIASES.stable / .canary */
  readonly stableAlias?: string;
  readonly canaryAlias?: string;
  /** The task to assume when neither model_info nor the registry names one (the deployment's). @default "binary" */
  readonly task?: Task;
}

export interface PromotionDeps {
  readonly prometheus: PrometheusClient;
  readonly registry: MlflowRegistryWriter;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export interface ArmSummary {
  readonly alias: string;
  readonly variant: string;
  readonly version: string;
  readonly task: Task;
  /** Where the task came from: the service's model_info, the registry tag, --task, or the default. */
  readonly taskSource: "model_info" | "registry tag" | "configured" | "default";
}

export interface PromotionReport {
  readonly model: string;
  readonly outcome: PromotionOutcome;
  /** What happened in the registry, in words. */
  readonly action: string;
  readonly changed: boolean;
  readonly dryRun: boolean;
  readonly evaluatedAt: string;
  readonly window: string;
  readonly labelWindow: string;
  readonly canary: ArmSummary;
  readonly stable: ArmSummary;
  readonly gates: readonly GateResult[];
  /** Eligibility problems that fail the promotion before any metric is read. */
  readonly blockers: readonly string[];
  readonly queries?: { readonly canary: Record<string, string>; readonly stable: Record<string, string> };
}

export async function promote(deps: PromotionDeps, options: PromoteOptions): Promise<PromotionReport> {
  const at = (deps.now ?? (() => new Date()))();
  const stableAlias = options.stableAlias ?? VARIANT_ALIASES.stable;
  const canaryAlias = options.canaryAlias ?? VARIANT_ALIASES.canary;
  const labelWindow = options.labelWindow ?? options.window;
  const registry = deps.registry;
  const [canaryVersion, stableVersion] = await Promise.all([
    aliasVersion(registry, options.model, canaryAlias, "nothing to promote"),
    aliasVersion(registry, options.model, stableAlias, `set it by hand for the first version (the gates compare against it)`),
  ]);
  const measure = { window: options.window, labelWindow, at };
  const canaryArm: Arm = { model: options.model, variant: "canary", version: canaryVersion.version };
  const stableArm: Arm = { model: options.model, variant: "stable", version: stableVersion.version };
  const [canaryTask, stableTask] = await Promise.all([
    taskOf(deps.prometheus, canaryArm, canaryVersion, measure, options.task),
    taskOf(deps.prometheus, stableArm, stableVersion, measure, options.task),
  ]);
  const summary = (alias: string, arm: Arm, task: Awaited<ReturnType<typeof taskOf>>): ArmSummary => ({ alias, variant: arm.variant, version: arm.version, ...task });
  const report = {
    model: options.model,
    dryRun: !!options.dryRun,
    evaluatedAt: at.toISOString(),
    window: options.window,
    labelWindow,
    canary: summary(canaryAlias, canaryArm, canaryTask),
    stable: summary(stableAlias, stableArm, stableTask),
  };

  if (canaryVersion.version === stableVersion.version) {
    return { ...report, outcome: "pass", changed: false, gates: [], blockers: [], action: `${stableAlias} already points at version ${canaryVersion.version}: nothing to do` };
  }
  const blockers = eligibility(canaryVersion, canaryTask.task, stableTask.task);
  if (blockers.length > 0) return { ...report, outcome: "fail", changed: false, gates: [], blockers, action: "nothing changed" };

  const task = canaryTask.task;
  const [canaryData, stableData] = await Promise.all([
    measureArm(deps.prometheus, canaryArm, task, measure),
    measureArm(deps.prometheus, stableArm, task, measure),
  ]);
  const gates = gatesFor(task)
    .filter((gate) => !options.skip?.has(gate))
    .map((gate) => evaluateGate(gate, { task, canary: canaryData, stable: stableData, thresholds: options.thresholds }));
  const outcome: PromotionOutcome = gates.some((g) => g.verdict === "fail") ? "fail" : gates.some((g) => g.verdict === "inconclusive") ? "inconclusive" : "pass";
  const queries = { canary: armQueries(canaryArm, task, measure), stable: armQueries(stableArm, task, measure) };
  const full = { ...report, outcome, gates, blockers, queries };
  if (outcome !== "pass") return { ...full, changed: false, action: "nothing changed" };
  const move = `${stableAlias}: version ${stableVersion.version} -> ${canaryVersion.version}`;
  if (options.dryRun) return { ...full, changed: false, action: `dry run: would move ${move}` };
  await moveChampion(registry, options.model, { stableAlias, canaryAlias, from: stableVersion.version, to: canaryVersion.version, at, gates: evidence(canaryData, stableData, gates) });
  return { ...full, changed: true, action: `moved ${move} (previous version recorded in tag ${PROMOTION_TAGS.previousVersion})` };
}

/** Writes the audit tags, then the alias; re-reads both aliases first so a concurrent move is never overwritten. */
async function moveChampion(
  registry: MlflowRegistryWriter,
  model: string,
  move: { stableAlias: string; canaryAlias: string; from: string; to: string; at: Date; gates: string },
): Promise<void> {
  await registryCall(`re-reading the aliases of "${model}"`, async () => {
    const [canary, stable] = await Promise.all([registry.getModelVersionByAlias(model, move.canaryAlias), registry.getModelVersionByAlias(model, move.stableAlias)]);
    if (canary.version !== move.to || stable.version !== move.from) {
      throw new PromotionError(
        `the aliases moved during the evaluation (${move.canaryAlias} ${move.to} -> ${canary.version}, ${move.stableAlias} ${move.from} -> ${stable.version}); nothing was changed, run again`,
        "REGISTRY_STATE",
      );
    }
  });
  await registryCall(`tagging version ${move.to} of "${model}"`, async () => {
    await registry.setModelVersionTag(model, move.to, PROMOTION_TAGS.previousVersion, move.from);
    await registry.setModelVersionTag(model, move.to, PROMOTION_TAGS.promotedAt, move.at.toISOString());
    await registry.setModelVersionTag(model, move.to, PROMOTION_TAGS.evidence, move.gates);
  });
  await registryCall(`moving ${move.stableAlias} of "${model}" to version ${move.to}`, () => registry.setAlias(model, move.stableAlias, move.to));
}

/** The gate values as a compact JSON tag value (MLflow caps tag values at 5000 characters). */
function evidence(canary: ArmData, stable: ArmData, gates: readonly GateResult[]): string {
  const text = JSON.stringify({
    requests: { canary: Math.round(canary.requests), stable: Math.round(stable.requests) },
    gates: gates.map((g) => ({ gate: g.gate, verdict: g.verdict, canary: g.canary, stable: g.stable })),
  });
  return text.length <= 5000 ? text : text.slice(0, 4997) + "...";
}

function eligibility(canary: MlflowModelVersion, canaryTask: Task, stableTask: Task): string[] {
  const blockers: string[] = [];
  const tags = tagMap(canary);
  if (tags[PROMOTION_TAGS.rolledBackAt]) {
    blockers.push(`version ${canary.version} was rolled back at ${tags[PROMOTION_TAGS.rolledBackAt]}; register a new version (or remove the tag ${PROMOTION_TAGS.rolledBackAt}) to promote it again`);
  }
  if (canary.status && canary.status !== "READY") blockers.push(`version ${canary.version} is ${canary.status}, not READY`);
  if (canaryTask !== stableTask) blockers.push(`the canary is a ${canaryTask} model and the stable a ${stableTask} one: their metrics do not compare`);
  return blockers;
}

/**
 * The task of an arm: the service's model_info label, else the registry tag, else the configured task, else binary
 * (what services before task labels serve).
 */
async function taskOf(
  prometheus: PrometheusClient,
  arm: Arm,
  version: MlflowModelVersion,
  measure: { window: string; labelWindow: string; at: Date },
  configured?: Task,
): Promise<{ task: Task; taskSource: ArmSummary["taskSource"] }> {
  const reported = await reportedTask(prometheus, arm, measure);
  if (reported) return { task: reported, taskSource: "model_info" };
  const tagged = tagMap(version)[TASK_TAG];
  if (isTask(tagged)) return { task: tagged, taskSource: "registry tag" };
  if (configured) return { task: configured, taskSource: "configured" };
  return { task: "binary", taskSource: "default" };
}

export function tagMap(version: MlflowModelVersion): Record<string, string> {
  return Object.fromEntries((version.tags ?? []).map((t) => [t.key, t.value]));
}

export async function aliasVersion(registry: MlflowRegistryWriter, model: string, alias: string, hint: string): Promise<MlflowModelVersion> {
  try {
    return await registry.getModelVersionByAlias(model, alias);
  } catch (error) {
    // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE; the client names it ("has no alias").
    if (error instanceof ModelSourceError && (error.errorCode === "RESOURCE_DOES_NOT_EXIST" || /has no alias/.test(error.message))) {
      throw new PromotionError(`model "${model}" has no alias "${alias}": ${hint}`, "REGISTRY_STATE", { cause: error });
    }
    throw registryError(`reading alias "${alias}" of "${model}"`, error);
  }
}

export async function registryCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw registryError(what, error);
  }
}

function registryError(what: string, error: unknown): Error {
  if (error instanceof PromotionError) return error;
  return new PromotionError(`registry failure while ${what}: ${(error as Error).message}`, "REGISTRY", { cause: error });
}
