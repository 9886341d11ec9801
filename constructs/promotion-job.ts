import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Construct } from "constructs";
import type { Task } from "../service/src/contract";
import { DEFAULT_THRESHOLDS, GATE_NAMES, type GateName, type GateThresholds } from "../service/src/promotion/gates";
import {
  appLabels,
  ContainerResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  validateDnsLabel,
  validateResources,
} from "./kube";
import { DNS_PEERS, NetworkPeer, networkPolicyRule } from "./network-peer";

export interface PromotionJobProps {
  readonly model: string;
  readonly namespace: string;
  /** The service image: `npm run promote` ships in it. */
  readonly image: string;
  /** MLflow tracking URI (the job moves the `champion` alias there). */
  readonly trackingUri: string;
  /** Prometheus that scrapes the model's variants (see PromotionJob.kubePrometheusStackUrl). */
  readonly prometheusUrl: string;
  /** The registry's pods, for the egress NetworkPolicy. */
  readonly registryPeer: NetworkPeer;
  /** Namespace of Prometheus, for the egress NetworkPolicy. */
  readonly prometheusNamespace: string;
  /** Cron schedule (UTC). @default "*\/15 * * * *" */
  readonly schedule?: string;
  /** Comparison window (a Prometheus duration). @default "30m" */
  readonly window?: string;
  /** Window for labelled feedback. @default the window */
  readonly labelWindow?: string;
  /** Gate thresholds that differ from the defaults (service/src/promotion/gates.ts). @default the defaults */
  readonly thresholds?: Partial<GateThresholds>;
  /** Gates not evaluated, e.g. ["quality", "cost"] for a model that never gets labels. @default none */
  readonly skip?: readonly GateName[];
  /** The model's task, used when the service's model_info and the registry do not name it. @default "binary" */
  readonly task?: Task;
  /** Evaluate and log only: never move the alias. @default false */
  readonly dryRun?: boolean;
  /** @default 50m/128Mi requests, 500m/256Mi limits */
  readonly resources?: ContainerResources;
  /** A run is killed after this long. @default 600 */
  readonly activeDeadlineSeconds?: number;
}

const CRON = /^(\S+\s+){4}\S+$/;
const DURATION = /^\d+[smhdw]$/;
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Metric-gated promotion of one model on a schedule: a CronJob running `npm run promote` from the service image.
 * A passing canary becomes champion (the stable pods hot-reload it); a failing one is left alone and fails the
 * Job (exit 1, visible as a failed Job); too little traffic is a successful no-op run (--inconclusive-ok). Runs
 * never overlap, are not retried (the next schedule is the retry), and reach only Prometheus, MLflow and DNS.
 */
export class PromotionJob extends Construct {
  /** kube-prometheus-stack's Prometheus Service: <release>-prometheus.<namespace>:9090. */
  static kubePrometheusStackUrl(release: string, namespace: string): string {
    return `http://${release}-prometheus.${namespace}.svc:9090`;
  }

  readonly cronJob: CronJobV1;
  readonly name: string;

  constructor(scope: Construct, id: string, props: PromotionJobProps) {
    super(scope, id);
    validateDnsLabel("PromotionJob model", props.model, 40);
    const schedule = props.schedule ?? "*/15 * * * *";
    if (!CRON.test(schedule.trim())) throw new Error(`PromotionJob ${props.model}: schedule "${schedule}" must be a 5-field cron expression`);
    const window = props.window ?? "30m";
    for (const [field, value] of [["window", window], ["labelWindow", props.labelWindow]] as const) {
      if (value !== undefined && !DURATION.test(value)) throw new Error(`PromotionJob ${props.model}: ${field} "${value}" must be a Prometheus duration like "30m" or "2h"`);
    }
    for (const [key, value] of Object.entries(props.thresholds ?? {})) {
      if (!(key in DEFAULT_THRESHOLDS)) throw new Error(`PromotionJob ${props.model}: unknown threshold "${key}" (known: ${Object.keys(DEFAULT_THRESHOLDS).join(", ")})`);
      if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) throw new Error(`PromotionJob ${props.model}: threshold ${key} must be a number >= 0, got ${value}`);
    }
    for (const gate of props.skip ?? []) {
      if (!GATE_NAMES.includes(gate)) throw new Error(`PromotionJob ${props.model}: cannot skip unknown gate "${gate}" (gates: ${GATE_NAMES.join(", ")})`);
    }
    const deadline = props.activeDeadlineSeconds ?? 600;
    if (!Number.isInteger(deadline) || deadline < 60) throw new Error(`PromotionJob ${props.model}: activeDeadlineSeconds must be an integer >= 60, got ${deadline}`);
    const resources = props.resources ?? { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } };
    validateResources(`PromotionJob ${props.model} resources`, resources);

    this.name = `${props.model}-promotion`;
    const labels = appLabels(props.model, "promotion");
    new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: this.name, namespace: props.namespace, labels },
      automountServiceAccountToken: false,
    });
    new NetworkPolicyV1(this, "NetworkPolicy", {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress", "Egress"],
        egress: [
          networkPolicyRule({ namespace: props.prometheusNamespace, port: portOf(props.prometheusUrl) }, "to"),
          networkPolicyRule(props.registryPeer, "to"),
          ...DNS_PEERS.map((p) => networkPolicyRule(p, "to")),
        ],
      },
    });

    const command = [
      "node", "dist/service/src/promotion/cli.js", "promote",
      "--model", props.model,
      "--prometheus", props.prometheusUrl,
      "--tracking-uri", props.trackingUri,
      "--window", window,
      ...(props.labelWindow ? ["--label-window", props.labelWindow] : []),
      ...(props.task ? ["--task", props.task] : []),
      ...Object.entries(props.thresholds ?? {}).flatMap(([key, value]) => [`--${kebab(key)}`, String(value)]),
      ...(props.skip ?? []).flatMap((gate) => ["--skip", gate]),
      ...(props.dryRun ? ["--dry-run"] : []),
      // Waiting for traffic is a normal run; a failing gate still fails the Job.
      "--inconclusive-ok",
    ];
    this.cronJob = new CronJobV1(this, "Resource", {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        schedule,
        timezone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: deadline,
            ttlSecondsAfterFinished: "86400",
            template: {
              metadata: { labels, annotations: { "sidecar.istio.io/inject": "false" } },
              spec: {
                restartPolicy: "Never",
                serviceAccountName: this.name,
                automountServiceAccountToken: false,
                securityContext: restrictedPodSecurityContext(),
                container: [
                  {
                    name: "promote",
                    image: props.image,
                    workingDir: "/app",
                    command,
                    env: [{ name: "HOME", value: "/tmp" }],
                    resources,
                    securityContext: restrictedContainerSecurityContext(),
                    volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
                  },
                ],
                volume: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
              },
            },
          },
        },
      },
    });
  }
}

function portOf(url: string): number {
  const parsed = new URL(url);
  return parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
}
