import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Construct } from "constructs";
import { ENV, TASKS, isTask, type Task } from "../service/src/contract";
import { IrsaConfig, IrsaRole } from "./irsa-role";
import { appLabels, ContainerResources, validateDnsLabel, validateResources } from "./kube";
import { caVolumeMount, PostgresCaMount } from "./postgres-server";
import { S3ArtifactBucket } from "./s3-artifact-bucket";
import { EnvVar, hardenedPodSpec } from "./workload";

/** The drift job's name as an artifact-store consumer (its SeaweedFS identity and credentials Secret suffix). */
export const DRIFT_GRANTEE = "drift";
/** Objects the drift job reads (reference datasets) and writes (reports) in the platform's bucket. */
export const DRIFT_READ_KEYS = "datasets/*";
export const DRIFT_REPORT_PREFIX = "drift-reports";
export const DRIFT_REPORT_KEYS = `${DRIFT_REPORT_PREFIX}/*`;

/** Where the job reads S3 from when the store is not AWS (SeaweedFS in dev). */
export interface S3CompatibleEndpoint {
  /** MLFLOW_S3_ENDPOINT_URL. */
  readonly url: string;
  /** Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
  readonly credentialsSecret: string;
}

export interface DriftMonitorProps {
  readonly model: string;
  readonly namespace: string;
  /** The service image: the drift job ships in it. */
  readonly image: string;
  /** Reference dataset URI (s3://..., or a path inside the image). */
  readonly referenceUri: string;
  /** Bucket for reports: written under s3://<bucket>/drift-reports. */
  readonly reportBucket: string;
  /** Secret with the prediction-log database URL, and the CA its sslrootcert names (when verified). */
  readonly predictionLog: { readonly secretName: string; readonly key: string; readonly ca?: PostgresCaMount };
  readonly pushgatewayUrl: string;
  /** Cron schedule (UTC). @default "17 * * * *" (hourly, off the top of the hour) */
  readonly schedule?: string;
  /** Window of predictions compared to the reference. @default "24h" */
  readonly window?: string;
  /** The model's task: which logged output and feedback columns are its prediction and target. @default "binary" */
  readonly task?: Task;
  /** Retries of a failed run. @default 2 */
  readonly backoffLimit?: number;
  /** A run is killed after this long. @default 1800 */
  readonly activeDeadlineSeconds?: number;
  /** @default 3 */
  readonly successfulJobsHistoryLimit?: number;
  /** @default 3 */
  readonly failedJobsHistoryLimit?: number;
  /** @default 250m/512Mi requests, 1 CPU/2Gi limits */
  readonly resources?: ContainerResources;
  /** AWS: region and IRSA for writing reports (and reading an s3:// reference). */
  readonly aws?: { readonly region: string; readonly irsa: IrsaConfig; readonly roleName: string };
  /** In-cluster S3 server (dev). */
  readonly s3Endpoint?: S3CompatibleEndpoint;
}

const CRON = /^(\S+\s+){4}\S+$/;
const WINDOW = /^\d+(m|h|d)$/;

/**
 * The drift job for one model as a CronJob running the service image: compares the last window of logged
 * predictions with the reference dataset, writes a report to S3 and pushes drift metrics to the Pushgateway.
 * Never overlaps (concurrencyPolicy Forbid), bounded by backoffLimit and activeDeadlineSeconds.
 */
