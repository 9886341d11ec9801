import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Construct } from "constructs";
import { ENV, SHARD_PLACEHOLDER } from "../service/src/contract";
import { S3CompatibleEndpoint } from "./drift-monitor";
import { IrsaConfig, IrsaRole, PolicyStatement } from "./irsa-role";
import {
  appLabels,
  ContainerResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  validateDnsLabel,
  validateResources,
} from "./kube";
import { DNS_PEERS, NetworkPeer, networkPolicyRule } from "./network-peer";

export interface BatchScoringJobProps {
  /** Kubernetes name of the job's objects (the registered model's name, usually). */
  readonly name: string;
  readonly namespace: string;
  /** The service image: the scorer ships in it. */
  readonly image: string;
  /** What to score with: models:/<name>@<alias>, models:/<name>/<version> (pinned), or a path in the image. */
  readonly modelUri: string;
  /** MLFLOW_TRACKING_URI, for models:/ URIs. */
  readonly trackingUri?: string;
  /** A file or an s3://bucket/prefix/ of CSV, NDJSON or Parquet tables. */
  readonly input: string;
  /** s3://bucket/key.parquet|csv; with several shards it must hold `{shard}`, replaced by each pod's index. */
  readonly output: string;
  /** @default the output's name with `.rejects` before the extension */
  readonly rejects?: string;
  /** Input columns carried to the output. @default all */
  readonly columns?: readonly string[];
  /** Completions of the Indexed Job: Parquet row groups and text files are dealt across them. @default 1 */
  readonly shards?: number;
  /** Pods running at once. @default shards */
  readonly parallelism?: number;
  /** Scoring threads per pod. @default the CPU limit, rounded down (at least 1) */
  readonly workers?: number;
  /** @default 2 CPU / 2Gi requests, 4 CPU / 4Gi limits */
  readonly resources?: ContainerResources;
  /** Cron schedule (UTC): a CronJob instead of a one-off Job. @default none (run once on apply) */
  readonly schedule?: string;
  /** Retries of a failed shard (exit 1: an outage); bad input (exit 2) fails the whole job at once. @default 2 */
  readonly backoffLimitPerIndex?: number;
  /** @default 21600 (6 h) */
  readonly activeDeadlineSeconds?: number;
  /** AWS: region and IRSA for reading the input and writing the outputs. */
  readonly aws?: { readonly region: string; readonly irsa: IrsaConfig; readonly roleName: string };
  /** In-cluster S3 server (dev). */
  readonly s3Endpoint?: S3CompatibleEndpoint;
  /** Egress the pods are allowed besides DNS (the registry, the object store); ingress is denied. @default no NetworkPolicy */
  readonly egress?: readonly NetworkPeer[];
}

/** The batch scorer as an in-cluster artifact-store consumer (its SeaweedFS identity and credentials Secret suffix). */
export const BATCH_SCORING_GRANTEE = "batch-scoring";
/** Where a batch scoring job reads and writes in the platform's bucket on an in-cluster store (its identity's grants). */
export const BATCH_SCORING_INPUT_PREFIX = "batch-scoring/input/";
export const BATCH_SCORING_OUTPUT_PREFIX = "batch-scoring/output/";

const CRON = /^(\S+\s+){4}\S+$/;
const S3_URI = /^s3:\/\/([^/]+)\/(.*)$/;
const CONTAINER = "score";

/** Whole CPUs of a Kubernetes quantity ("4", "3500m" -> 3), at least 1. */
function wholeCpus(quantity: string): number {
  const milli = quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
  return Math.max(1, Math.floor(milli / 1000));
}

/**
 * Batch scoring of files as a Kubernetes Indexed Job (or a CronJob running one): `shards` pods, each running
 * `npm run score` with its JOB_COMPLETION_INDEX, so each scores its share of the input's row groups and files
 * and writes its own output. A pod that fails on an outage is retried per index; one that exits 2 (a bad input
 * or model) fails the job at once. The pods run the project's restricted pod spec (non-root, read-only root
 * filesystem, no capabilities, RuntimeDefault seccomp; `infra`'s hardened-workload helper replaces these
 * literals when it lands), no service-account token unless IRSA needs one, and, with `egress`, a NetworkPolicy
 * that allows only DNS and the given peers.
 */
