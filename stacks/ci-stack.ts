import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { CiRoles } from "../constructs/ci-roles";
import type { EnvironmentConfig } from "./environments";
import { setUpStack } from "./stack-setup";

/**
 * The CI roles of one environment (GitHub OIDC provider, plan role, apply role). Bootstrapped once by an
 * administrator (`cdktf deploy ci-<env>`) before the platform, and never applied by CI itself: the apply role
 * cannot change the roles it runs as. Planned on pull requests and by the drift workflow like every stack.
 */
export class CiStack extends TerraformStack {
  readonly roles: CiRoles;

  constructor(scope: Construct, id: string, env: EnvironmentConfig, otherStateBuckets: readonly string[]) {
    super(scope, id);
    if (!env.ci) throw new Error(`Environment ${env.name}: a CI stack needs \`ci\` in its configuration`);
    if (env.cluster.kind !== "eks") throw new Error(`Environment ${env.name}: CI roles need an AWS environment (cluster.kind "eks")`);
    setUpStack(this, env, id);
    this.roles = new CiRoles(this, "Roles", {
      repository: env.ci.repository,
      environment: env.name,
      stateBucket: env.state.bucket,
      otherStateBuckets,
      oidcProviderArn: env.ci.oidcProviderArn,
    });
    // Copy these into the repository's variables (see README, "CI"): the workflows assume the roles by ARN.
    new TerraformOutput(this, "PlanRoleArn", { value: this.roles.planRole.arn });
    new TerraformOutput(this, "ApplyRoleArn", { value: this.roles.applyRole.arn });
    new TerraformOutput(this, "OidcProviderArn", { value: this.roles.oidcProviderArn });
  }
}
