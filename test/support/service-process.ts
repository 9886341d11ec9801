/**
 * The real service as a process (`node dist/service/src/server.js`, as the image runs it) on a free loopback
 * port: for end-to-end, shutdown and benchmark runs. stop() sends SIGTERM and waits for the exit code.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENV, ROUTES } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { freePort, waitFor } from "./net";

export interface RunningService {
  readonly url: string;
  readonly port: number;
  /** The Open Inference Protocol over gRPC (GRPC_PORT), `127.0.0.1:<port>`. */
  readonly grpcAddress: string;
  readonly process: ChildProcess;
  /** Everything the process wrote so far (JSON log lines and stderr). */
  output(): string;
  /** SIGTERM (or the given signal), then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartServiceOptions {
  readonly env?: Record<string, string>;
  /** Wait for /readyz 200 (else only for /healthz). @default true */
  readonly waitReady?: boolean;
  readonly timeoutMs?: number;
  /** Checkout whose dist/ is run (e.g. a baseline build to compare against). @default this project */
  readonly root?: string;
  /** Soft limit on open files for the process (`ulimit -n`), to reproduce descriptor exhaustion. @default inherited */
  readonly openFileLimit?: number;
}

export async function startService(options: StartServiceOptions = {}): Promise<RunningService> {
  const port = await freePort();
  const grpcPort = await freePort();
  const root = options.root ?? projectRoot();
  const server = join(root, "dist", "service", "src", "server.js");
  // `exec` keeps the pid: the shell becomes the service.
  const [command, args] =
    options.openFileLimit === undefined
      ? [process.execPath, [server]]
      : ["/bin/sh", ["-c", `ulimit -n ${Math.floor(options.openFileLimit)} && exec "$0" "$1"`, process.execPath, server]];
  const child = spawn(command, args, {
    cwd: root,
    env: {
      ...process.env,
      [ENV.port]: String(port),
      [ENV.grpcPort]: String(grpcPort),
      [ENV.host]: "127.0.0.1",
      [ENV.modelCacheDir]: mkdtempSync(join(tmpdir(), "model-cache-")),
      // Each process its own journal unless a test restarts one on the same directory.
      [ENV.predictionLogSpillDir]: mkdtempSync(join(tmpdir(), "spill-")),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const route = options.waitReady === false ? ROUTES.healthz : ROUTES.readyz;
  let dead = false;
  void exited.then(() => (dead = true));
  try {
    await waitFor(
      `the service at ${url}${route}`,
      async () => {
        if (dead) throw new Error(`the service exited during start-up:\n${output}`);
        const response = await fetch(url + route);
        return response.ok ? true : undefined;
      },
      options.timeoutMs ?? 30000,
      100,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n--- service output ---\n${output}`);
  }
  return {
    url,
    port,
    grpcAddress: `127.0.0.1:${options.env?.[ENV.grpcPort] ?? grpcPort}`,
    process: child,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      if (!dead) child.kill(signal);
      return exited;
    },
  };
}
