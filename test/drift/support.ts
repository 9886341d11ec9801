/** Runs the drift CLI as a process (dist/, as the CronJob image runs it). */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../service/src/paths";

export const DRIFT_CLI = join(projectRoot(), "dist", "service", "src", "drift", "cli.js");

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runDriftCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DRIFT_CLI, ...args], { cwd: projectRoot(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
