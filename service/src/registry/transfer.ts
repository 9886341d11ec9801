/**
 * Streaming a download to disk with an idle timeout: a model file may take minutes to arrive, so a total-time
 * deadline would either kill big models or wait forever on a stalled connection. Instead the transfer is
 * aborted when no byte arrived for `ms`. Also the checks every store applies to what it lists and transfers.
 */
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ModelSourceError } from "./errors";

export class IdleTimeout {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  private fired = false;

  constructor(readonly ms: number) {
    this.timer = this.arm();
  }

  /** Aborts every request given this signal once the transfer has been idle for `ms`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.fired;
  }

  /** Called on progress: restarts the idle clock. */
  touch(): void {
    clearTimeout(this.timer);
    if (!this.fired) this.timer = this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  private arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new DOMException(`no data for ${this.ms} ms`, "TimeoutError"));
    }, this.ms);
    timer.unref();
    return timer;
  }
}

/** Pipes `body` into a new file (which must not exist yet), restarting the idle clock on every chunk. */
export async function writeBodyToFile(body: Readable, destination: string, idle: IdleTimeout): Promise<void> {
  const progress = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      idle.touch();
      callback(null, chunk);
    },
  });
  await pipeline(body, progress, createWriteStream(destination, { flags: "wx" }), { signal: idle.signal });
}

/** Rejects listing entries that would escape the download directory ("..", absolute paths, empty segments). */
export function checkRelativePath(path: string, uri: string): string {
  const segments = path.split("/");
  if (path === "" || segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"))) {
    throw new ModelSourceError(`artifact listing of ${uri} contains an unsafe path ${JSON.stringify(path)}`, "INVALID_ARTIFACT");
  }
  return path;
}

/** Maps a failed transfer to TIMEOUT (idle) or UNAVAILABLE (connection cut), keeping ModelSourceErrors as they are. */
export function transferError(error: unknown, idle: IdleTimeout, what: string): ModelSourceError {
  if (error instanceof ModelSourceError) return error;
  if (idle.expired) return new ModelSourceError(`${what} stalled: no data for ${idle.ms} ms`, "TIMEOUT", undefined, { cause: error });
  return new ModelSourceError(`${what} was interrupted (${(error as Error).message})`, "UNAVAILABLE", undefined, { cause: error });
}