export class BatchScoringJob extends Construct {
  readonly name: string;
  readonly job?: JobV1;
  readonly cronJob?: CronJobV1;
  readonly role?: IrsaRole;

  constructor(scope: Construct, id: string, props: BatchScoringJobProps) {
    super(scope, id);
    validateDnsLabel("BatchScoringJob name", props.name, 40);
    validateDnsLabel("BatchScoringJob namespace", props.namespace);
    const shards = props.shards ?? 1;
    const parallelism = props.parallelism ?? shards;
    const retries = props.backoffLimitPerIndex ?? 2;
    const deadline = props.activeDeadlineSeconds ?? 21_600;
    for (const [field, value, min] of [
      ["shards", shards, 1],
      ["parallelism", parallelism, 1],
      ["backoffLimitPerIndex", retries, 0],
      ["activeDeadlineSeconds", deadline, 60],
      ["workers", props.workers ?? 1, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) throw new Error(`BatchScoringJob ${props.name}: ${field} must be an integer >= ${min}, got ${value}`);
    }
    if (parallelism > shards) throw new Error(`BatchScoringJob ${props.name}: parallelism ${parallelism} exceeds shards ${shards}; pods beyond the shards would idle`);
    for (const [field, uri] of [["output", props.output], ["rejects", props.rejects]] as const) {
      if (uri === undefined) continue;
      if (!/\.(parquet|pq|csv)$/i.test(uri)) throw new Error(`BatchScoringJob ${props.name}: ${field} "${uri}" must name a .parquet or .csv file`);
      if (shards > 1 && !uri.includes(SHARD_PLACEHOLDER)) {
        throw new Error(`BatchScoringJob ${props.name}: ${field} "${uri}" must hold ${SHARD_PLACEHOLDER} with ${shards} shards, or every shard writes the same file`);
      }
    }
    if (props.modelUri.startsWith("models:/") && !props.trackingUri) throw new Error(`BatchScoringJob ${props.name}: modelUri ${props.modelUri} is a registry URI: give trackingUri`);
    if (props.schedule !== undefined && !CRON.test(props.schedule.trim())) throw new Error(`BatchScoringJob ${props.name}: schedule "${props.schedule}" must be a 5-field cron expression`);
    const resources = props.resources ?? { requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "4", memory: "4Gi" } };
    validateResources(`BatchScoringJob ${props.name} resources`, resources);
    const s3Uris = [props.input, props.output, ...(props.rejects ? [props.rejects] : [])].filter((u) => u.startsWith("s3://"));
    if (s3Uris.length > 0 && !props.aws && !props.s3Endpoint) {
      throw new Error(`BatchScoringJob ${props.name}: ${s3Uris[0]} is on S3: give \`aws\` (IRSA) or \`s3Endpoint\` (an S3-compatible server)`);
    }

    this.name = `${props.name}-score`;
    const labels = appLabels(props.name, "batch-scoring");
    if (props.aws) {
      this.role = new IrsaRole(this, "Role", {
        irsa: props.aws.irsa,
        roleName: props.aws.roleName,
        namespace: props.namespace,
        serviceAccount: this.name,
        statements: s3Statements(props.input, [props.output, props.rejects ?? props.output.replace(/(\.[^./]+)$/, ".rejects$1")]),
      });
    }
    new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: this.name, namespace: props.namespace, labels, annotations: this.role?.annotations ?? {} },
      automountServiceAccountToken: false,
    });

    const env: { name: string; value?: string; valueFrom?: object }[] = [
      { name: ENV.modelCacheDir, value: "/tmp/models" },
      { name: ENV.logLevel, value: "info" },
      { name: "HOME", value: "/tmp" },
    ];
    if (props.trackingUri) env.push({ name: ENV.mlflowTrackingUri, value: props.trackingUri });
    if (props.aws) env.push({ name: ENV.awsRegion, value: props.aws.region });
    if (props.s3Endpoint) {
      env.push(
        { name: ENV.mlflowS3EndpointUrl, value: props.s3Endpoint.url },
        ...["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: props.s3Endpoint!.credentialsSecret, key } } })),
      );
    }
    const command = [
      "node", "dist/service/src/scoring/cli.js",
      "--model", props.modelUri,
      "--input", props.input,
      "--output", props.output,
      ...(props.rejects ? ["--rejects", props.rejects] : []),
      ...(props.columns?.length ? ["--columns", props.columns.join(",")] : []),
      // The shard index is JOB_COMPLETION_INDEX, which Kubernetes sets in every pod of an Indexed Job.
      "--shard-count", String(shards),
      "--workers", String(props.workers ?? wholeCpus(resources.limits.cpu)),
    ];
    const jobSpec = {
      completionMode: "Indexed",
      completions: shards,
      parallelism,
      // Retries are per index: one shard's outage does not re-run the others.
      backoffLimitPerIndex: retries,
      activeDeadlineSeconds: deadline,
      ttlSecondsAfterFinished: "86400",
      // A bad input or model (exit 2) is the same on every retry: fail the job instead of retrying it.
      podFailurePolicy: { rule: [{ action: "FailJob", onExitCodes: { containerName: CONTAINER, operator: "In", values: [2] } }] },
      template: {
        metadata: { labels, annotations: { "sidecar.istio.io/inject": "false" } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: this.name,
          automountServiceAccountToken: !!this.role,
          securityContext: restrictedPodSecurityContext(),
          container: [
            {
              name: CONTAINER,
              image: props.image,
              workingDir: "/app",
              command,
              env,
              resources,
              securityContext: restrictedContainerSecurityContext(),
              volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volume: [{ name: "tmp", emptyDir: { sizeLimit: "4Gi" } }],
        },
      },
    };
    if (props.schedule) {
      this.cronJob = new CronJobV1(this, "Resource", {
        metadata: { name: this.name, namespace: props.namespace, labels },
        spec: {
          schedule: props.schedule,
          timezone: "Etc/UTC",
          concurrencyPolicy: "Forbid",
          startingDeadlineSeconds: 600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: { metadata: { labels }, spec: jobSpec },
        },
      });
    } else {
      this.job = new JobV1(this, "Resource", { metadata: { name: this.name, namespace: props.namespace, labels }, spec: jobSpec, waitForCompletion: false });
    }
    if (props.egress) {
      new NetworkPolicyV1(this, "NetworkPolicy", {
        metadata: { name: this.name, namespace: props.namespace },
        spec: {
          podSelector: { matchLabels: { "app.kubernetes.io/name": props.name, "app.kubernetes.io/component": "batch-scoring" } },
          policyTypes: ["Ingress", "Egress"],
          ingress: [],
          egress: [...props.egress, ...DNS_PEERS].map((p) => networkPolicyRule(p, "to")),
        },
      });
    }
  }
}

/** Least privilege on S3: read the input (and list it when it is a prefix), write and abort uploads of the outputs. */
function s3Statements(input: string, outputs: readonly string[]): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  const source = S3_URI.exec(input);
  if (source) {
    const [, bucket, key] = source;
    statements.push({ actions: ["s3:GetObject"], resources: [`arn:aws:s3:::${bucket}/${key}${key!.endsWith("/") || key === "" ? "*" : ""}`] });
    if (key!.endsWith("/") || key === "") statements.push({ actions: ["s3:ListBucket"], resources: [`arn:aws:s3:::${bucket}`] });
  }
  const written = outputs
    .map((uri) => S3_URI.exec(uri))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, bucket, key]) => `arn:aws:s3:::${bucket}/${key!.split(SHARD_PLACEHOLDER).join("*")}`);
  if (written.length > 0) statements.push({ actions: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], resources: [...new Set(written)] });
  return statements;
}

/** The in-cluster Service an http(s) URL names (`http://seaweedfs.mlflow.svc.cluster.local:8333`), as a network peer. */
export function serviceUrlPeer(url: string): NetworkPeer {
  const parsed = new URL(url);
  const [, namespace] = parsed.hostname.split(".");
  if (!namespace) throw new Error(`${url}: expected a cluster Service URL (<service>.<namespace>.svc...)`);
  return { namespace, port: Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80)) };
}
