/**
 * Streaming a download to disk under limits that tell a slow server from a dead or trickling one. MLflow's
 * artifact proxy copies the whole file from the artifact store into a temp directory before it sends the first
 * byte (mlflow/server/handlers.py, _download_artifact), so the wait for the first byte grows with the file, while
 * the transfer after it should move steadily. Hence separate limits per phase:
 *
 * - connect: TCP (and TLS) connect;
 * - first byte: `firstByteTimeoutMs` plus the listed size at `minBytesPerSecond` (the proxy's copy);
 * - idle: the longest gap between two chunks;
 * - rate: at least `minBytesPerSecond` averaged over every `rateWindowMs` (or what is left of the file), so a
 *   trickle of a byte every few seconds fails although it is never idle;
 * - deadline: from the start, the connect and first-byte timeouts plus the listed size at the minimum rate twice
 *   (the proxy's copy, then the transfer), which also bounds a file that crawls through a long rate window;
 * - size: never more bytes than the listing promised.
 *
 * An outer signal (the model manager superseding the reload) aborts the transfer at any point.
 * Also the checks every store applies to what it lists and transfers.
 */
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ENV } from "../contract";
import { ModelSourceError } from "./errors";

export interface DownloadLimits {
  /** TCP/TLS connect of one download. */
  readonly connectTimeoutMs: number;
  /** Wait for the first byte after connecting, before the size allowance is added. */
  readonly firstByteTimeoutMs: number;
  /** Longest gap between two chunks. */
  readonly idleTimeoutMs: number;
  /** Slowest accepted rate, for the proxy's copy (first-byte allowance) and the transfer alike. */
  readonly minBytesPerSecond: number;
  /** Window the transfer rate is averaged over. */
  readonly rateWindowMs: number;
  /** Largest model directory (sum of the listed file sizes) downloaded. */
  readonly maxBytes: number;
}

export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = {
  connectTimeoutMs: 10_000,
  // MLflow's own client waits 120 s for an answer (MLFLOW_HTTP_REQUEST_TIMEOUT), for any file size.
  firstByteTimeoutMs: 120_000,
  idleTimeoutMs: 30_000,
  // 1 MiB/s: far below any link between a cluster and its registry, far above a stuck trickle.
  minBytesPerSecond: 1024 * 1024,
  rateWindowMs: 30_000,
  // ONNX protobuf files stop at 2 GB; larger models keep their weights as external data.
  maxBytes: 2 * 1024 * 1024 * 1024,
};

/** What an outer abort (a superseded reload) turns into: not a failure of the registry. */
export const ABORTED = "ABORTED";

type Phase = "connect" | "first byte" | "transfer";

/** The limits of one file transfer; give its `signal` to every request and stream of that transfer. */
export class TransferGuard {
  private readonly controller = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private phaseTimer?: NodeJS.Timeout;
  private phase: Phase = "connect";
  private bytes = 0;
  private windowStartBytes = 0;
  private failure?: ModelSourceError;
  private readonly onOuterAbort = () => this.fail(new ModelSourceError(`${this.what} was abandoned: ${abortReason(this.outer)}`, ABORTED));

  constructor(
    /** `download of model.onnx from mlflow-artifacts:/...`, for messages. */
    private readonly what: string,
    private readonly expectedBytes: number,
    private readonly limits: DownloadLimits,
    private readonly outer?: AbortSignal,
  ) {
    const copyMs = (expectedBytes / limits.minBytesPerSecond) * 1000;
    const deadlineMs = limits.connectTimeoutMs + this.firstByteMs() + copyMs;
    this.later(deadlineMs, () =>
      this.timeout(`did not finish within ${seconds(deadlineMs)} (the deadline for ${expectedBytes} listed bytes at ${ENV.modelDownloadMinBytesPerSecond}=${limits.minBytesPerSecond})`),
    );
    this.arm(limits.connectTimeoutMs, () => this.timeout(`could not connect within ${seconds(limits.connectTimeoutMs)} (${ENV.modelDownloadConnectTimeoutSeconds})`));
    if (outer?.aborted) this.onOuterAbort();
    else outer?.addEventListener("abort", this.onOuterAbort, { once: true });
  }

