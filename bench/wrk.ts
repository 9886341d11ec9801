/**
 * Drives a URL with wrk (closed loop: each connection sends its next request when the previous one is
 * answered) and reads the exact figures from a Lua done() hook instead of parsing wrk's rounded text.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WrkResult {
  readonly connections: number;
  readonly durationS: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Answers that were not 2xx/3xx. */
  readonly non2xx: number;
  /** connect + read + write + timeout errors. */
  readonly socketErrors: number;
}

export interface WrkOptions {
  readonly url: string;
  readonly body: unknown;
  readonly connections: number;
  readonly durationS: number;
  /** Folder for the generated Lua script. */
  readonly workDir: string;
}

const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"status":%d,"socket":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
`;

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const script = join(options.workDir, `wrk-${process.pid}.lua`);
  const body = JSON.stringify(options.body).replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  await writeFile(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${body}'\n${DONE_HOOK}`);
  // One wrk thread: it drives 256 connections easily and leaves the second core to the service.
  const args = ["-t1", `-c${options.connections}`, `-d${options.durationS}s`, "--timeout", "10s", "-s", script, options.url];
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const raw = JSON.parse(line.slice("WRK_RESULT ".length)) as Record<string, number>;
  const seconds = raw.duration_us! / 1e6;
  return {
    connections: options.connections,
    durationS: seconds,
    requests: raw.requests!,
    rps: raw.requests! / seconds,
    p50Ms: raw.p50_us! / 1000,
    p90Ms: raw.p90_us! / 1000,
    p99Ms: raw.p99_us! / 1000,
    maxMs: raw.max_us! / 1000,
    non2xx: raw.status!,
    socketErrors: raw.socket!,
  };
}
