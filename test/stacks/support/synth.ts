import { App, TerraformStack, Testing } from "cdktf";
import { buildStacks, EnvironmentConfig } from "../../../stacks";
import type { Json } from "../../constructs/support/harness";

/** Synthesizes every stack of the given environments, keyed by stack name. */
export function synthAll(environments: readonly EnvironmentConfig[]): Map<string, Json> {
  const app = Testing.app();
  buildStacks(app as App, environments);
  const stacks = app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack);
  return new Map(stacks.map((s) => [s.node.id, JSON.parse(Testing.synth(s, true))]));
}
