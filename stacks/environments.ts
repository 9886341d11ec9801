/**
 * The environments, typed: the ONLY place where sizes, weights, domains and receivers live. Stacks and
 * constructs read these values; nothing else hard-codes a size. Add a model to an environment by appending to
 * its `models` (see README): `npm run synth` then shows one new stack and no change elsewhere.
 */
import type { ClusterSource, NodeGroupSize } from "../constructs/cluster";
import type { ReceiverRef } from "../constructs/observability";
import type { ModelPromotion, VariantSpec } from "../constructs/model-deployment";
import type { PredictionLogCatalogProps } from "../constructs/prediction-log-catalog";
import { EMBEDDED_MODEL_NAME, type Task } from "../service/src/contract";

export type EnvironmentName = "dev" | "staging" | "prod";

export interface ModelConfig {
  /** Registered model name in MLflow. */
  readonly name: string;
  /** What its outputs are (dashboards, alerts and drift follow it). @default "binary" */
  readonly task?: Task;
  /** Service image (service/Dockerfile), pinned by tag or digest. */
  readonly image: string;
  readonly stable: VariantSpec;
  readonly canary?: VariantSpec & { readonly weight: number };
  readonly shadow?: VariantSpec & { readonly mirrorPercent: number };
  readonly drift: { readonly referenceUri: string; readonly schedule?: string; readonly window?: string };
  /** Request timeout through the mesh. @default "10s" */
  readonly timeout?: string;
  /** Scheduled metric-gated promotion of the canary (PromotionJob). @default none: `npm run promote` by hand */
  readonly promotion?: ModelPromotion;
}

export type DatabaseSizing =
  | { readonly kind: "rds"; readonly instanceClass: string; readonly allocatedStorageGb: number; readonly multiAz: boolean }
  | { readonly kind: "cloudnative-pg"; readonly instances: number; readonly storageSize: string };

export type ArtifactStoreConfig =
  | { readonly kind: "s3"; readonly bucketName: string }
  | { readonly kind: "seaweedfs"; readonly storageSize: string };

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  readonly clusterName: string;
  readonly cluster: ClusterSource;
  /** GPU node group (EKS only). @default none */
  readonly gpuPool?: NodeGroupSize & { readonly capacityType?: "ON_DEMAND" | "SPOT" };
  readonly registry: { readonly database: DatabaseSizing; readonly artifacts: ArtifactStoreConfig; readonly replicas: number };
  readonly observability: {
    readonly retention: string;
    readonly retentionSize: string;
    readonly storageSize: string;
    readonly prometheusReplicas: number;
    /** Webhook URLs live in these Secrets of the monitoring namespace (created out of band). */
    readonly receivers: { readonly page: ReceiverRef; readonly ticket: ReceiverRef };
  };
  readonly mesh: { readonly domain: string; readonly tlsCredentialName?: string; readonly gatewayReplicas: number };
  /** Remote state: one bucket per environment, S3-native locking. */
  readonly state: { readonly bucket: string; readonly region: string };
  /**
   * Plan and apply from GitHub Actions through OIDC (the `ci-<env>` stack's CiRoles, bootstrapped once by an
   * administrator). @default none: the environment is deployed by hand (dev runs on a local cluster CI cannot reach)
   */
  readonly ci?: { readonly repository: string; readonly oidcProviderArn?: string };
  /**
   * Glue catalog (Athena) over the object-storage prediction log in this bucket, for models whose
   * PREDICTION_LOG_URL is s3://<bucket>/<prefix> (EKS only). @default none
   */
  readonly predictionLogCatalog?: PredictionLogCatalogProps;
  readonly models: readonly ModelConfig[];
}

const SERVICE_IMAGE = "ghcr.io/modelport/modelport-service:0.1.0";
/** The GitHub repository whose workflows plan and apply the CI-managed environments. */
export const CI_REPOSITORY = "modelport/modelport";
const RECEIVERS = {
  page: { name: "oncall-page", secretName: "alert-receiver-page", key: "url" },
  ticket: { name: "team-tickets", secretName: "alert-receiver-ticket", key: "url" },
} as const;

const devFlightDelay: ModelConfig = {
  name: EMBEDDED_MODEL_NAME,
  image: SERVICE_IMAGE,
  stable: {
    replicas: { min: 1, max: 2 },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
  },
  canary: {
    weight: 50,
    replicas: { min: 1, max: 1 },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
  },
  drift: { referenceUri: "service/models/flight-delay/reference.csv", schedule: "*/30 * * * *" },
};

