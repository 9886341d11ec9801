import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { Cluster } from "../constructs/cluster";
import { ModelDeployment } from "../constructs/model-deployment";
import type { EnvironmentConfig, ModelConfig } from "./environments";
import { platformEndpoints } from "./platform-names";
import { setUpStack } from "./stack-setup";

/**
 * One model in one environment. Providers are recreated from the same environment configuration (the
 * cluster is looked up by name, the kubeconfig context reused) instead of importing the platform stack's
 * outputs: model stacks stay independent, are planned and deployed per model, and adding one does not change
 * the platform stack. The platform must be deployed first (its CRDs and namespaces are prerequisites).
 */
export class ModelStack extends TerraformStack {
  readonly deployment: ModelDeployment;

  constructor(scope: Construct, id: string, env: EnvironmentConfig, model: ModelConfig) {
    super(scope, id);
    setUpStack(this, env, id);
    const cluster = Cluster.connect(this, "Cluster", { name: env.clusterName, source: env.cluster });
    this.deployment = new ModelDeployment(this, "Model", {
      model: model.name,
      task: model.task,
      image: model.image,
      platform: platformEndpoints(env, cluster),
      hosts: [`${model.name}.${env.mesh.domain}`],
      namePrefix: `modelport-${env.name}`,
      stable: model.stable,
      canary: model.canary,
      shadow: model.shadow,
      drift: model.drift,
      timeout: model.timeout,
      promotion: model.promotion,
    });
  }
}
