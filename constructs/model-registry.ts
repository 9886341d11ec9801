import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA as S3BucketVersioning } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { HelmChart } from "./helm-chart";
import { IrsaConfig, IrsaRole } from "./irsa-role";
import {
  appLabels,
  ContainerResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  validateDnsLabel,
  validateResources,
} from "./kube";
import { ManifestBundle } from "./manifest-bundle";
import { NetworkPeer } from "./network-peer";
import { CHARTS, IMAGES } from "./versions";

/** Amazon RDS for PostgreSQL in the cluster's VPC (staging, prod). */
export interface RdsDatabase {
  readonly kind: "rds";
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
export interface SeaweedFsArtifactStore {
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
  readonly artifacts: S3ArtifactStore | SeaweedFsArtifactStore;
  /** Needed with the S3 artifact store: MLflow reaches S3 through an IRSA role. */
  readonly irsa?: IrsaConfig;
  /** Namespaces that get the prediction-log and artifact-store Secrets (the model namespaces). */
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

/** Names of the Secrets the registry publishes into each consumer namespace. */
export const REGISTRY_SECRETS = {
  /** key `url`: postgresql:// URL of the prediction-log database. */
  predictionLog: { name: "prediction-log", key: "url" },
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for the in-cluster S3 server (SeaweedFS only). */
  artifactCredentials: "artifact-store-credentials",
} as const;

const MLFLOW_PORT = 5000;
const PG_PORT = 5432;
const S3_PORT = 8333;
const SEAWEED_MASTER_PORT = 9333;
const PREDICTION_DB = "predictions";

/**
 * MLflow tracking server and model registry serving artifacts itself (`--serve-artifacts`, so clients need no
 * object-store credentials), backed by Postgres (RDS with its password in Secrets Manager, or CloudNativePG)
 * and an S3 artifact store (an encrypted, versioned, private bucket reached through IRSA, or SeaweedFS).
 * Also publishes the prediction-log database URL to the model namespaces.
 */
/** Where clients find the registry, derived from configuration alone (model stacks use it without cross-stack outputs). */
export interface RegistryEndpoints {
  readonly trackingUri: string;
  readonly bucketName: string;
  readonly s3EndpointUrl?: string;
  /** MLflow pods (NetworkPolicy egress). */
  readonly registryPeer: NetworkPeer;
  /** Postgres: CloudNativePG pods or the RDS address range. */
  readonly databasePeer: NetworkPeer;
}

export class ModelRegistry extends Construct {
  readonly namespace: string;
  /** In-cluster tracking URI (MLFLOW_TRACKING_URI). */
  readonly trackingUri: string;
  /** Bucket holding MLflow artifacts and drift reports. */
  readonly bucketName: string;
  /** S3 endpoint for clients of the in-cluster server (MLFLOW_S3_ENDPOINT_URL); undefined on AWS. */
  readonly s3EndpointUrl?: string;
  readonly endpoints: RegistryEndpoints;
  readonly bucket?: S3Bucket;
  readonly deployment: DeploymentV1;

  /** The endpoints a registry built from these props will have. */
  static endpoints(props: Pick<ModelRegistryProps, "namespace" | "database" | "artifacts">): RegistryEndpoints {
    const namespace = props.namespace ?? "mlflow";
    const seaweed = props.artifacts.kind === "seaweedfs";
    return {
      trackingUri: `http://mlflow.${namespace}.svc.cluster.local:${MLFLOW_PORT}`,
      bucketName: props.artifacts.bucketName ?? "modelport",
      s3EndpointUrl: seaweed ? `http://seaweedfs.${namespace}.svc.cluster.local:${S3_PORT}` : undefined,
      registryPeer: { namespace, podLabels: { "app.kubernetes.io/name": "mlflow" }, port: MLFLOW_PORT },
      databasePeer:
        props.database.kind === "rds"
          ? { cidr: props.database.allowedCidr, port: PG_PORT }
          : { namespace, podLabels: { "cnpg.io/cluster": "mlflow-db" }, port: PG_PORT },
    };
  }

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);
    this.namespace = props.namespace ?? "mlflow";
    this.endpoints = ModelRegistry.endpoints(props);
    validateDnsLabel("ModelRegistry namespace", this.namespace);
    props.consumerNamespaces.forEach((n) => validateDnsLabel("ModelRegistry consumerNamespaces entry", n));
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`ModelRegistry replicas must be a positive integer, got ${replicas}`);
    const resources = props.resources ?? {
      requests: { cpu: "250m", memory: "512Mi" },
      limits: { cpu: "1", memory: "1Gi" },
    };
    validateResources("ModelRegistry resources", resources);
    if (props.artifacts.kind === "s3" && !props.irsa) {
      throw new Error("ModelRegistry: the s3 artifact store needs `irsa` (an EKS cluster's OIDC provider) so MLflow gets no static keys");
    }
    this.trackingUri = this.endpoints.trackingUri;
    this.bucketName = this.endpoints.bucketName;
    this.s3EndpointUrl = this.endpoints.s3EndpointUrl;

