import type { ClusterConnection } from "../constructs/cluster";
import type { PlatformEndpoints } from "../constructs/model-deployment";
import { ModelRegistry, REGISTRY_SECRETS } from "../constructs/model-registry";
import { Observability } from "../constructs/observability";
import { MESH_GATEWAY_NAME } from "../constructs/service-mesh";
import type { EnvironmentConfig } from "./environments";

/** Namespaces and release names shared by the platform stack (which creates them) and the model stacks. */
export const PLATFORM_NAMES = {
  modelsNamespace: "models",
  monitoringNamespace: "monitoring",
  prometheusRelease: "kps",
  registryNamespace: "mlflow",
  meshNamespace: "istio-system",
  ingressNamespace: "istio-ingress",
} as const;

/** Registry database and artifact-store settings for an environment (network details from the cluster). */
export function registryStorage(env: EnvironmentConfig, network?: { vpcId: string; subnetIds: string[] }) {
  const db = env.registry.database;
  const cidr = env.cluster.kind === "eks" ? env.cluster.vpcCidr ?? "10.0.0.0/16" : "";
  const region = env.cluster.kind === "eks" ? env.cluster.region : "";
  const database =
    db.kind === "rds"
      ? { kind: "rds" as const, region, vpcId: network?.vpcId ?? "", subnetIds: network?.subnetIds ?? [], allowedCidr: cidr, instanceClass: db.instanceClass, allocatedStorageGb: db.allocatedStorageGb, multiAz: db.multiAz }
      : { kind: "cloudnative-pg" as const, instances: db.instances, storageSize: db.storageSize };
  const a = env.registry.artifacts;
  const artifacts =
    a.kind === "s3" ? { kind: "s3" as const, bucketName: a.bucketName, region } : { kind: "seaweedfs" as const, storageSize: a.storageSize };
  return { namespace: PLATFORM_NAMES.registryNamespace, database, artifacts };
}

/**
 * What a model stack needs from the platform, computed from the environment configuration and the cluster
 * connection alone. Model stacks do not read the platform's state: they can be planned on their own, and adding
 * a model never touches the platform stack.
 */
export function platformEndpoints(env: EnvironmentConfig, cluster: ClusterConnection): PlatformEndpoints {
  const registry = ModelRegistry.endpoints(registryStorage(env));
  return {
    namespace: PLATFORM_NAMES.modelsNamespace,
    trackingUri: registry.trackingUri,
    pushgatewayUrl: Observability.pushgatewayUrl(PLATFORM_NAMES.monitoringNamespace),
    prometheusRelease: PLATFORM_NAMES.prometheusRelease,
    monitoringNamespace: PLATFORM_NAMES.monitoringNamespace,
    meshNamespace: PLATFORM_NAMES.meshNamespace,
    ingressNamespace: PLATFORM_NAMES.ingressNamespace,
    gateway: `${PLATFORM_NAMES.ingressNamespace}/${MESH_GATEWAY_NAME}`,
    registryPeer: registry.registryPeer,
    databasePeer: registry.databasePeer,
    reportBucket: registry.bucketName,
    predictionLog: registry.predictionLog,
    s3Endpoint: registry.s3EndpointUrl
      ? { url: registry.s3EndpointUrl, credentialsSecret: REGISTRY_SECRETS.driftArtifactCredentials }
      : undefined,
    aws: cluster.irsa && cluster.region ? { region: cluster.region, irsa: cluster.irsa } : undefined,
  };
}
