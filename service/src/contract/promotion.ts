/**
 * Promotion and rollback: the registry aliases each variant serves, the model-version tags promotion writes, and
 * the exit codes of `npm run promote` / `npm run rollback` (read by CronJobs and, later, Argo Rollouts job metrics).
 */
import type { Variant } from "./routes";

/** MLflow alias each variant serves unless a deployment names another. */
export const VARIANT_ALIASES: Readonly<Record<Variant, string>> = { stable: "champion", canary: "challenger", shadow: "shadow" };

/** Model-version tags written by promotion and rollback (on the version they concern). */
export const PROMOTION_TAGS = {
  /** On a promoted version: the version `champion` pointed at before; what rollback restores. */
  previousVersion: "modelport.promotion.previous_version",
  /** On a promoted version: when it became champion (ISO 8601). */
  promotedAt: "modelport.promotion.promoted_at",
  /** On a promoted version: the gate values it passed with (JSON, for the audit trail). */
  evidence: "modelport.promotion.evidence",
  /** On a rolled-back version: when it stopped being champion; promotion refuses it from then on. */
  rolledBackAt: "modelport.promotion.rolled_back_at",
} as const;

/** pass: promoted (or already champion); fail: a gate failed, nothing changed; inconclusive: too little evidence. */
export const PROMOTION_EXIT_CODES = { pass: 0, fail: 1, inconclusive: 2, error: 3 } as const;
export type PromotionOutcome = Exclude<keyof typeof PROMOTION_EXIT_CODES, "error">;