    const ns = new NamespaceV1(this, "Namespace", {
      metadata: { name: this.namespace, labels: { "istio-injection": "disabled" } },
    });
    const consumerDeps = [ns, ...(props.consumerNamespaceDependencies ?? [])];

    // --- database --------------------------------------------------------------------------------------------
    const dbPassword = new Password(this, "DatabasePassword", { length: 32, special: false });
    const dbUser = "mlflow";
    let dbHost: string;
    let dbReady: ITerraformDependable[];
    if (props.database.kind === "rds") {
      const rds = this.createRds(props.namePrefix, props.database, dbUser, dbPassword.result);
      dbHost = rds.address;
      dbReady = [rds];
    } else {
      const cnpg = this.createCloudNativePg(props.database, dbUser, dbPassword.result, ns);
      dbHost = `mlflow-db-rw.${this.namespace}.svc.cluster.local`;
      dbReady = [cnpg.release];
    }
    const dbUrl = (db: string) => `postgresql://${dbUser}:${dbPassword.result}@${dbHost}:${PG_PORT}/${db}`;
    new SecretV1(this, "BackendSecret", {
      metadata: { name: "mlflow-backend", namespace: this.namespace },
      data: { uri: dbUrl("mlflow") },
      dependsOn: [ns],
    });
    for (const consumer of props.consumerNamespaces) {
      new SecretV1(this, `PredictionLogSecret-${consumer}`, {
        metadata: { name: REGISTRY_SECRETS.predictionLog.name, namespace: consumer },
        data: { [REGISTRY_SECRETS.predictionLog.key]: dbUrl(PREDICTION_DB) },
        dependsOn: consumerDeps,
      });
    }
    if (props.database.kind === "rds") {
      // RDS creates one database; the prediction log gets its own, created idempotently by a one-shot Job.
      this.createPredictionDatabaseJob(ns, dbReady);
    }

