import { createHash } from "node:crypto";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { ITerraformDependable, Lazy } from "cdktf";
import { Construct } from "constructs";
import { ArtifactCredentials, ArtifactGrantee, ArtifactStore, validateKeyPattern } from "./artifact-store";
import { appLabels, validateDnsLabel } from "./kube";
import { NetworkPeer } from "./network-peer";
import { IMAGES } from "./versions";
import { hardenedPodSpec } from "./workload";

export interface SeaweedFsArtifactStoreProps {
  readonly namespace: string;
  /** Resources that create `namespace`. @default none */
  readonly namespaceReady?: ITerraformDependable[];
  /** @default "modelport" */
  readonly bucketName?: string;
  /** @default "20Gi" */
  readonly storageSize?: string;
}

const S3_PORT = 8333;
const MASTER_PORT = 9333;
/** `weed` derives every gRPC port as its HTTP port + 10000 (pb.ServerAddress); `weed shell` dials the master's. */
const MASTER_GRPC_PORT = MASTER_PORT + 10000;
const NAME = "seaweedfs";
const CONFIG_SECRET = "seaweedfs-s3-config";

interface Identity {
  readonly name: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly actions: Set<string>;
  readonly credentials: ArtifactCredentials;
}

/**
 * A single-node SeaweedFS S3 server (maintained, Apache-2.0) for clusters without a cloud object store: encrypted
 * volume data for filer and S3 uploads, one bucket created by a Job, and one S3 identity per consumer whose actions are
 * only what `grantRead`/`grantWrite`/`grantReadWrite` gave it; each consumer's keys go to a Secret in its namespace.
 */
export class SeaweedFsArtifactStore extends Construct implements ArtifactStore {
  readonly bucketName: string;
  readonly endpointUrl: string;
  readonly peer: NetworkPeer;
  readonly ready: ITerraformDependable[];
  readonly namespace: string;
  private readonly identities = new Map<string, Identity>();

