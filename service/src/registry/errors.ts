/**
 * One error type for everything between a model URI and a local model directory, so the model manager can log
 * one line and decide whether the next poll may succeed without a human.
 */

/**
 * MLflow `error_code` values pass through unchanged (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE, ...);
 * the others are Modelport's own.
 */
export type ModelSourceErrorCode =
  | "RESOURCE_DOES_NOT_EXIST"
  | "INVALID_PARAMETER_VALUE"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  /** Connection refused or reset, DNS failure, HTTP 429 or 5xx. */
  | "UNAVAILABLE"
  /** No answer within timeoutMs; for downloads, a connect, first-byte, idle, rate or deadline limit crossed. */
  | "TIMEOUT"
  /** The version exists but its status is not READY (still registering, or registration failed). */
  | "NOT_READY"
  /** HTTP 404 without an MLflow error body: the tracking URI is wrong or the server lacks the endpoint. */
  | "ENDPOINT_NOT_FOUND"
  /** A 2xx answer whose body is not the documented shape. */
  | "BAD_RESPONSE"
  /** Downloaded or local files do not form a complete model directory. */
  | "INVALID_ARTIFACT"
  /** The artifact URI uses a storage scheme Modelport cannot read. */
  | "UNSUPPORTED_ARTIFACT_URI"
  /** The tracking server runs with --no-serve-artifacts, so mlflow-artifacts:/ URIs cannot be read through it. */
  | "ARTIFACTS_NOT_SERVED"
  /** The version's listed files add up to more than MODEL_DOWNLOAD_MAX_BYTES; nothing was downloaded. */
  | "ARTIFACT_TOO_LARGE"
  /** The caller abandoned the fetch (the alias moved on, or shutdown): not a failure of the registry. */
  | "ABORTED"
  | (string & {});

const RETRYABLE = new Set<string>(["UNAVAILABLE", "TIMEOUT", "NOT_READY", "INVALID_ARTIFACT", "TEMPORARILY_UNAVAILABLE"]);

export class ModelSourceError extends Error {
  override readonly name = "ModelSourceError";
  /** Whether the same call may succeed later without a configuration change (outage, timeout, 5xx, registering). */
  readonly retryable: boolean;

  constructor(
    message: string,
    readonly errorCode: ModelSourceErrorCode,
    /** HTTP status of the failed request, when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retryable = RETRYABLE.has(errorCode) || status === 429 || (status !== undefined && status >= 500);
  }
}
