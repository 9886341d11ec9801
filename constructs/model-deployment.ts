import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { AlertOptions, ModelMonitoringOptions, modelRuleGroups, prometheusRule } from "../alerts";
import { modelDashboards } from "../dashboards";
import { Task, Variant, VARIANT_ALIASES } from "../service/src/contract";
import { BATCH_SCORING_INPUT_PREFIX, BATCH_SCORING_OUTPUT_PREFIX, BatchScoringJob, BatchScoringJobProps, serviceUrlPeer } from "./batch-scoring-job";
import { CanaryRelease, RetryPolicy } from "./canary-release";
import { DriftMonitor, S3CompatibleEndpoint } from "./drift-monitor";
import { InferenceService, InferenceServiceReplicas } from "./inference-service";
import { IrsaConfig } from "./irsa-role";
import { ContainerResources, validateDnsLabel } from "./kube";
import { REGISTRY_SECRETS } from "./model-registry";
import { NetworkPeer } from "./network-peer";
import type { PostgresCaMount } from "./postgres-server";
import { dashboardConfigMap } from "./observability";
import { PromotionJob, PromotionJobProps } from "./promotion-job";

/** What a model needs from the platform, derived from the environment configuration (see stacks/). */
export interface PlatformEndpoints {
  /** Namespace models run in (mesh-enabled, STRICT mTLS). */
  readonly namespace: string;
  /** MLflow tracking URI. */
  readonly trackingUri: string;
  readonly pushgatewayUrl: string;
  /** kube-prometheus-stack release (label `release` on ServiceMonitors and PrometheusRules). */
  readonly prometheusRelease: string;
  readonly monitoringNamespace: string;
  /** istiod's namespace. */
  readonly meshNamespace: string;
  readonly ingressNamespace: string;
  /** `<namespace>/<name>` of the Istio Gateway. */
  readonly gateway: string;
  readonly registryPeer: NetworkPeer;
  readonly databasePeer: NetworkPeer;
  /** Bucket for drift reports. */
  readonly reportBucket: string;
  /** Secret (in `namespace`) with the prediction-log database URL, and the CA ConfigMap its sslrootcert names. */
  readonly predictionLog: { readonly secretName: string; readonly key: string; readonly ca?: PostgresCaMount };
  /** In-cluster S3 server, when not on AWS. */
  readonly s3Endpoint?: S3CompatibleEndpoint;
  /** AWS region and IRSA, on EKS. */
  readonly aws?: { readonly region: string; readonly irsa: IrsaConfig };
}

/** Sizing and registry alias of one variant. */
export interface VariantSpec {
  /** MLflow alias this variant serves. */
  readonly alias?: string;
  /** @default InferenceService default ({ min: 2, max: 6 }) */
  readonly replicas?: InferenceServiceReplicas;
  /** @default InferenceService default */
  readonly resources?: ContainerResources;
  /** GPUs per pod: the variant runs the GPU image on the GPU node pool, on CUDA. @default 0 */
  readonly gpus?: number;
  /** Image override (e.g. a canary built from another commit). @default the deployment's image (its GPU image when gpus > 0) */
  readonly image?: string;
  /** Prediction-log spill volume (emptyDir size; the log's cap is set a headroom below it). @default InferenceService default ("1Gi") */
  readonly spillVolumeSize?: string;
}

export interface ModelDeploymentProps {
  /** Registered model name in MLflow; also the Kubernetes name of its objects. */
  readonly model: string;
  /** Service image. */
  readonly image: string;
  /**
   * The GPU build of the same service (service/Dockerfile.gpu), for variants with gpus > 0.
   * @default `image` with "-gpu" appended to its tag (image must then be pinned by tag, not digest)
   */
  readonly gpuImage?: string;
  readonly platform: PlatformEndpoints;
  /** External hosts, e.g. ["flight-delay.models.example.com"]. */
  readonly hosts: readonly string[];
  /** Prefix of cloud resource names (the environment). */
  readonly namePrefix: string;
  /** @default alias "champion", InferenceService defaults */
  readonly stable?: VariantSpec;
  /** A canary serving another alias and taking `weight` percent of traffic. @default none */
  readonly canary?: VariantSpec & { readonly weight: number };
  /** A shadow receiving a mirrored `mirrorPercent` of traffic (its answers are discarded). @default none */
  readonly shadow?: VariantSpec & { readonly mirrorPercent: number };
  readonly drift: { readonly referenceUri: string; readonly schedule?: string; readonly window?: string };
  /** @default CanaryRelease defaults */
  readonly retries?: RetryPolicy;
  /** @default "10s" */
  readonly timeout?: string;
  /** What the model's outputs are: its quality alerts, dashboards and drift columns follow it. @default "binary" */
  readonly task?: Task;
  /** Thresholds and runbook base for this model's alerts and the dashboards that show them. @default monitoring defaults */
  readonly alertOptions?: AlertOptions;
  /**
   * Metric-gated promotion of the canary on a schedule (a PromotionJob); needs `canary`.
   * @default none (promote by hand with `npm run promote`)
   */
  readonly promotion?: ModelPromotion;
  /**
   * Batch scoring of files with this model (a BatchScoringJob with the platform's registry, S3 access and egress).
   * `modelUri` defaults to the stable variant's alias. @default none
   */
  readonly batchScoring?: Omit<BatchScoringJobProps, "name" | "namespace" | "image" | "trackingUri" | "aws" | "s3Endpoint" | "egress" | "modelUri"> & {
    readonly modelUri?: string;
  };
}

