import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ArtifactStore } from "./artifact-store";
import { CloudNativePostgres } from "./cloudnative-postgres";
import { BATCH_SCORING_GRANTEE, BATCH_SCORING_INPUT_PREFIX, BATCH_SCORING_OUTPUT_PREFIX } from "./batch-scoring-job";
import { DRIFT_GRANTEE, DRIFT_READ_KEYS, DRIFT_REPORT_KEYS } from "./drift-monitor";
import { IrsaConfig } from "./irsa-role";
import { ContainerResources, validateDnsLabel } from "./kube";
import { MlflowTrackingServer } from "./mlflow-tracking-server";
import { NetworkPeer } from "./network-peer";
import { POSTGRES_CA, postgresCaMount, PostgresServer } from "./postgres-server";
import { PREDICTION_LOG_SECRET, PredictionLogAccess, PredictionLogDatabase } from "./prediction-log-database";
import { RdsPostgres } from "./rds-postgres";
import { S3ArtifactBucket } from "./s3-artifact-bucket";
import { SeaweedFsArtifactStore } from "./seaweedfs-artifact-store";

/** Amazon RDS for PostgreSQL in the cluster's VPC (staging, prod). */
export interface RdsDatabase {
  readonly kind: "rds";
  readonly region: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  /** CIDR allowed to reach port 5432 (the VPC's). */
  readonly allowedCidr: string;
  /** @default "db.t4g.medium" */
  readonly instanceClass?: string;
  /** @default 50 */
  readonly allocatedStorageGb?: number;
  /** @default false */
  readonly multiAz?: boolean;
  /** Major version. @default "17" */
  readonly engineVersion?: string;
  /** @default true */
  readonly deletionProtection?: boolean;
}

/** Postgres run by the CloudNativePG operator inside an existing cluster (dev). */
export interface CloudNativePgDatabase {
  readonly kind: "cloudnative-pg";
  /** @default 1 */
  readonly instances?: number;
  /** @default "10Gi" */
  readonly storageSize?: string;
}

/** An S3 bucket (AWS). */
export interface S3ArtifactStore {
  readonly kind: "s3";
  /** Globally unique bucket name. */
  readonly bucketName: string;
  readonly region: string;
}

/** A SeaweedFS S3-compatible server inside the cluster (dev; no cloud object store). */
export interface SeaweedFsArtifactStoreConfig {
  readonly kind: "seaweedfs";
  /** @default "modelport" */
  readonly bucketName?: string;
  /** @default "20Gi" */
  readonly storageSize?: string;
}

export interface ModelRegistryProps {
  /** Prefix for AWS resource names (environment name). */
  readonly namePrefix: string;
  /** @default "mlflow" */
  readonly namespace?: string;
  readonly database: RdsDatabase | CloudNativePgDatabase;
  readonly artifacts: S3ArtifactStore | SeaweedFsArtifactStoreConfig;
  /** Needed with the S3 artifact store: MLflow reaches S3 through an IRSA role. */
  readonly irsa?: IrsaConfig;
  /** Namespaces whose workloads get their own prediction log and (in-cluster store) drift-job credentials. */
  readonly consumerNamespaces: readonly string[];
  /** Resources the consumer namespaces must exist before (their Namespace objects). @default none */
  readonly consumerNamespaceDependencies?: ITerraformDependable[];
  /** MLflow image with psycopg2 and boto3 (constructs/mlflow-image/Dockerfile). @default IMAGES.mlflow */
  readonly image?: string;
  /** @default 2 */
  readonly replicas?: number;
  /** @default 250m/512Mi requests, 1 CPU/1Gi limits */
  readonly resources?: ContainerResources;
}

/** Secrets a consumer namespace receives from the registry (model stacks find them by these names). */
export const REGISTRY_SECRETS = {
  /** key `url`: postgresql:// URL of the namespace's own prediction-log database. */
  predictionLog: PREDICTION_LOG_SECRET,
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the drift job's identity (SeaweedFS only). */
  driftArtifactCredentials: `artifact-store-${DRIFT_GRANTEE}`,
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the batch scorer's identity (SeaweedFS only). */
  batchScoringArtifactCredentials: `artifact-store-${BATCH_SCORING_GRANTEE}`,
} as const;

/** Where clients find the registry, derived from configuration alone (model stacks use it without cross-stack outputs). */
export interface RegistryEndpoints {
  readonly trackingUri: string;
  readonly bucketName: string;
  readonly s3EndpointUrl?: string;
  /** MLflow pods (NetworkPolicy egress). */
  readonly registryPeer: NetworkPeer;
  /** Postgres: CloudNativePG pods or the RDS address range. */
  readonly databasePeer: NetworkPeer;
  /** How consumers reach their prediction log (the CA to mount when the database is verified). */
  readonly predictionLog: PredictionLogAccess;
}

const DB_NAME = "mlflow";
const DB_OWNER = "mlflow";
const CNPG_CLUSTER = "mlflow-db";
const SEAWEEDFS_PORT = 8333;

/**
 * The model registry, composed of small constructs: a database server (RdsPostgres or CloudNativePostgres), an
 * artifact store (S3ArtifactBucket or SeaweedFsArtifactStore), the MLflow tracking server with read/write on its
 * artifacts, and the prediction log's databases, one role and database per consumer namespace. Consumers get only
 * what is granted to them: their own prediction-log database, and (in-cluster store) a drift-job identity that reads
 * `datasets/*` and writes `drift-reports/*`.
 */
export class ModelRegistry extends Construct {
  readonly namespace: string;
  readonly trackingUri: string;
  readonly bucketName: string;
  readonly s3EndpointUrl?: string;
  readonly endpoints: RegistryEndpoints;
  readonly database: PostgresServer;
  readonly artifacts: ArtifactStore;
  readonly tracking: MlflowTrackingServer;
  readonly predictionLog: PredictionLogDatabase;