export class DriftMonitor extends Construct {
  readonly cronJob: CronJobV1;
  readonly name: string;
  readonly role?: IrsaRole;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    validateDnsLabel("DriftMonitor model", props.model, 40);
    const schedule = props.schedule ?? "17 * * * *";
    if (!CRON.test(schedule.trim())) throw new Error(`DriftMonitor ${props.model}: schedule "${schedule}" must be a 5-field cron expression`);
    const window = props.window ?? "24h";
    if (!WINDOW.test(window)) throw new Error(`DriftMonitor ${props.model}: window "${window}" must look like "24h", "90m" or "7d"`);
    const task = props.task ?? "binary";
    if (!isTask(task)) throw new Error(`DriftMonitor ${props.model}: task "${task}" must be one of ${TASKS.join(", ")}`);
    if (!/^(s3:\/\/|\/|[a-zA-Z0-9_.-]+\/)/.test(props.referenceUri)) {
      throw new Error(`DriftMonitor ${props.model}: referenceUri "${props.referenceUri}" must be an s3:// URI or a path in the image`);
    }
    const backoffLimit = props.backoffLimit ?? 2;
    const deadline = props.activeDeadlineSeconds ?? 1800;
    for (const [field, value, min] of [
      ["backoffLimit", backoffLimit, 0],
      ["activeDeadlineSeconds", deadline, 60],
      ["successfulJobsHistoryLimit", props.successfulJobsHistoryLimit ?? 3, 0],
      ["failedJobsHistoryLimit", props.failedJobsHistoryLimit ?? 3, 0],
    ] as const) {
      if (!Number.isInteger(value) || value < min) throw new Error(`DriftMonitor ${props.model}: ${field} must be an integer >= ${min}, got ${value}`);
    }
    const resources = props.resources ?? { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "2Gi" } };
    validateResources(`DriftMonitor ${props.model} resources`, resources);
    if (!props.aws && !props.s3Endpoint) {
      throw new Error(`DriftMonitor ${props.model}: give \`aws\` (S3 through IRSA) or \`s3Endpoint\` (an S3-compatible server) for the reports`);
    }

    this.name = `${props.model}-drift`;
    const labels = appLabels(props.model, "drift");
    if (props.aws) {
      this.role = new IrsaRole(this, "Role", { irsa: props.aws.irsa, roleName: props.aws.roleName, namespace: props.namespace, serviceAccount: this.name });
      const grantee = { name: DRIFT_GRANTEE, namespace: props.namespace, role: this.role };
      S3ArtifactBucket.fromBucketName(props.reportBucket).grantWrite(grantee, DRIFT_REPORT_KEYS);
      const ref = /^s3:\/\/([^/]+)\/(.+)$/.exec(props.referenceUri);
      if (ref) S3ArtifactBucket.fromBucketName(ref[1]).grantRead(grantee, ref[2]);
    }
    new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: this.name, namespace: props.namespace, labels, annotations: this.role?.annotations ?? {} },
      automountServiceAccountToken: false,
    });

    const env: EnvVar[] = [
      { name: ENV.predictionLogUrl, valueFrom: { secretKeyRef: { name: props.predictionLog.secretName, key: props.predictionLog.key } } },
      { name: ENV.pushgatewayUrl, value: props.pushgatewayUrl },
      { name: "HOME", value: "/tmp" },
    ];
    if (props.aws) env.push({ name: ENV.awsRegion, value: props.aws.region });
    if (props.s3Endpoint) {
      env.push(
        { name: ENV.mlflowS3EndpointUrl, value: props.s3Endpoint.url },
        ...["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({
          name: key,
          valueFrom: { secretKeyRef: { name: props.s3Endpoint!.credentialsSecret, key } },
        })),
      );
    }

    this.cronJob = new CronJobV1(this, "Resource", {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        schedule,
        timezone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: props.successfulJobsHistoryLimit ?? 3,
        failedJobsHistoryLimit: props.failedJobsHistoryLimit ?? 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit,
            activeDeadlineSeconds: deadline,
            ttlSecondsAfterFinished: "86400",
            template: {
              metadata: {
                labels,
                // A batch pod with a sidecar never completes; the job talks to Postgres/S3/Pushgateway directly.
                annotations: { "sidecar.istio.io/inject": "false" },
              },
              spec: hardenedPodSpec("batch", {
                restartPolicy: "Never",
                serviceAccountName: this.name,
                automountServiceAccountToken: !!this.role,
                containers: [
                  {
                    name: "drift",
                    image: props.image,
                    workingDir: "/app",
                    command: [
                      "node", "dist/service/src/drift/cli.js",
                      "--model", props.model,
                      "--window", window,
                      "--task", task,
                      "--reference", props.referenceUri,
                      // The job itself files reports under drift-reports/<model>/<date>/ of the bucket it is given.
                      "--out", `s3://${props.reportBucket}`,
                    ],
                    env,
                    resources,
                    scratch: [{ name: "tmp", mountPath: "/tmp", sizeLimit: "1Gi" }],
                    mounts: props.predictionLog.ca ? [caVolumeMount(props.predictionLog.ca)] : [],
                  },
                ],
              }),
            },
          },
        },
      },
    });
  }
}
