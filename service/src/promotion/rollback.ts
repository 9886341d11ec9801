/**
 * One-command rollback: move `champion` back to the version recorded when the current one was promoted
 * (PROMOTION_TAGS.previousVersion), or to `to`. The stable pods hot-reload it within their poll interval: no
 * deploy. The version rolled back from is tagged, so promotion never picks it up again by itself. Each
 * rollback steps back one promotion, like undo.
 */
import { PROMOTION_TAGS, VARIANT_ALIASES } from "../contract";
import type { MlflowRegistryWriter } from "../registry/mlflow-writes";
import { PromotionError } from "./errors";
import { aliasVersion, registryCall, tagMap } from "./promote";

export interface RollbackOptions {
  readonly model: string;
  /** Version to restore instead of the recorded one. */
  readonly to?: string;
  /** @default VARIANT_ALIASES.stable */
  readonly alias?: string;
  readonly dryRun?: boolean;
}

export interface RollbackReport {
  readonly model: string;
  readonly alias: string;
  readonly from: string;
  readonly to: string;
  readonly changed: boolean;
  readonly dryRun: boolean;
  readonly action: string;
}

export async function rollback(registry: MlflowRegistryWriter, options: RollbackOptions, now: () => Date = () => new Date()): Promise<RollbackReport> {
  const alias = options.alias ?? VARIANT_ALIASES.stable;
  const current = await aliasVersion(registry, options.model, alias, "nothing to roll back");
  const recorded = tagMap(current)[PROMOTION_TAGS.previousVersion];
  const to = options.to ?? recorded;
  const base = { model: options.model, alias, from: current.version, dryRun: !!options.dryRun };
  if (!to) {
    throw new PromotionError(
      `version ${current.version} (${alias}) has no tag ${PROMOTION_TAGS.previousVersion}: it was not promoted by npm run promote; give --to <version>`,
      "REGISTRY_STATE",
    );
  }
  if (to === current.version) return { ...base, to, changed: false, action: `${alias} already points at version ${to}: nothing to do` };
  const target = await registryCall(`reading version ${to} of "${options.model}"`, () => registry.getModelVersion(options.model, to));
  if (target.status && target.status !== "READY") {
    throw new PromotionError(`version ${to} of "${options.model}" is ${target.status}, not READY: nothing was changed`, "REGISTRY_STATE");
  }
  const move = `${alias}: version ${current.version} -> ${to}`;
  if (options.dryRun) return { ...base, to, changed: false, action: `dry run: would move ${move}` };
  await registryCall(`tagging version ${current.version} of "${options.model}"`, () =>
    registry.setModelVersionTag(options.model, current.version, PROMOTION_TAGS.rolledBackAt, now().toISOString()),
  );
  await registryCall(`moving ${alias} of "${options.model}" to version ${to}`, () => registry.setAlias(options.model, alias, to));
  return { ...base, to, changed: true, action: `moved ${move}; version ${current.version} tagged ${PROMOTION_TAGS.rolledBackAt}` };
}
