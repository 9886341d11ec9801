/**
 * Where reloading stands, as /readyz and /model show it: the version the alias or stage names now, and whether a
 * reload of it is pending or failing, with the last error and since when. A serving replica stays ready while a
 * reload fails: every replica would otherwise turn unready together over one bad version.
 */
import type { ModelManager } from "../model/model-manager";

export interface ReloadBody {
  /** What the URI resolved to at the last poll that reached the registry; null before the first. */
  readonly desired_version: string | null;
  readonly reload: {
    readonly state: "idle" | "pending" | "failing";
    readonly desired_resolved_at: string | null;
    readonly pending_version: string | null;
    readonly pending_since: string | null;
    readonly last_error: string | null;
    readonly last_error_version: string | null;
    readonly last_error_at: string | null;
    /** First failure of the current streak. */
    readonly failing_since: string | null;
    readonly attempts: number;
  };
}

export function reloadBody(models: ModelManager): ReloadBody {
  const { state, desired, pending, lastError } = models.reloadStatus();
  return {
    desired_version: desired?.version ?? null,
    reload: {
      state,
      desired_resolved_at: desired?.resolvedAt.toISOString() ?? null,
      pending_version: pending?.version ?? null,
      pending_since: pending?.since.toISOString() ?? null,
      last_error: lastError?.message ?? null,
      last_error_version: lastError?.version ?? null,
      last_error_at: lastError?.at.toISOString() ?? null,
      failing_since: lastError?.since.toISOString() ?? null,
      attempts: lastError?.attempts ?? 0,
    },
  };
}