    // --- artifact store ----------------------------------------------------------------------------------------
    const serviceAccountAnnotations: Record<string, string> = {};
    const artifactEnv: { name: string; value?: string; valueFrom?: object }[] = [];
    let artifactsReady: ITerraformDependable[] = [];
    if (props.artifacts.kind === "s3") {
      this.bucket = this.createBucket(props.artifacts);
      const role = new IrsaRole(this, "MlflowRole", {
        irsa: props.irsa!,
        roleName: `${props.namePrefix}-mlflow`,
        namespace: this.namespace,
        serviceAccount: "mlflow",
        statements: [
          { actions: ["s3:ListBucket"], resources: [this.bucket.arn] },
          {
            actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources: [`${this.bucket.arn}/artifacts/*`],
          },
        ],
      });
      Object.assign(serviceAccountAnnotations, role.annotations);
      artifactEnv.push({ name: "AWS_REGION", value: props.artifacts.region });
      artifactsReady = [this.bucket];
    } else {
      artifactsReady = this.createSeaweedFs(props.artifacts, ns, props.consumerNamespaces, consumerDeps);
      artifactEnv.push(
        { name: "MLFLOW_S3_ENDPOINT_URL", value: this.s3EndpointUrl! },
        ...["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({
          name: key,
          valueFrom: { secretKeyRef: { name: REGISTRY_SECRETS.artifactCredentials, key } },
        })),
      );
    }

    // --- MLflow ----------------------------------------------------------------------------------------------------
    const labels = appLabels("mlflow", "model-registry");
    const selector = { "app.kubernetes.io/name": "mlflow" };
    const sa = new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: "mlflow", namespace: this.namespace, annotations: serviceAccountAnnotations },
      dependsOn: [ns],
    });
    const svcHost = `mlflow.${this.namespace}.svc.cluster.local`;
    // MLflow 3.5+ rejects unknown Host headers (DNS-rebinding protection): allow the Service names and the
    // private ranges kubelet probes come from.
    const allowedHosts = [svcHost, `${svcHost}:${MLFLOW_PORT}`, `mlflow.${this.namespace}`, `mlflow.${this.namespace}:${MLFLOW_PORT}`, "10.*", "172.*", "192.168.*", "localhost:*"];
    const probe = (path: string, period: number) => ({
      httpGet: { path, port: String(MLFLOW_PORT) },
      periodSeconds: period,
      timeoutSeconds: 5,
      failureThreshold: 6,
    });
    this.deployment = new DeploymentV1(this, "Resource", {
      metadata: { name: "mlflow", namespace: this.namespace, labels },
      waitForRollout: true,
      spec: {
        replicas: String(replicas),
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0", maxSurge: "1" } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa.metadata.name,
            securityContext: restrictedPodSecurityContext(),
            container: [
              {
                name: "mlflow",
                image: props.image ?? IMAGES.mlflow,
                command: ["mlflow", "server"],
                args: [
                  "--host", "0.0.0.0",
                  "--port", String(MLFLOW_PORT),
                  "--backend-store-uri", "$(MLFLOW_BACKEND_STORE_URI)",
                  "--artifacts-destination", `s3://${this.bucketName}/artifacts`,
                  "--serve-artifacts",
                  "--workers", "2",
                  "--allowed-hosts", allowedHosts.join(","),
                ],
                env: [
                  { name: "MLFLOW_BACKEND_STORE_URI", valueFrom: { secretKeyRef: { name: "mlflow-backend", key: "uri" } } },
                  { name: "HOME", value: "/tmp" },
                  ...artifactEnv,
                ],
                port: [{ name: "http", containerPort: MLFLOW_PORT }],
                resources,
                securityContext: restrictedContainerSecurityContext(),
                startupProbe: { ...probe("/health", 5), failureThreshold: 60 },
                livenessProbe: probe("/health", 20),
                readinessProbe: probe("/health", 10),
                volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }],
          },
        },
      },
      dependsOn: [...dbReady, ...artifactsReady],
    });
    new ServiceV1(this, "Service", {
      metadata: { name: "mlflow", namespace: this.namespace, labels },
      spec: { selector, port: [{ name: "http", port: MLFLOW_PORT, targetPort: String(MLFLOW_PORT) }] },
    });
  }

  private createRds(prefix: string, db: RdsDatabase, user: string, password: string): DbInstance {
    const storage = db.allocatedStorageGb ?? 50;
    if (!Number.isInteger(storage) || storage < 20) throw new Error(`ModelRegistry database.allocatedStorageGb must be >= 20, got ${storage}`);
    const subnets = new DbSubnetGroup(this, "DatabaseSubnets", { name: `${prefix}-mlflow`, subnetIds: db.subnetIds });
    const sg = new SecurityGroup(this, "DatabaseSecurityGroup", {
      name: `${prefix}-mlflow-db`,
      vpcId: db.vpcId,
      description: "Postgres for MLflow and the prediction log, reachable from the cluster VPC only",
      ingress: [{ fromPort: PG_PORT, toPort: PG_PORT, protocol: "tcp", cidrBlocks: [db.allowedCidr] }],
    });
    const instance = new DbInstance(this, "Database", {
      identifier: `${prefix}-mlflow`,
      engine: "postgres",
      engineVersion: db.engineVersion ?? "17",
      instanceClass: db.instanceClass ?? "db.t4g.medium",
      allocatedStorage: storage,
      maxAllocatedStorage: storage * 4,
      storageType: "gp3",
      storageEncrypted: true,
      dbName: "mlflow",
      username: user,
      password,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [sg.id],
      publiclyAccessible: false,
      multiAz: db.multiAz ?? false,
      backupRetentionPeriod: 7,
      deletionProtection: db.deletionProtection ?? true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: `${prefix}-mlflow-final`,
      autoMinorVersionUpgrade: true,
    });
    // The generated credentials, kept in Secrets Manager for operators and rotation tooling.
    const secret = new SecretsmanagerSecret(this, "DatabaseCredentials", {
      name: `${prefix}/mlflow/database`,
      description: "MLflow and prediction-log Postgres credentials (generated by cdktf)",
    });
    new SecretsmanagerSecretVersion(this, "DatabaseCredentialsValue", {
      secretId: secret.id,
      secretString: Fn.jsonencode({ username: user, password, host: instance.address, port: PG_PORT, dbname: "mlflow" }),
    });
    return instance;
  }

  private createCloudNativePg(db: CloudNativePgDatabase, user: string, password: string, ns: NamespaceV1): ManifestBundle {
    const instances = db.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new Error(`ModelRegistry database.instances must be a positive integer, got ${instances}`);
    const operator = new HelmChart(this, "CloudNativePg", {
      chart: CHARTS.cloudnativePg,
      name: "cloudnative-pg",
      namespace: "cnpg-system",
      createNamespace: true,
    });
    const credentials = new SecretV1(this, "DatabaseCredentials", {
      metadata: { name: "mlflow-db-credentials", namespace: this.namespace },
      type: "kubernetes.io/basic-auth",
      data: { username: user, password },
      dependsOn: [ns],
    });
    return new ManifestBundle(this, "Database", {
      name: "mlflow-db",
      namespace: this.namespace,
      dependsOn: [operator.release, credentials],
      objects: [
        {
          apiVersion: "postgresql.cnpg.io/v1",
          kind: "Cluster",
          metadata: { name: "mlflow-db", namespace: this.namespace },
          spec: {
            instances,
            imageName: IMAGES.postgres,
            storage: { size: db.storageSize ?? "10Gi" },
            bootstrap: {
              initdb: {
                database: "mlflow",
                owner: user,
                secret: { name: "mlflow-db-credentials" },
                postInitSQL: [`CREATE DATABASE ${PREDICTION_DB} OWNER ${user}`],
              },
            },
          },
        },
      ],
    });
  }

  private createPredictionDatabaseJob(ns: NamespaceV1, after: ITerraformDependable[]): void {
    const sql = `SELECT 1 FROM pg_database WHERE datname = '${PREDICTION_DB}'`;
    new JobV1(this, "PredictionDatabase", {
      metadata: { name: "create-prediction-log-db", namespace: this.namespace },
      waitForCompletion: true,
      spec: {
        backoffLimit: 6,
        ttlSecondsAfterFinished: "600",
        template: {
          metadata: { labels: appLabels("create-prediction-log-db", "database-bootstrap") },
          spec: {
            restartPolicy: "OnFailure",
            securityContext: restrictedPodSecurityContext(26),
            container: [
              {
                name: "psql",
                image: IMAGES.postgres,
                command: ["sh", "-c", `psql "$DB_URL" -tAc "${sql}" | grep -q 1 || psql "$DB_URL" -c "CREATE DATABASE ${PREDICTION_DB}"`],
                env: [{ name: "DB_URL", valueFrom: { secretKeyRef: { name: "mlflow-backend", key: "uri" } } }],
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                securityContext: restrictedContainerSecurityContext(26),
                volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
          },
        },
      },
      dependsOn: [ns, ...after],
    });
  }

  private createBucket(store: S3ArtifactStore): S3Bucket {
    const bucket = new S3Bucket(this, "Bucket", { bucket: store.bucketName, forceDestroy: false });
    new S3BucketPublicAccessBlock(this, "BucketPublicAccessBlock", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "BucketOwnership", {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketVersioning(this, "BucketVersioning", { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfiguration(this, "BucketEncryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
    });
    new S3BucketLifecycleConfiguration(this, "BucketLifecycle", {
      bucket: bucket.id,
      rule: [
        {
          id: "expire-noncurrent-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: 90 }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    new S3BucketPolicy(this, "BucketPolicy", {
      bucket: bucket.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucket.arn, `${bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
    return bucket;
  }

  private createSeaweedFs(
    store: SeaweedFsArtifactStore,
    ns: NamespaceV1,
    consumers: readonly string[],
    consumerDeps: ITerraformDependable[],
  ): ITerraformDependable[] {
    validateDnsLabel("ModelRegistry artifacts.bucketName", this.bucketName);
    const accessKey = new Password(this, "S3AccessKey", { length: 20, special: false, upper: true, lower: false });
    const secretKey = new Password(this, "S3SecretKey", { length: 40, special: false });
    const config = new SecretV1(this, "S3Config", {
      metadata: { name: "seaweedfs-s3-config", namespace: this.namespace },
      data: {
        "s3.json": Fn.jsonencode({
          identities: [
            {
              name: "modelport",
              credentials: [{ accessKey: accessKey.result, secretKey: secretKey.result }],
              actions: ["Read", "Write", "List", "Tagging"],
            },
          ],
        }),
      },
      dependsOn: [ns],
    });
    for (const namespace of [this.namespace, ...consumers]) {
      new SecretV1(this, `ArtifactCredentials-${namespace}`, {
        metadata: { name: REGISTRY_SECRETS.artifactCredentials, namespace },
        data: { AWS_ACCESS_KEY_ID: accessKey.result, AWS_SECRET_ACCESS_KEY: secretKey.result },
        dependsOn: consumerDeps,
      });
    }
    const pvc = new PersistentVolumeClaimV1(this, "S3Data", {
      metadata: { name: "seaweedfs-data", namespace: this.namespace },
      waitUntilBound: false,
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: store.storageSize ?? "20Gi" } } },
      dependsOn: [ns],
    });
    const labels = appLabels("seaweedfs", "artifact-store");
    const selector = { "app.kubernetes.io/name": "seaweedfs" };
    const server = new DeploymentV1(this, "S3Server", {
      metadata: { name: "seaweedfs", namespace: this.namespace, labels },
      spec: {
        replicas: "1",
        // One writer of a ReadWriteOnce volume: replace, never overlap.
        strategy: { type: "Recreate" },
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            securityContext: restrictedPodSecurityContext(),
            container: [
              {
                name: "seaweedfs",
                image: IMAGES.seaweedfs,
                command: ["weed"],
                args: [
                  "server",
                  "-dir=/data",
                  "-ip.bind=0.0.0.0",
                  `-master.port=${SEAWEED_MASTER_PORT}`,
                  "-filer.encryptVolumeData",
                  "-s3",
                  `-s3.port=${S3_PORT}`,
                  "-s3.config=/etc/seaweedfs/s3.json",
                ],
                port: [
                  { name: "s3", containerPort: S3_PORT },
                  { name: "master", containerPort: SEAWEED_MASTER_PORT },
                ],
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                securityContext: restrictedContainerSecurityContext(),
                livenessProbe: { httpGet: { path: "/cluster/status", port: String(SEAWEED_MASTER_PORT) }, periodSeconds: 20 },
                readinessProbe: { tcpSocket: [{ port: String(S3_PORT) }], periodSeconds: 10 },
                volumeMount: [
                  { name: "data", mountPath: "/data" },
                  { name: "config", mountPath: "/etc/seaweedfs", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "data", persistentVolumeClaim: { claimName: pvc.metadata.name } },
              { name: "config", secret: { secretName: config.metadata.name } },
              { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            ],
          },
        },
      },
    });
    const service = new ServiceV1(this, "S3Service", {
      metadata: { name: "seaweedfs", namespace: this.namespace, labels },
      spec: {
        selector,
        port: [
          { name: "s3", port: S3_PORT, targetPort: String(S3_PORT) },
          { name: "master", port: SEAWEED_MASTER_PORT, targetPort: String(SEAWEED_MASTER_PORT) },
        ],
      },
    });
    const master = `seaweedfs.${this.namespace}.svc.cluster.local:${SEAWEED_MASTER_PORT}`;
    const bucketJob = new JobV1(this, "S3Bucket", {
      metadata: { name: "seaweedfs-create-bucket", namespace: this.namespace },
      waitForCompletion: true,
      spec: {
        backoffLimit: 10,
        ttlSecondsAfterFinished: "600",
        template: {
          metadata: { labels: appLabels("seaweedfs-create-bucket", "artifact-store-bootstrap") },
          spec: {
            restartPolicy: "OnFailure",
            securityContext: restrictedPodSecurityContext(),
            container: [
              {
                name: "create-bucket",
                image: IMAGES.seaweedfs,
                // Idempotent: creating an existing bucket only prints an error inside `weed shell`.
                command: ["sh", "-c", `echo "s3.bucket.create -name ${this.bucketName}" | weed shell -master=${master}`],
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                securityContext: restrictedContainerSecurityContext(),
                volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
          },
        },
      },
      dependsOn: [server, service],
    });
    return [bucketJob];
  }
}