  /** The endpoints a registry built from these props will have. */
  static endpoints(props: Pick<ModelRegistryProps, "namespace" | "database" | "artifacts">): RegistryEndpoints {
    const namespace = props.namespace ?? "mlflow";
    const rds = props.database.kind === "rds";
    return {
      trackingUri: MlflowTrackingServer.trackingUri(namespace),
      bucketName: props.artifacts.bucketName ?? "modelport",
      s3EndpointUrl: props.artifacts.kind === "seaweedfs" ? `http://seaweedfs.${namespace}.svc.cluster.local:${SEAWEEDFS_PORT}` : undefined,
      registryPeer: MlflowTrackingServer.peer(namespace),
      databasePeer: rds
        ? { cidr: (props.database as RdsDatabase).allowedCidr, port: 5432 }
        : { namespace, podLabels: { "cnpg.io/cluster": CNPG_CLUSTER }, port: 5432 },
      predictionLog: {
        secretName: REGISTRY_SECRETS.predictionLog.name,
        key: REGISTRY_SECRETS.predictionLog.key,
        // RDS is verified against its CA bundle; CloudNativePG's in-cluster CA is not shared (sslmode=require).
        ca: rds ? { ...POSTGRES_CA } : undefined,
      },
    };
  }

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);
    this.namespace = props.namespace ?? "mlflow";
    validateDnsLabel("ModelRegistry namespace", this.namespace);
    props.consumerNamespaces.forEach((n) => validateDnsLabel("ModelRegistry consumerNamespaces entry", n));
    if (props.artifacts.kind === "s3" && !props.irsa) {
      throw new Error("ModelRegistry: the s3 artifact store needs `irsa` (an EKS cluster's OIDC provider) so MLflow gets no static keys");
    }
    this.endpoints = ModelRegistry.endpoints(props);
    this.trackingUri = this.endpoints.trackingUri;
    this.bucketName = this.endpoints.bucketName;
    this.s3EndpointUrl = this.endpoints.s3EndpointUrl;

    const ns = new NamespaceV1(this, "Namespace", { metadata: { name: this.namespace, labels: { "istio-injection": "disabled" } } });
    const nsReady = [ns];
    let backendStoreUri: string;
    if (props.database.kind === "rds") {
      const rds = new RdsPostgres(this, "Database", {
        namePrefix: props.namePrefix,
        region: props.database.region,
        vpcId: props.database.vpcId,
        subnetIds: props.database.subnetIds,
        clientCidr: props.database.allowedCidr,
        namespace: this.namespace,
        namespaceReady: nsReady,
        databaseName: DB_NAME,
        masterUser: DB_OWNER,
        instanceClass: props.database.instanceClass,
        allocatedStorageGb: props.database.allocatedStorageGb,
        multiAz: props.database.multiAz,
        engineVersion: props.database.engineVersion,
        deletionProtection: props.database.deletionProtection,
      });
      backendStoreUri = rds.masterUrl;
      this.database = rds;
    } else {
      const cnpg = new CloudNativePostgres(this, "Database", {
        name: CNPG_CLUSTER,
        namespace: this.namespace,
        namespaceReady: nsReady,
        databaseName: DB_NAME,
        owner: DB_OWNER,
        ownerPassword: new Password(this, "DatabasePassword", { length: 32, special: false }).result,
        instances: props.database.instances,
        storageSize: props.database.storageSize,
      });
      backendStoreUri = cnpg.ownerUrl;
      this.database = cnpg;
    }

    this.artifacts =
      props.artifacts.kind === "s3"
        ? new S3ArtifactBucket(this, "Artifacts", { bucketName: props.artifacts.bucketName })
        : new SeaweedFsArtifactStore(this, "Artifacts", {
            namespace: this.namespace,
            namespaceReady: nsReady,
            bucketName: props.artifacts.bucketName,
            storageSize: props.artifacts.storageSize,
          });

    this.tracking = new MlflowTrackingServer(this, "Tracking", {
      namespace: this.namespace,
      namespaceReady: nsReady,
      backendStoreUri,
      backendCa: postgresCaMount(this.database.trust),
      backendReady: this.database.ready,
      artifacts: this.artifacts,
      aws: props.artifacts.kind === "s3" ? { region: props.artifacts.region, irsa: props.irsa!, roleName: `${props.namePrefix}-mlflow` } : undefined,
      image: props.image,
      replicas: props.replicas,
      resources: props.resources,
    });

    this.predictionLog = new PredictionLogDatabase(this, "PredictionLog", { server: this.database });
    const consumerReady = [ns, ...(props.consumerNamespaceDependencies ?? [])];
    for (const namespace of props.consumerNamespaces) {
      this.predictionLog.grantReadWrite({ namespace, namespaceReady: consumerReady });
      // On AWS the drift job's IRSA role (in its model stack) is granted there; an in-cluster store needs its keys here.
      if (props.artifacts.kind === "seaweedfs") {
        const drift = { name: DRIFT_GRANTEE, namespace, namespaceReady: consumerReady };
        this.artifacts.grantRead(drift, DRIFT_READ_KEYS);
        this.artifacts.grantWrite(drift, DRIFT_REPORT_KEYS);
        // Batch scoring reads its inputs under one prefix and writes under another; nothing else in the bucket.
        const scoring = { name: BATCH_SCORING_GRANTEE, namespace, namespaceReady: consumerReady };
        this.artifacts.grantRead(scoring, `${BATCH_SCORING_INPUT_PREFIX}*`);
        this.artifacts.grantWrite(scoring, `${BATCH_SCORING_OUTPUT_PREFIX}*`);
      }
    }
  }
}
