/**
 * Why promotion or rollback could not run at all (as opposed to a gate failing): exit code 3, nothing changed.
 */
export type PromotionErrorCode =
  /** Prometheus refused the connection, timed out or answered 5xx. */
  | "PROMETHEUS_UNAVAILABLE"
  /** Prometheus answered, but with an error for the query (a bad expression, a bad duration). */
  | "PROMETHEUS_QUERY"
  /** The registry could not be read or written (ModelSourceError underneath). */
  | "REGISTRY"
  /** The registry state does not allow the operation (no challenger, nothing recorded to roll back to). */
  | "REGISTRY_STATE"
  /** Bad command-line arguments or config file. */
  | "USAGE";

export class PromotionError extends Error {
  override readonly name = "PromotionError";

  constructor(
    message: string,
    readonly code: PromotionErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