  constructor(scope: Construct, id: string, props: SeaweedFsArtifactStoreProps) {
    super(scope, id);
    this.namespace = props.namespace;
    this.bucketName = props.bucketName ?? "modelport";
    validateDnsLabel("SeaweedFsArtifactStore namespace", this.namespace);
    validateDnsLabel("SeaweedFsArtifactStore bucketName", this.bucketName);
    this.endpointUrl = `http://${NAME}.${this.namespace}.svc.cluster.local:${S3_PORT}`;
    const selector = { "app.kubernetes.io/name": NAME };
    this.peer = { namespace: this.namespace, podLabels: selector, port: S3_PORT };
    const nsReady = props.namespaceReady ?? [];
    const labels = appLabels(NAME, "artifact-store");

    const config = new SecretV1(this, "Config", {
      metadata: { name: CONFIG_SECRET, namespace: this.namespace },
      // Keys are generated alphanumerics, so plain interpolation into JSON stays valid JSON.
      data: { "s3.json": Lazy.stringValue({ produce: () => this.s3Config() }) },
      dependsOn: nsReady,
    });
    const pvc = new PersistentVolumeClaimV1(this, "Data", {
      metadata: { name: "seaweedfs-data", namespace: this.namespace },
      waitUntilBound: false,
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: props.storageSize ?? "20Gi" } } },
      dependsOn: nsReady,
    });
    const server = new DeploymentV1(this, "Resource", {
      metadata: { name: NAME, namespace: this.namespace, labels },
      spec: {
        replicas: "1",
        // One writer of a ReadWriteOnce volume: replace, never overlap.
        strategy: { type: "Recreate" },
        selector: { matchLabels: selector },
        template: {
          // The server reads s3.json at start: a change of identities or actions rolls the pod.
          metadata: { labels, annotations: { "modelport.io/s3-identities": Lazy.stringValue({ produce: () => this.identitiesDigest() }) } },
          spec: hardenedPodSpec("service", {
            containers: [
              {
                name: NAME,
                image: IMAGES.seaweedfs,
                command: ["weed"],
                args: [
                  "server",
                  "-dir=/data",
                  "-ip.bind=0.0.0.0",
                  `-master.port=${MASTER_PORT}`,
                  // Filer writes and S3 uploads are encrypted separately (the S3 gateway has its own cipher flag).
                  "-filer.encryptVolumeData",
                  "-s3",
                  `-s3.port=${S3_PORT}`,
                  "-s3.encryptVolumeData",
                  "-s3.config=/etc/seaweedfs/s3.json",
                ],
                ports: [
                  { name: "s3", containerPort: S3_PORT },
                  { name: "master", containerPort: MASTER_PORT },
                  { name: "master-grpc", containerPort: MASTER_GRPC_PORT },
                ],
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                probes: {
                  liveness: { httpGet: { path: "/cluster/status", port: String(MASTER_PORT) }, periodSeconds: 20 },
                  readiness: { tcpSocket: [{ port: String(S3_PORT) }], periodSeconds: 10 },
                },
                scratch: [{ name: "tmp", mountPath: "/tmp", sizeLimit: "256Mi" }],
                mounts: [
                  { volume: { name: "data", persistentVolumeClaim: { claimName: pvc.metadata.name } }, mountPath: "/data" },
                  { volume: { name: "config", secret: { secretName: CONFIG_SECRET } }, mountPath: "/etc/seaweedfs" },
                ],
              },
            ],
          }),
        },
      },
      dependsOn: [...nsReady, config],
    });
    const service = new ServiceV1(this, "Service", {
      metadata: { name: NAME, namespace: this.namespace, labels },
      spec: {
        selector,
        port: [
          { name: "s3", port: S3_PORT, targetPort: String(S3_PORT) },
          { name: "master", port: MASTER_PORT, targetPort: String(MASTER_PORT) },
          { name: "master-grpc", port: MASTER_GRPC_PORT, targetPort: String(MASTER_GRPC_PORT), appProtocol: "grpc" },
        ],
      },
      dependsOn: nsReady,
    });
    const master = `${NAME}.${this.namespace}.svc.cluster.local:${MASTER_PORT}`;
    const bucketJob = new JobV1(this, "Bucket", {
      metadata: { name: "seaweedfs-create-bucket", namespace: this.namespace },
      waitForCompletion: true,
      spec: {
        backoffLimit: 10,
        ttlSecondsAfterFinished: "600",
        template: {
          metadata: { labels: appLabels("seaweedfs-create-bucket", "artifact-store-bootstrap") },
          spec: hardenedPodSpec("batch", {
            containers: [
              {
                name: "create-bucket",
                image: IMAGES.seaweedfs,
                // Idempotent: creating an existing bucket only prints an error inside `weed shell`. The shell dials the
                // master's gRPC port (master.port + 10000), which the Service exposes.
                command: ["sh", "-c", `echo "s3.bucket.create -name ${this.bucketName}" | weed shell -master=${master}`],
                env: [{ name: "HOME", value: "/tmp" }],
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
              },
            ],
          }),
        },
      },
      dependsOn: [server, service],
    });
    this.ready = [bucketJob];
  }

  grantRead(grantee: ArtifactGrantee, keys = "*"): ArtifactCredentials {
    return this.grant(grantee, keys, [this.action("Read", keys)]);
  }

  grantWrite(grantee: ArtifactGrantee, keys = "*"): ArtifactCredentials {
    return this.grant(grantee, keys, [this.action("Write", keys)]);
  }

  grantReadWrite(grantee: ArtifactGrantee, keys = "*"): ArtifactCredentials {
    // SeaweedFS authorizes multi-object deletes (what MLflow sends) and listings against the bucket, not a key.
    return this.grant(grantee, keys, [this.action("Read", keys), `Write:${this.bucketName}`, `List:${this.bucketName}`]);
  }

  /** `Action:bucket` for every key, `Action:bucket/prefix/*` (SeaweedFS wildcard) or `Action:bucket/key` otherwise. */
  private action(verb: "Read" | "Write", keys: string): string {
    return keys === "*" ? `${verb}:${this.bucketName}` : `${verb}:${this.bucketName}/${keys}`;
  }

  private grant(grantee: ArtifactGrantee, keys: string, actions: string[]): ArtifactCredentials {
    validateKeyPattern(`SeaweedFsArtifactStore ${this.bucketName}`, keys);
    validateDnsLabel("SeaweedFsArtifactStore grantee name", grantee.name, 40);
    const name = `${grantee.namespace}.${grantee.name}`;
    let identity = this.identities.get(name);
    if (!identity) identity = this.createIdentity(name, grantee);
    actions.forEach((a) => identity!.actions.add(a));
    return identity.credentials;
  }

  private createIdentity(name: string, grantee: ArtifactGrantee): Identity {
    const id = name.replace(/\./g, "-");
    const accessKey = new Password(this, `AccessKey-${id}`, { length: 20, special: false, upper: true, lower: false });
    const secretKey = new Password(this, `SecretKey-${id}`, { length: 40, special: false });
    const secretName = `artifact-store-${grantee.name}`;
    const secret = new SecretV1(this, `Credentials-${id}`, {
      metadata: { name: secretName, namespace: grantee.namespace },
      data: { AWS_ACCESS_KEY_ID: accessKey.result, AWS_SECRET_ACCESS_KEY: secretKey.result },
      dependsOn: [...(grantee.namespaceReady ?? [])],
    });
    const identity = { name, accessKey: accessKey.result, secretKey: secretKey.result, actions: new Set<string>(), credentials: { secretName, ready: [secret] } };
    this.identities.set(name, identity);
    return identity;
  }

  private s3Config(): string {
    return JSON.stringify({
      identities: [...this.identities.values()].map((i) => ({
        name: i.name,
        credentials: [{ accessKey: i.accessKey, secretKey: i.secretKey }],
        actions: [...i.actions].sort(),
      })),
    });
  }

  private identitiesDigest(): string {
    const grants = [...this.identities.values()].map((i) => [i.name, [...i.actions].sort()]);
    return createHash("sha256").update(JSON.stringify(grants)).digest("hex").slice(0, 16);
  }
}
