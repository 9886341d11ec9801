/**
 * Real Terraform plans without any provider download: configurations of `terraform_data` (built into Terraform)
 * on local state, planned through the CI runner (stacks/ci/terraform.ts) exactly as CI plans a stack. Gives the
 * plan JSON Terraform itself writes for creates, updates, replaces, destroys, a no-op plan and a failed plan.
 *
 *   const plans = await realPlans();   // undefined when no terraform binary is installed
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planStack, runTerraform, type PlanResult } from "../../stacks/ci/terraform";

export interface RealPlans {
  readonly version: string;
  /** One of each: create, update, replace (triggers_replace), delete (removed from the config), no-op, an output. */
  readonly mixed: PlanResult;
  /** The applied configuration planned again: exit 0. */
  readonly noop: PlanResult;
  /** A failing precondition: exit 1, an errored plan file, the diagnostic on stderr. */
  readonly failed: PlanResult;
}

const APPLIED = `
resource "terraform_data" "keep" { input = "same" }
resource "terraform_data" "change" { input = "v1" }
resource "terraform_data" "replace" { triggers_replace = ["a"] }
resource "terraform_data" "remove" { input = "bye" }
`;

const CHANGED = `
resource "terraform_data" "keep" { input = "same" }
resource "terraform_data" "change" { input = "v2" }
resource "terraform_data" "replace" { triggers_replace = ["b"] }
resource "terraform_data" "added" { input = "new" }
output "added_id" { value = terraform_data.added.id }
`;

const FAILING = `
resource "terraform_data" "keep" { input = "same" }
resource "terraform_data" "change" {
  input = "v2"
  lifecycle {
    precondition {
      condition     = terraform_data.keep.input == "other"
      error_message = "The change resource refuses to plan."
    }
  }
}
`;

export function terraformVersion(): string | undefined {
  try {
    return (JSON.parse(execFileSync("terraform", ["version", "-json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, CHECKPOINT_DISABLE: "1" } })) as { terraform_version: string }).terraform_version;
  } catch {
    return undefined;
  }
}

export async function realPlans(): Promise<RealPlans | undefined> {
  const version = terraformVersion();
  if (!version) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "tf-plans-"));
  const cliConfig = join(dir, "..", `${dir.split("/").pop()}.tfrc`);
  writeFileSync(cliConfig, "");
  const options = { echo: false, env: { TF_CLI_CONFIG_FILE: cliConfig } };
  const write = (text: string) => writeFileSync(join(dir, "main.tf"), text);
  try {
    write(APPLIED);
    await runTerraform(dir, ["init", "-input=false", "-no-color"], options);
    const applied = await runTerraform(dir, ["apply", "-auto-approve", "-input=false", "-no-color"], options);
    if (applied.code !== 0) throw new Error(`terraform apply failed:\n${applied.stderr}`);
    const noop = await planStack(dir, options);
    write(CHANGED);
    const mixed = await planStack(dir, options);
    write(FAILING);
    const failed = await planStack(dir, options);
    return { version, mixed, noop, failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cliConfig, { force: true });
  }
}
