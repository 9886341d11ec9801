/**
 * What an artifact store (S3ArtifactBucket on AWS, SeaweedFsArtifactStore in a cluster) offers: grants per consumer
 * with only the actions it needs, in the aws-cdk-lib manner. On AWS a grant adds statements to the consumer's IRSA
 * role; on SeaweedFS it adds actions to the consumer's own S3 identity and returns the Secret with its keys.
 */
import { ITerraformDependable } from "cdktf";
import type { IrsaRole } from "./irsa-role";
import type { NetworkPeer } from "./network-peer";

/** A workload that reads or writes objects. */
export interface ArtifactGrantee {
  /** Consumer name, unique in its namespace (DNS label): names its SeaweedFS identity and credentials Secret. */
  readonly name: string;
  readonly namespace: string;
  /** Its IRSA role, on AWS: S3 grants become statements of the role's policy. */
  readonly role?: IrsaRole;
  /** Resources that create the namespace (a credentials Secret placed there waits for them). @default none */
  readonly namespaceReady?: readonly ITerraformDependable[];
}

/** A Secret in the grantee's namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (S3-compatible servers). */
export interface ArtifactCredentials {
  readonly secretName: string;
  /** The Secret itself, for workloads in the same stack to wait for. */
  readonly ready: ITerraformDependable[];
}

export interface ArtifactStore {
  readonly bucketName: string;
  /** S3 endpoint of an in-cluster server (MLFLOW_S3_ENDPOINT_URL); undefined on AWS. */
  readonly endpointUrl?: string;
  /** What a client's NetworkPolicy egress must allow (in-cluster servers). */
  readonly peer?: NetworkPeer;
  /** What must exist before a client uses the bucket. */
  readonly ready: ITerraformDependable[];
  /** Read (get) objects whose keys match `keys` ("datasets/*", an exact key, or "*"). */
  grantRead(grantee: ArtifactGrantee, keys?: string): ArtifactCredentials | undefined;
  /** Write (put) objects whose keys match `keys`. */
  grantWrite(grantee: ArtifactGrantee, keys?: string): ArtifactCredentials | undefined;
  /** Read, write, delete and list objects whose keys match `keys` (what MLflow's artifact store needs). */
  grantReadWrite(grantee: ArtifactGrantee, keys?: string): ArtifactCredentials | undefined;
}

/** Throws unless `keys` is "*", a prefix ending in "/*" or an exact key. */
export function validateKeyPattern(what: string, keys: string): void {
  if (keys !== "*" && (keys.startsWith("/") || keys.includes("*", 0) && !/^[^*]+\/\*$/.test(keys))) {
    throw new Error(`${what}: key pattern "${keys}" must be "*", a prefix like "reports/*" or an exact key`);
  }
}
