/**
 * The job matrices of the workflows, derived from the synthesized stacks (never a hand-kept list): every stack of
 * every environment CI deploys (`ci` in stacks/environments.ts), with what its jobs need to reach AWS.
 */
import { ENVIRONMENTS } from "../environments";
import type { StackKind, SynthStack } from "./synth-output";

export interface MatrixEntry {
  readonly stack: string;
  readonly environment: string;
  readonly kind: StackKind;
  /** Region of the stack's state bucket (what configure-aws-credentials is given). */
  readonly region: string;
  /** Repository variable holding the environment's plan role ARN (the ci-<env> stack's PlanRoleArn output). */
  readonly planRoleVariable: string;
}

export function planRoleVariable(environment: string): string {
  return `MODELPORT_PLAN_ROLE_ARN_${environment.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Stacks CI plans: every stack of an environment with `ci` (its ci-<env> stack included). */
export function ciStacks(stacks: readonly SynthStack[]): SynthStack[] {
  return stacks.filter((s) => ENVIRONMENTS[s.environment]?.ci !== undefined);
}

export function matrixEntry(stack: SynthStack): MatrixEntry {
  const region = stack.config.terraform?.backend?.s3?.region;
  if (!region) throw new Error(`stack ${stack.name} has no S3 backend: CI plans only stacks with remote state`);
  return { stack: stack.name, environment: stack.environment, kind: stack.kind, region, planRoleVariable: planRoleVariable(stack.environment) };
}

/** plan.yml and drift.yml: one job per CI stack. */
export function planMatrix(stacks: readonly SynthStack[]): { include: MatrixEntry[] } {
  return { include: ciStacks(stacks).map(matrixEntry) };
}

/**
 * apply.yml: per environment (in the order of `environments`, the workflow's jobs), the platform stack, then its
 * model stacks. The ci-<env> stacks are bootstrapped by an administrator and never applied by CI.
 */
export function applyPhases(stacks: readonly SynthStack[], environments: readonly string[]): Record<string, MatrixEntry[]> {
  const deployed = [...new Set(ciStacks(stacks).map((s) => s.environment))];
  const missing = deployed.filter((e) => !environments.includes(e));
  if (missing.length > 0) throw new Error(`environment(s) ${missing.join(", ")} have \`ci\` but the apply workflow has no jobs for them: add them to apply.yml`);
  const phases: Record<string, MatrixEntry[]> = {};
  for (const env of environments) {
    const own = ciStacks(stacks).filter((s) => s.environment === env);
    phases[`${env}_platform`] = own.filter((s) => s.kind === "platform").map(matrixEntry);
    phases[`${env}_models`] = own.filter((s) => s.kind === "model").map(matrixEntry);
  }
  return phases;
}