/** PromotionJob settings a deployment does not derive from the platform. */
export type ModelPromotion = Omit<PromotionJobProps, "model" | "namespace" | "image" | "trackingUri" | "prometheusUrl" | "registryPeer" | "prometheusNamespace" | "task"> & {
  /** @default the platform's kube-prometheus-stack Prometheus */
  readonly prometheusUrl?: string;
};

/** The registry alias each variant serves by default, shared with `npm run promote` (the contract). */
const DEFAULT_ALIASES: Readonly<Record<Variant, string>> = VARIANT_ALIASES;

/**
 * Everything one model needs, in one call: a stable InferenceService and optional canary and shadow ones
 * (different registry aliases), the CanaryRelease routing between them, the DriftMonitor CronJob, and the
 * model's dashboards and alert rules. Adding a model to the platform is one of these.
 */
export class ModelDeployment extends Construct {
  readonly variants: Partial<Record<Variant, InferenceService>> = {};
  readonly release: CanaryRelease;
  readonly drift: DriftMonitor;
  readonly rules: Manifest;
  readonly promotion?: PromotionJob;
  readonly batchScoring?: BatchScoringJob;

  constructor(scope: Construct, id: string, props: ModelDeploymentProps) {
    super(scope, id);
    validateDnsLabel("ModelDeployment model", props.model, 40);
    const p = props.platform;
    const specs: [Variant, VariantSpec | undefined][] = [
      ["stable", props.stable ?? {}],
      ["canary", props.canary],
      ["shadow", props.shadow],
    ];
    const aliases = new Map<string, Variant>();
    for (const [variant, spec] of specs) {
      if (!spec) continue;
      const alias = spec.alias ?? DEFAULT_ALIASES[variant];
      const clash = aliases.get(alias);
      if (clash) {
        throw new Error(`ModelDeployment ${props.model}: ${variant} and ${clash} both serve alias "${alias}"; give each variant its own registry alias`);
      }
      aliases.set(alias, variant);
      this.variants[variant] = new InferenceService(this, variantId(variant), {
        model: props.model,
        variant,
        namespace: p.namespace,
        image: spec.image ?? ((spec.gpus ?? 0) > 0 ? gpuImageOf(props) : props.image),
        registryAlias: alias,
        trackingUri: p.trackingUri,
        predictionLog: p.predictionLog,
        prometheusRelease: p.prometheusRelease,
        replicas: spec.replicas,
        resources: spec.resources,
        gpus: spec.gpus,
        spillVolumeSize: spec.spillVolumeSize,
        network: {
          ingressNamespace: p.ingressNamespace,
          monitoringNamespace: p.monitoringNamespace,
          meshNamespace: p.meshNamespace,
          registry: p.registryPeer,
          database: p.databasePeer,
        },
        // No IRSA role: models come through MLflow's artifact proxy, so a variant calls no AWS API.
      });
    }

    const canaryWeight = props.canary?.weight ?? 0;
    this.release = new CanaryRelease(this, "Release", {
      model: props.model,
      namespace: p.namespace,
      hosts: props.hosts,
      gateway: p.gateway,
      weights: { stable: 100 - canaryWeight, canary: canaryWeight },
      hasCanary: !!props.canary,
      shadowPercent: props.shadow?.mirrorPercent,
      retries: props.retries,
      timeout: props.timeout,
    });

    this.drift = new DriftMonitor(this, "Drift", {
      model: props.model,
      namespace: p.namespace,
      image: props.image,
      referenceUri: props.drift.referenceUri,
      schedule: props.drift.schedule,
      window: props.drift.window,
      task: props.task,
      reportBucket: p.reportBucket,
      predictionLog: p.predictionLog,
      pushgatewayUrl: p.pushgatewayUrl,
      s3Endpoint: p.s3Endpoint,
      aws: p.aws ? { ...p.aws, roleName: `${props.namePrefix}-${props.model}-drift` } : undefined,
    });

    if (props.batchScoring) {
      if (p.s3Endpoint) checkInClusterScoringUris(props.model, p.reportBucket, props.batchScoring);
      const stableAlias = props.stable?.alias ?? DEFAULT_ALIASES.stable;
      this.batchScoring = new BatchScoringJob(this, "BatchScoring", {
        ...props.batchScoring,
        name: props.model,
        namespace: p.namespace,
        image: props.image,
        modelUri: props.batchScoring.modelUri ?? `models:/${props.model}@${stableAlias}`,
        trackingUri: p.trackingUri,
        aws: p.aws ? { ...p.aws, roleName: `${props.namePrefix}-${props.model}-score` } : undefined,
        // Its own identity on an in-cluster store: read the input prefix, write the output prefix, nothing else.
        s3Endpoint: p.s3Endpoint ? { url: p.s3Endpoint.url, credentialsSecret: REGISTRY_SECRETS.batchScoringArtifactCredentials } : undefined,
        egress: [p.registryPeer, p.s3Endpoint ? serviceUrlPeer(p.s3Endpoint.url) : { cidr: "0.0.0.0/0", port: 443 }],
      });
    }

    // One options object for the rules and the dashboards, so a panel's threshold and runbook link are its rule's.
    const monitoring: ModelMonitoringOptions = { ...props.alertOptions, task: props.task };
    for (const dashboard of modelDashboards(props.model, monitoring)) {
      dashboardConfigMap(this, `Dashboard-${dashboard.uid}`, p.monitoringNamespace, dashboard);
    }
    this.rules = new Manifest(this, "Rules", {
      manifest: prometheusRule(
        { name: `${props.model}-rules`, namespace: p.namespace, labels: { release: p.prometheusRelease, "app.kubernetes.io/name": props.model } },
        modelRuleGroups(props.model, monitoring),
      ),
    });

    if (props.promotion) {
      if (!props.canary) throw new Error(`ModelDeployment ${props.model}: promotion needs a canary to promote; add \`canary\` or drop \`promotion\``);
      this.promotion = new PromotionJob(this, "Promotion", {
        ...props.promotion,
        model: props.model,
        namespace: p.namespace,
        image: props.image,
        trackingUri: p.trackingUri,
        task: props.task,
        prometheusUrl: props.promotion.prometheusUrl ?? PromotionJob.kubePrometheusStackUrl(p.prometheusRelease, p.monitoringNamespace),
        prometheusNamespace: p.monitoringNamespace,
        registryPeer: p.registryPeer,
      });
    }
  }
}

