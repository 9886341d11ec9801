import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { CiClusterAccess } from "../constructs/ci-cluster-access";
import { CiRoles } from "../constructs/ci-roles";
import { Cluster } from "../constructs/cluster";
import { GpuNodePool } from "../constructs/gpu-node-pool";
import { ModelRegistry } from "../constructs/model-registry";
import { Observability } from "../constructs/observability";
import { PredictionLogCatalog } from "../constructs/prediction-log-catalog";
import { ServiceMesh } from "../constructs/service-mesh";
import type { EnvironmentConfig } from "./environments";
import { PLATFORM_NAMES, registryStorage } from "./platform-names";
import { setUpStack } from "./stack-setup";

/** Cluster, GPU pool, observability, model registry and service mesh of one environment. */
export class PlatformStack extends TerraformStack {
  readonly cluster: Cluster;

  constructor(scope: Construct, id: string, env: EnvironmentConfig) {
    super(scope, id);
    setUpStack(this, env, id);
    if (env.cluster.kind !== "eks" && env.gpuPool) {
      throw new Error(`Environment ${env.name}: gpuPool needs an EKS cluster (cluster.kind "eks")`);
    }
    new RandomProvider(this, "Random");

    this.cluster = new Cluster(this, "Cluster", { name: env.clusterName, source: env.cluster });
    const eks = this.cluster.eks;

    const mesh = new ServiceMesh(this, "Mesh", {
      namespace: PLATFORM_NAMES.meshNamespace,
      ingressNamespace: PLATFORM_NAMES.ingressNamespace,
      modelNamespaces: [PLATFORM_NAMES.modelsNamespace],
      hosts: [`*.${env.mesh.domain}`],
      tlsCredentialName: env.mesh.tlsCredentialName,
      gatewayReplicas: env.mesh.gatewayReplicas,
      gatewayServiceType: env.cluster.kind === "eks" ? "LoadBalancer" : "NodePort",
    });

    const o = env.observability;
    const observability = new Observability(this, "Observability", {
      namespace: PLATFORM_NAMES.monitoringNamespace,
      releaseName: PLATFORM_NAMES.prometheusRelease,
      retention: o.retention,
      retentionSize: o.retentionSize,
      storageSize: o.storageSize,
      prometheusReplicas: o.prometheusReplicas,
      receivers: o.receivers,
      storageReady: this.cluster.storageReady,
    });

    if (env.gpuPool) {
      new GpuNodePool(this, "GpuPool", {
        clusterName: env.clusterName,
        nodeRole: eks!.nodeRole,
        subnetIds: eks!.privateSubnetIds,
        size: env.gpuPool,
        capacityType: env.gpuPool.capacityType,
        prometheusRelease: observability.releaseName,
      });
    }

    const storage = registryStorage(env, eks ? { vpcId: eks.vpc.id, subnetIds: eks.privateSubnetIds } : undefined);
    const registry = new ModelRegistry(this, "Registry", {
      namePrefix: `modelport-${env.name}`,
      ...storage,
      irsa: this.cluster.irsa,
      replicas: env.registry.replicas,
      consumerNamespaces: [PLATFORM_NAMES.modelsNamespace],
      consumerNamespaceDependencies: mesh.modelNamespaces,
    });

    if (env.ci && eks) {
      // The ci-<env> stack's roles, named by convention: the platform does not read that stack's state.
      const account = new DataAwsCallerIdentity(this, "Account").accountId;
      const names = CiRoles.roleNames(`modelport-${env.name}`);
      new CiClusterAccess(this, "CiAccess", {
        clusterName: eks.cluster.name,
        planRoleArn: `arn:aws:iam::${account}:role/${names.plan}`,
        applyRoleArn: `arn:aws:iam::${account}:role/${names.apply}`,
      });
    }

    if (env.predictionLogCatalog) {
      if (!eks) throw new Error(`Environment ${env.name}: predictionLogCatalog (Glue, Athena) needs an EKS cluster (cluster.kind "eks")`);
      const catalog = new PredictionLogCatalog(this, "PredictionLogCatalog", env.predictionLogCatalog);
      new TerraformOutput(this, "PredictionLogUrl", { value: catalog.url, description: "PREDICTION_LOG_URL for the object-storage prediction log" });
    }

    new TerraformOutput(this, "TrackingUri", { value: registry.trackingUri });
    new TerraformOutput(this, "ArtifactBucket", { value: registry.bucketName });
    if (eks) new TerraformOutput(this, "ClusterEndpoint", { value: eks.cluster.endpoint });
  }
}