export const ENVIRONMENTS: Record<EnvironmentName, EnvironmentConfig> = {
  dev: {
    name: "dev",
    clusterName: "modelport-dev",
    cluster: { kind: "kubeconfig", configPath: "~/.kube/config", context: "kind-modelport" },
    registry: {
      database: { kind: "cloudnative-pg", instances: 1, storageSize: "5Gi" },
      artifacts: { kind: "seaweedfs", storageSize: "10Gi" },
      replicas: 1,
    },
    observability: { retention: "3d", retentionSize: "8GB", storageSize: "10Gi", prometheusReplicas: 1, receivers: RECEIVERS },
    mesh: { domain: "models.localtest.me", gatewayReplicas: 1 },
    state: { bucket: "modelport-tfstate-dev", region: "eu-west-1" },
    models: [devFlightDelay],
  },
  staging: {
    name: "staging",
    clusterName: "modelport-staging",
    cluster: {
      kind: "eks",
      region: "eu-west-1",
      version: "1.33",
      vpcCidr: "10.20.0.0/16",
      availabilityZones: 3,
      natGateways: "single",
      systemNodes: { instanceTypes: ["m6i.xlarge"], min: 2, max: 4, desired: 2 },
    },
    gpuPool: { instanceTypes: ["g5.xlarge"], min: 0, max: 2, desired: 0, capacityType: "SPOT" },
    registry: {
      database: { kind: "rds", instanceClass: "db.t4g.medium", allocatedStorageGb: 50, multiAz: false },
      artifacts: { kind: "s3", bucketName: "modelport-staging-artifacts" },
      replicas: 2,
    },
    observability: { retention: "15d", retentionSize: "45GB", storageSize: "50Gi", prometheusReplicas: 1, receivers: RECEIVERS },
    mesh: { domain: "models.staging.modelport.example", tlsCredentialName: "models-staging-tls", gatewayReplicas: 2 },
    state: { bucket: "modelport-tfstate-staging", region: "eu-west-1" },
    ci: { repository: CI_REPOSITORY },
    models: [
      {
        name: EMBEDDED_MODEL_NAME,
        image: SERVICE_IMAGE,
        stable: { replicas: { min: 2, max: 4 } },
        canary: { weight: 20, replicas: { min: 1, max: 2 } },
        shadow: { mirrorPercent: 10, replicas: { min: 1, max: 1 } },
        drift: { referenceUri: "s3://modelport-staging-artifacts/datasets/flight-delay/reference.parquet" },
        promotion: { schedule: "*/15 * * * *", window: "1h" },
      },
    ],
  },
  prod: {
    name: "prod",
    clusterName: "modelport-prod",
    cluster: {
      kind: "eks",
      region: "eu-west-1",
      version: "1.33",
      vpcCidr: "10.30.0.0/16",
      availabilityZones: 3,
      natGateways: "per-zone",
      systemNodes: { instanceTypes: ["m6i.2xlarge"], min: 3, max: 9, desired: 3 },
    },
    gpuPool: { instanceTypes: ["g5.2xlarge", "g6.2xlarge"], min: 1, max: 6, desired: 1, capacityType: "ON_DEMAND" },
    registry: {
      database: { kind: "rds", instanceClass: "db.r7g.large", allocatedStorageGb: 200, multiAz: true },
      artifacts: { kind: "s3", bucketName: "modelport-prod-artifacts" },
      replicas: 3,
    },
    observability: { retention: "30d", retentionSize: "180GB", storageSize: "200Gi", prometheusReplicas: 2, receivers: RECEIVERS },
    mesh: { domain: "models.modelport.example", tlsCredentialName: "models-prod-tls", gatewayReplicas: 3 },
    state: { bucket: "modelport-tfstate-prod", region: "eu-west-1" },
    ci: { repository: CI_REPOSITORY },
    models: [
      {
        name: EMBEDDED_MODEL_NAME,
        image: SERVICE_IMAGE,
        stable: {
          replicas: { min: 3, max: 12 },
          resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
        },
        canary: { weight: 5, replicas: { min: 2, max: 4 } },
        drift: { referenceUri: "s3://modelport-prod-artifacts/datasets/flight-delay/reference.parquet", schedule: "7 * * * *" },
        timeout: "5s",
      },
    ],
  },
};
