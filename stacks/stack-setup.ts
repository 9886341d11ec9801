import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Aspects, type TerraformStack } from "cdktf";
import { PlatformPolicies } from "../constructs/policies";
import type { EnvironmentConfig } from "./environments";
import { useRemoteState } from "./remote-state";

/**
 * What every stack of an environment starts with: its remote state, the AWS provider (tagged with environment
 * and stack) when the environment runs on EKS, and the platform policies checked at synth.
 */
export function setUpStack(stack: TerraformStack, env: EnvironmentConfig, stackName: string): void {
  useRemoteState(stack, env, stackName);
  if (env.cluster.kind === "eks") {
    new AwsProvider(stack, "Aws", {
      region: env.cluster.region,
      defaultTags: [{ tags: { "modelport:environment": env.name, "modelport:stack": stackName, "managed-by": "cdktf" } }],
    });
  }
  Aspects.of(stack).add(new PlatformPolicies());
}