  /** Aborted when any limit is crossed or the outer signal aborts. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The connection is up (or reused): the wait for the first byte starts. */
  connected(): void {
    if (this.phase !== "connect") return;
    this.phase = "first byte";
    const ms = this.firstByteMs();
    this.arm(ms, () =>
      this.timeout(
        `sent no first byte within ${seconds(ms)} (${ENV.modelDownloadFirstByteTimeoutSeconds} plus ${this.expectedBytes} listed bytes at the minimum rate: ` +
          "the tracking server copies the whole file from its artifact store before it answers)",
      ),
    );
  }

  /** The answer started (status line and headers): the transfer limits apply from now on. */
  responded(): void {
    if (this.phase === "transfer") return;
    this.connected();
    this.phase = "transfer";
    this.armIdle();
    this.windowStartBytes = this.bytes;
    const window = this.limits.rateWindowMs;
    const check = () => {
      const moved = this.bytes - this.windowStartBytes;
      const needed = Math.min((this.limits.minBytesPerSecond * window) / 1000, this.expectedBytes - this.windowStartBytes);
      if (moved < needed) {
        return this.timeout(
          `is too slow: ${moved} bytes in the last ${seconds(window)}, below ${ENV.modelDownloadMinBytesPerSecond}=${this.limits.minBytesPerSecond}`,
        );
      }
      this.windowStartBytes = this.bytes;
      this.later(window, check);
    };
    this.later(window, check);
  }

  /** Progress: restarts the idle clock; more bytes than listed fail at once. */
  received(bytes: number): void {
    this.responded();
    this.bytes += bytes;
    if (this.bytes > this.expectedBytes) {
      this.fail(new ModelSourceError(`${this.what} sent more than the ${this.expectedBytes} bytes its listing says`, "INVALID_ARTIFACT"));
      return;
    }
    this.armIdle();
  }

  /** Stops every timer; call when the transfer ended either way. */
  finish(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearTimeout(this.phaseTimer);
    this.outer?.removeEventListener("abort", this.onOuterAbort);
  }

  /** The error a failed transfer ends with: the limit that fired, the outer abort, or the connection's own error. */
  error(cause: unknown): ModelSourceError {
    if (this.failure) return this.failure;
    if (cause instanceof ModelSourceError) return cause;
    return new ModelSourceError(`${this.what} was interrupted (${describe(cause)})`, "UNAVAILABLE", undefined, { cause });
  }

  private firstByteMs(): number {
    return this.limits.firstByteTimeoutMs + (this.expectedBytes / this.limits.minBytesPerSecond) * 1000;
  }

  private armIdle(): void {
    const ms = this.limits.idleTimeoutMs;
    this.arm(ms, () => this.timeout(`stalled: no data for ${seconds(ms)} (${ENV.modelDownloadIdleTimeoutSeconds})`));
  }

  /** The one timer of the current phase (connect, first byte, idle), replacing the previous one. */
  private arm(ms: number, fire: () => void): void {
    clearTimeout(this.phaseTimer);
    if (this.failure) return;
    this.phaseTimer = setTimeout(fire, ms);
    this.phaseTimer.unref();
  }

  private later(ms: number, fire: () => void): void {
    if (this.failure) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fire();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private timeout(problem: string): void {
    this.fail(new ModelSourceError(`${this.what} ${problem}`, "TIMEOUT"));
  }

  private fail(error: ModelSourceError): void {
    if (this.failure) return;
    this.failure = error;
    this.finish();
    this.controller.abort(error);
  }
}

/** Pipes `body` into a new file (which must not exist yet), reporting every chunk to the guard. */
export async function writeBodyToFile(body: Readable, destination: string, guard: TransferGuard): Promise<void> {
  const progress = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      guard.received(chunk.length);
      callback(null, chunk);
    },
  });
  await pipeline(body, progress, createWriteStream(destination, { flags: "wx" }), { signal: guard.signal });
}

/** Rejects listing entries that would escape the download directory ("..", absolute paths, empty segments). */
export function checkRelativePath(path: string, uri: string): string {
  const segments = path.split("/");
  if (path === "" || segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"))) {
    throw new ModelSourceError(`artifact listing of ${uri} contains an unsafe path ${JSON.stringify(path)}`, "INVALID_ARTIFACT");
  }
  return path;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`;
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "aborted";
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return (error as { code?: string }).code ?? cause?.code ?? cause?.message ?? (error as Error).message;
}
