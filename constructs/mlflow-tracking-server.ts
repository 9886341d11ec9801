import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ArtifactGrantee, ArtifactStore } from "./artifact-store";
import { IrsaConfig, IrsaRole } from "./irsa-role";
import { appLabels, ContainerResources, validateDnsLabel } from "./kube";
import { NetworkPeer } from "./network-peer";
import { caVolumeMount, PostgresCaMount } from "./postgres-server";
import { IMAGES } from "./versions";
import { EnvVar, hardenedPodSpec } from "./workload";

export interface MlflowTrackingServerProps {
  readonly namespace: string;
  /** Resources that create `namespace`. @default none */
  readonly namespaceReady?: ITerraformDependable[];
  /** postgresql:// URL of the backend store (a Terraform reference; kept in a Secret). */
  readonly backendStoreUri: string;
  /** The CA the backend URL's sslrootcert points to, when the database is verified. @default none */
  readonly backendCa?: PostgresCaMount;
  /** What must exist before MLflow connects to its database. @default none */
  readonly backendReady?: ITerraformDependable[];
  /** Where artifacts go: MLflow gets read/write on `artifacts/*` of it. */
  readonly artifacts: ArtifactStore;
  /** AWS: region and IRSA, so S3 access uses a role instead of keys. @default none (an S3-compatible server with keys) */
  readonly aws?: { readonly region: string; readonly irsa: IrsaConfig; readonly roleName: string };
  /** MLflow image with psycopg2 and boto3 (constructs/mlflow-image/Dockerfile). @default IMAGES.mlflow */
  readonly image?: string;
  /** @default 2 */
  readonly replicas?: number;
  /** @default 250m/512Mi requests, 1 CPU/1Gi limits */
  readonly resources?: ContainerResources;
}

const PORT = 5000;
const NAME = "mlflow";
/** Secret (in the registry namespace) with MLflow's backend store URI, key `uri`. */
export const BACKEND_SECRET = "mlflow-backend";
/** Objects MLflow owns in the artifact store. */
export const MLFLOW_ARTIFACT_PREFIX = "artifacts";

/**
 * The MLflow tracking server and model registry serving artifacts itself (`--serve-artifacts`, so clients need no
 * object-store credentials): its backend URI from a Secret, read/write on `artifacts/*` of the artifact store through
 * its own IRSA role or SeaweedFS identity, and a Service.
 */
export class MlflowTrackingServer extends Construct {
  /** In-cluster tracking URI (MLFLOW_TRACKING_URI). */
  readonly trackingUri: string;
  readonly peer: NetworkPeer;
  readonly deployment: DeploymentV1;
  readonly role?: IrsaRole;

  /** Where the tracking server of a namespace is reached (model stacks use it without cross-stack outputs). */
  static trackingUri(namespace: string): string {
    return `http://${NAME}.${namespace}.svc.cluster.local:${PORT}`;
  }

  static peer(namespace: string): NetworkPeer {
    return { namespace, podLabels: { "app.kubernetes.io/name": NAME }, port: PORT };
  }

  constructor(scope: Construct, id: string, props: MlflowTrackingServerProps) {
    super(scope, id);
    validateDnsLabel("MlflowTrackingServer namespace", props.namespace);
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`MlflowTrackingServer replicas must be a positive integer, got ${replicas}`);
    const namespace = props.namespace;
    const nsReady = props.namespaceReady ?? [];
    this.trackingUri = MlflowTrackingServer.trackingUri(namespace);
    this.peer = MlflowTrackingServer.peer(namespace);

    if (props.aws) {
      this.role = new IrsaRole(this, "Role", { irsa: props.aws.irsa, roleName: props.aws.roleName, namespace, serviceAccount: NAME });
    }
    const grantee: ArtifactGrantee = { name: NAME, namespace, role: this.role, namespaceReady: nsReady };
    const credentials = props.artifacts.grantReadWrite(grantee, `${MLFLOW_ARTIFACT_PREFIX}/*`);

    const backend = new SecretV1(this, "Backend", {
      metadata: { name: BACKEND_SECRET, namespace },
      data: { uri: props.backendStoreUri },
      dependsOn: nsReady,
    });
    const sa = new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: NAME, namespace, annotations: this.role?.annotations ?? {} },
      automountServiceAccountToken: false,
      dependsOn: nsReady,
    });
    const env: EnvVar[] = [
      { name: "MLFLOW_BACKEND_STORE_URI", valueFrom: { secretKeyRef: { name: BACKEND_SECRET, key: "uri" } } },
      { name: "HOME", value: "/tmp" },
      ...(props.aws ? [{ name: "AWS_REGION", value: props.aws.region }] : []),
      ...(props.artifacts.endpointUrl ? [{ name: "MLFLOW_S3_ENDPOINT_URL", value: props.artifacts.endpointUrl }] : []),
      ...(credentials
        ? ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: credentials.secretName, key } } }))
        : []),
    ];
    const host = `${NAME}.${namespace}.svc.cluster.local`;
    // MLflow 3.5+ rejects unknown Host headers (DNS-rebinding protection): allow the Service names and the private
    // ranges kubelet probes come from.
    const allowedHosts = [host, `${host}:${PORT}`, `${NAME}.${namespace}`, `${NAME}.${namespace}:${PORT}`, "10.*", "172.*", "192.168.*", "localhost:*"];
    const probe = (period: number) => ({ httpGet: { path: "/health", port: String(PORT) }, periodSeconds: period, timeoutSeconds: 5, failureThreshold: 6 });
    const labels = appLabels(NAME, "model-registry");
    const selector = { "app.kubernetes.io/name": NAME };
    this.deployment = new DeploymentV1(this, "Resource", {
      metadata: { name: NAME, namespace, labels },
      waitForRollout: true,
      spec: {
        replicas: String(replicas),
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0", maxSurge: "1" } },
        template: {
          metadata: { labels },
          spec: hardenedPodSpec("service", {
            serviceAccountName: sa.metadata.name,
            automountServiceAccountToken: !!this.role, // the AWS SDK needs the projected web-identity token
            containers: [
              {
                name: NAME,
                image: props.image ?? IMAGES.mlflow,
                command: ["mlflow", "server"],
                args: [
                  "--host", "0.0.0.0",
                  "--port", String(PORT),
                  "--backend-store-uri", "$(MLFLOW_BACKEND_STORE_URI)",
                  "--artifacts-destination", `s3://${props.artifacts.bucketName}/${MLFLOW_ARTIFACT_PREFIX}`,
                  "--serve-artifacts",
                  "--workers", "2",
                  "--allowed-hosts", allowedHosts.join(","),
                ],
                env,
                ports: [{ name: "http", containerPort: PORT }],
                resources: props.resources ?? { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                probes: { startup: { ...probe(5), failureThreshold: 60 }, liveness: probe(20), readiness: probe(10) },
                scratch: [{ name: "tmp", mountPath: "/tmp", sizeLimit: "1Gi" }],
                mounts: props.backendCa ? [caVolumeMount(props.backendCa)] : [],
              },
            ],
          }),
        },
      },
      dependsOn: [...nsReady, backend, ...(credentials?.ready ?? []), ...(props.backendReady ?? []), ...props.artifacts.ready],
    });
    new ServiceV1(this, "Service", {
      metadata: { name: NAME, namespace, labels },
      spec: { selector, port: [{ name: "http", port: PORT, targetPort: String(PORT) }] },
      dependsOn: nsReady,
    });
  }
}