/** The GPU image: given, or the CPU image's tag with "-gpu" (how service/Dockerfile.gpu builds are tagged). */
function gpuImageOf(props: ModelDeploymentProps): string {
  if (props.gpuImage) return props.gpuImage;
  const image = props.image;
  if (image.includes("@") || !/:[^/]+$/.test(image)) {
    throw new Error(`ModelDeployment ${props.model}: a variant asks for GPUs but image "${image}" has no tag to derive the GPU image from; set gpuImage (a service/Dockerfile.gpu build)`);
  }
  return `${image}-gpu`;
}

/**
 * On an in-cluster store (dev) the batch scorer's identity may only read `s3://<bucket>/batch-scoring/input/<file>`
 * and write under `batch-scoring/output/`: refuse, at synth, URIs it would be denied at run time.
 */
function checkInClusterScoringUris(model: string, bucket: string, scoring: { readonly input: string; readonly output: string; readonly rejects?: string }): void {
  const root = `s3://${bucket}/`;
  const check = (field: string, uri: string, prefix: string) => {
    if (!uri.startsWith("s3://")) return;
    if (!uri.startsWith(root + prefix) || (field === "input" && uri.endsWith("/"))) {
      throw new Error(
        `ModelDeployment ${model}: batchScoring.${field} "${uri}" is out of reach of the in-cluster store's batch-scoring identity: ` +
          `use ${root}${prefix}<file>${field === "input" ? " (a file: the identity may not list the bucket)" : ""}`,
      );
    }
  };
  check("input", scoring.input, BATCH_SCORING_INPUT_PREFIX);
  check("output", scoring.output, BATCH_SCORING_OUTPUT_PREFIX);
  if (scoring.rejects) check("rejects", scoring.rejects, BATCH_SCORING_OUTPUT_PREFIX);
}

function variantId(variant: Variant): string {
  return variant[0].toUpperCase() + variant.slice(1);
}
