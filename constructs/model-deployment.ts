import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { AlertOptions, ModelMonitoringOptions, modelRuleGroups, prometheusRule } from "../alerts";
import { modelDashboards } from "../dashboards";
import { Task, Variant } from "../service/src/contract";
import { CanaryRelease, RetryPolicy } from "./canary-release";
import { DriftMonitor, S3CompatibleEndpoint } from "./drift-monitor";
import { InferenceService, InferenceServiceReplicas } from "./inference-service";
import { IrsaConfig } from "./irsa-role";
import { ContainerResources, validateDnsLabel } from "./kube";
import { NetworkPeer } from "./network-peer";
import { dashboardConfigMap } from "./observability";

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
  /** Secret (in `namespace`) with the prediction-log database URL. */
  readonly predictionLog: { readonly secretName: string; readonly key: string };
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
}

const DEFAULT_ALIASES: Record<Variant, string> = { stable: "champion", canary: "challenger", shadow: "shadow" };

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
        network: {
          ingressNamespace: p.ingressNamespace,
          monitoringNamespace: p.monitoringNamespace,
          meshNamespace: p.meshNamespace,
          registry: p.registryPeer,
          database: p.databasePeer,
        },
        irsa: p.aws ? { config: p.aws.irsa, roleName: `${props.namePrefix}-${props.model}-${variant}` } : undefined,
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

function variantId(variant: Variant): string {
  return variant[0].toUpperCase() + variant.slice(1);
}
