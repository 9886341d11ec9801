/**
 * Plain `terraform` over one synthesized stack directory, as CI runs it: init on the stack's S3 backend, plan
 * with -detailed-exitcode into a plan file (0 no changes, 1 failed, 2 changes), the plan as JSON, and apply of
 * exactly that plan file. Output is passed through to the job log and kept for the summary.
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TerraformPlanJson } from "./plan-summary";

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TerraformOptions {
  /** @default "terraform" (or TERRAFORM_BIN) */
  readonly binary?: string;
  /** Extra environment (TF_IN_AUTOMATION and CHECKPOINT_DISABLE are always set). */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy terraform's output to this process' stdout/stderr (the job log). @default true */
  readonly echo?: boolean;
}

export const PLAN_FILE = "tfplan";
/** The Terraform the workflows install (hashicorp/setup-terraform) and the plan fixtures were written by. */
export const TERRAFORM_VERSION = "1.11.4";

export function runTerraform(dir: string, args: readonly string[], options: TerraformOptions = {}): Promise<TerraformResult> {
  const binary = options.binary ?? process.env.TERRAFORM_BIN ?? "terraform";
  const echo = options.echo ?? true;
  return new Promise((resolve) => {
    const child = spawn(binary, [`-chdir=${dir}`, ...args], {
      env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (echo) process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (echo) process.stderr.write(chunk);
    });
    child.once("error", (error) => resolve({ code: 127, stdout, stderr: `${stderr}${binary}: ${error.message}` }));
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface PlanResult {
  /** terraform plan -detailed-exitcode: 0 no changes, 1 failed (init or plan), 2 changes. */
  readonly exitCode: 0 | 1 | 2;
  readonly plan?: TerraformPlanJson;
  /** What init or plan printed on stderr (the diagnostics of a failure). */
  readonly stderr: string;
}

/** init + plan -detailed-exitcode -out=tfplan + show -json. A plan file is read even when the plan errored. */
export async function planStack(dir: string, options: TerraformOptions & { readonly lockTimeout?: string } = {}): Promise<PlanResult> {
  rmSync(join(dir, PLAN_FILE), { force: true });
  const init = await runTerraform(dir, ["init", "-input=false", "-no-color"], options);
  if (init.code !== 0) return { exitCode: 1, stderr: init.stderr || init.stdout };
  const plan = await runTerraform(dir, ["plan", "-input=false", "-no-color", `-lock-timeout=${options.lockTimeout ?? "5m"}`, "-detailed-exitcode", `-out=${PLAN_FILE}`], options);
  const exitCode = plan.code === 0 || plan.code === 2 ? plan.code : 1;
  if (!existsSync(join(dir, PLAN_FILE))) return { exitCode, stderr: plan.stderr };
  const show = await runTerraform(dir, ["show", "-json", "-no-color", PLAN_FILE], { ...options, echo: false });
  if (show.code !== 0) return { exitCode: 1, stderr: `${plan.stderr}\nterraform show -json failed:\n${show.stderr}` };
  return { exitCode, plan: JSON.parse(show.stdout) as TerraformPlanJson, stderr: plan.stderr };
}

/** Applies the plan file the same job just made (never a fresh plan). */
export function applyPlanFile(dir: string, options: TerraformOptions = {}): Promise<TerraformResult> {
  return runTerraform(dir, ["apply", "-input=false", "-no-color", PLAN_FILE], options);
}
