import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { ENV, GRPC_PORT, GRPC_PORT_NAME, ROUTES, SERVICE_PORT, SERVICE_PORT_NAME, Variant, VARIANTS } from "../service/src/contract";
import { GPU_NODE_LABEL, GPU_RESOURCE, gpuToleration } from "./gpu-node-pool";
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

/** Istio's merged Prometheus endpoint on every sidecar: app metrics (from the prometheus.io annotations) + Envoy's. */
export const ENVOY_METRICS = { portName: "http-envoy-prom", port: 15020, path: "/stats/prometheus" } as const;
/** Pod label that Istio subsets and the variant's Service select on. */
export const VARIANT_LABEL = "modelport.io/variant";
/** Mount points the read-only root filesystem leaves writable. */
export const WRITABLE_DIRS = { tmp: "/tmp", modelCache: "/var/cache/model", spill: "/var/spool/prediction-log" } as const;

/** Seconds between readiness turning 503 and the listener closing (SHUTDOWN_DELAY_SECONDS). */
const SHUTDOWN_DELAY_SECONDS = 5;

export interface InferenceServiceReplicas {
  readonly min: number;
  readonly max: number;
}

export interface InferenceServiceNetwork {
  /** Namespace of the mesh ingress gateway (the only source of user traffic). */
  readonly ingressNamespace: string;
  /** Namespace where Prometheus runs. */
  readonly monitoringNamespace: string;
  /** Namespace of istiod: sidecars fetch config and certificates from it (port 15012). */
  readonly meshNamespace: string;
  readonly registry: NetworkPeer;
  readonly database: NetworkPeer;
}

export interface InferenceServiceProps {
  /** Registered model name in MLflow (also the Kubernetes app name). */
  readonly model: string;
  readonly variant: Variant;
  readonly namespace: string;
  /** Service image (service/Dockerfile); workdir /app. */
  readonly image: string;
  /** Registry alias this variant serves, e.g. "champion" -> MODEL_URI=models:/<model>@champion. */
  readonly registryAlias: string;
  /** MLFLOW_TRACKING_URI. */
  readonly trackingUri: string;
  /** Secret with the prediction-log database URL. */
  readonly predictionLog: { readonly secretName: string; readonly key: string };
  readonly network: InferenceServiceNetwork;
  /** kube-prometheus-stack release name (ServiceMonitor label). */
  readonly prometheusRelease: string;
  /** Horizontal scaling bounds. @default { min: 2, max: 6 } */
  readonly replicas?: InferenceServiceReplicas;
  /** HPA target CPU utilization (% of request). @default 70 */
  readonly targetCpuUtilization?: number;
  /** @default 500m/512Mi requests, 2 CPU/1Gi limits */
  readonly resources?: ContainerResources;
  /**
   * GPUs per pod; the pod then tolerates the GPU taint, selects GPU nodes and runs the graph on CUDA
   * (EXECUTION_PROVIDER=cuda unless `env` says otherwise: a pod whose GPU cannot be used stays unready). Give it
   * the GPU image (service/Dockerfile.gpu). @default 0
   */
  readonly gpus?: number;
  /** IRSA on EKS: the service account's role. @default no role (non-AWS clusters) */
  readonly irsa?: { readonly config: IrsaConfig; readonly roleName: string; readonly statements?: readonly PolicyStatement[] };
  /** Extra non-secret environment (ENV names from the contract). @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** @default "info" */
  readonly logLevel?: string;
  /** Seconds between a SIGTERM and a SIGKILL; the service drains in-flight requests meanwhile. @default 30 */
  readonly terminationGraceSeconds?: number;
}

/**
 * One model variant (stable, canary or shadow) as a hardened, autoscaled Deployment: probes on the service's
 * real routes, restricted security context with a read-only root filesystem, the registry alias it serves,
 * a Service, HPA, PodDisruptionBudget, ServiceMonitor, a default-deny NetworkPolicy and an IRSA ServiceAccount.
 */
export class InferenceService extends Construct {
  /** `<model>-<variant>`: Deployment, Service and ServiceAccount name. */
  readonly name: string;
  /** Pod labels (the Istio subset selects on VARIANT_LABEL). */
  readonly podLabels: Record<string, string>;
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly serviceMonitor: Manifest;
  readonly networkPolicy: NetworkPolicyV1;
  readonly role?: IrsaRole;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    validateDnsLabel("InferenceService model", props.model, 40);
    validateDnsLabel("InferenceService namespace", props.namespace);
    if (!VARIANTS.includes(props.variant)) {
      throw new Error(`InferenceService variant "${props.variant}" must be one of ${VARIANTS.join(", ")}`);
    }
    if (!/^[A-Za-z0-9_-]+$/.test(props.registryAlias)) {
      throw new Error(`InferenceService registryAlias "${props.registryAlias}" must be letters, digits, '-' or '_' (an MLflow alias)`);
    }
    const replicas = props.replicas ?? { min: 2, max: 6 };
    if (!Number.isInteger(replicas.min) || replicas.min < 1) {
      throw new Error(`InferenceService ${props.model}/${props.variant}: replicas.min must be an integer >= 1, got ${replicas.min}`);
    }
    if (!Number.isInteger(replicas.max) || replicas.max < replicas.min) {
      throw new Error(`InferenceService ${props.model}/${props.variant}: replicas.max (${replicas.max}) must be an integer >= replicas.min (${replicas.min})`);
    }
    const target = props.targetCpuUtilization ?? 70;
    if (!Number.isInteger(target) || target < 10 || target > 95) {
      throw new Error(`InferenceService targetCpuUtilization must be an integer percentage in 10..95, got ${target}`);
    }
    const gpus = props.gpus ?? 0;
    if (!Number.isInteger(gpus) || gpus < 0 || gpus > 8) throw new Error(`InferenceService gpus must be an integer 0..8, got ${gpus}`);
    const resources = props.resources ?? { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "1Gi" } };
    validateResources(`InferenceService ${props.model}/${props.variant} resources`, resources);
    const grace = props.terminationGraceSeconds ?? 30;
    if (!Number.isInteger(grace) || grace < 5) throw new Error(`InferenceService terminationGraceSeconds must be an integer >= 5, got ${grace}`);
    for (const name of Object.keys(props.env ?? {})) {
      if (!(Object.values(ENV) as string[]).includes(name)) {
        throw new Error(`InferenceService env "${name}" is not a variable the service reads (see ENV in service/src/contract/settings.ts)`);
      }
    }

    this.name = `${props.model}-${props.variant}`;
    const namespace = props.namespace;
    const selector = { "app.kubernetes.io/name": props.model, [VARIANT_LABEL]: props.variant };
    // `app`/`version` are the labels Istio telemetry and Kiali group by.
    this.podLabels = appLabels(props.model, "inference", { [VARIANT_LABEL]: props.variant, app: props.model, version: props.variant });

    if (props.irsa) {
      this.role = new IrsaRole(this, "Role", {
        irsa: props.irsa.config,
        roleName: props.irsa.roleName,
        namespace,
        serviceAccount: this.name,
        statements: props.irsa.statements,
      });
    }
    this.serviceAccount = new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name: this.name, namespace, labels: this.podLabels, annotations: this.role?.annotations ?? {} },
      automountServiceAccountToken: false,
    });

    const env = [
      { name: ENV.port, value: String(SERVICE_PORT) },
      { name: ENV.grpcPort, value: String(GRPC_PORT) },
      ...(gpus > 0 && props.env?.[ENV.executionProvider] === undefined ? [{ name: ENV.executionProvider, value: "cuda" }] : []),
      { name: ENV.modelUri, value: `models:/${props.model}@${props.registryAlias}` },
      { name: ENV.modelVariant, value: props.variant },
      { name: ENV.mlflowTrackingUri, value: props.trackingUri },
      { name: ENV.modelCacheDir, value: WRITABLE_DIRS.modelCache },
      { name: ENV.predictionLogSpillDir, value: WRITABLE_DIRS.spill },
      { name: ENV.logLevel, value: props.logLevel ?? "info" },
      { name: ENV.shutdownGraceSeconds, value: String(grace - 5) },
      // Readiness turns 503 at SIGTERM but the listener stays open this long, while endpoints and the mesh stop
      // routing here; the rest of the grace period drains in-flight requests and the prediction log.
      { name: ENV.shutdownDelaySeconds, value: String(Math.min(SHUTDOWN_DELAY_SECONDS, grace - 5)) },
      { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      {
        name: ENV.predictionLogUrl,
        valueFrom: { secretKeyRef: { name: props.predictionLog.secretName, key: props.predictionLog.key } },
      },
      ...Object.entries(props.env ?? {}).map(([name, value]) => ({ name, value })),
    ];
    const gpuLimits: Record<string, string> = gpus > 0 ? { [GPU_RESOURCE]: String(gpus) } : {};
    const port = String(SERVICE_PORT);
    this.deployment = new DeploymentV1(this, "Resource", {
      metadata: { name: this.name, namespace, labels: this.podLabels },
      waitForRollout: true,
      spec: {
        replicas: String(replicas.min),
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0", maxSurge: "25%" } },
        template: {
          metadata: {
            labels: this.podLabels,
            annotations: {
              // Istio merges the app's metrics into the sidecar's :15020/stats/prometheus (scraped under STRICT mTLS).
              "prometheus.io/scrape": "true",
              "prometheus.io/port": port,
              "prometheus.io/path": ROUTES.metrics,
            },
          },
          spec: {
            serviceAccountName: this.name,
            automountServiceAccountToken: !!this.role, // the AWS SDK needs the projected web-identity token
            terminationGracePeriodSeconds: grace,
            securityContext: restrictedPodSecurityContext(),
            topologySpreadConstraint: [
              {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: [{ matchLabels: selector }],
              },
            ],
            ...(gpus > 0
              ? { nodeSelector: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value }, toleration: [gpuToleration()] }
              : {}),
            container: [
              {
                name: "server",
                image: props.image,
                workingDir: "/app",
                command: ["node", "dist/service/src/server.js"],
                env,
                port: [
                  { name: SERVICE_PORT_NAME, containerPort: SERVICE_PORT },
                  { name: GRPC_PORT_NAME, containerPort: GRPC_PORT },
                ],
                resources: {
                  requests: { ...resources.requests, ...gpuLimits },
                  limits: { ...resources.limits, ...gpuLimits },
                },
                securityContext: restrictedContainerSecurityContext(),
                // Model download and warm-up can take minutes; liveness starts only after the first success.
                startupProbe: { httpGet: { path: ROUTES.healthz, port }, periodSeconds: 5, failureThreshold: 60 },
                livenessProbe: { httpGet: { path: ROUTES.healthz, port }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: ROUTES.readyz, port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                volumeMount: [
                  { name: "tmp", mountPath: WRITABLE_DIRS.tmp },
                  { name: "model-cache", mountPath: WRITABLE_DIRS.modelCache },
                  { name: "spill", mountPath: WRITABLE_DIRS.spill },
                ],
              },
            ],
            volume: [
              { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
              { name: "model-cache", emptyDir: { sizeLimit: "4Gi" } },
              { name: "spill", emptyDir: { sizeLimit: "1Gi" } },
            ],
          },
        },
      },
      // The HPA owns the replica count after creation.
      lifecycle: { ignoreChanges: ["spec[0].replicas"] },
    });

    this.service = new ServiceV1(this, "Service", {
      metadata: { name: this.name, namespace, labels: this.podLabels },
      spec: {
        selector,
        port: [
          { name: SERVICE_PORT_NAME, port: SERVICE_PORT, targetPort: port, appProtocol: "http" },
          // Named and typed grpc so Istio treats it as HTTP/2 (probes stay on the HTTP port).
          { name: GRPC_PORT_NAME, port: GRPC_PORT, targetPort: String(GRPC_PORT), appProtocol: "grpc" },
          { name: ENVOY_METRICS.portName, port: ENVOY_METRICS.port, targetPort: String(ENVOY_METRICS.port) },
        ],
      },
    });

    new HorizontalPodAutoscalerV2(this, "Autoscaler", {
      metadata: { name: this.name, namespace },
      spec: {
        minReplicas: replicas.min,
        maxReplicas: replicas.max,
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.name },
        metric: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: target } } }],
        behavior: {
          scaleDown: [{ stabilizationWindowSeconds: 300, policy: [{ type: "Pods", value: 1, periodSeconds: 60 }] }],
          scaleUp: [{ stabilizationWindowSeconds: 0, policy: [{ type: "Percent", value: 100, periodSeconds: 30 }] }],
        },
      },
    });

    new PodDisruptionBudgetV1(this, "DisruptionBudget", {
      metadata: { name: this.name, namespace },
      spec: { maxUnavailable: "1", selector: { matchLabels: selector } },
    });

    this.serviceMonitor = new Manifest(this, "ServiceMonitor", {
      manifest: {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: this.name, namespace, labels: { release: props.prometheusRelease, ...selector } },
        spec: {
          selector: { matchLabels: selector },
          endpoints: [{ port: ENVOY_METRICS.portName, path: ENVOY_METRICS.path, interval: "15s", scrapeTimeout: "10s" }],
        },
      },
    });

    const net = props.network;
    this.networkPolicy = new NetworkPolicyV1(this, "NetworkPolicy", {
      metadata: { name: this.name, namespace },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          networkPolicyRule({ namespace: net.ingressNamespace, port: SERVICE_PORT }, "from"),
          networkPolicyRule({ namespace: net.ingressNamespace, port: GRPC_PORT }, "from"),
          networkPolicyRule({ namespace: net.monitoringNamespace, port: ENVOY_METRICS.port }, "from"),
        ],
        egress: [
          networkPolicyRule(net.registry, "to"),
          networkPolicyRule(net.database, "to"),
          ...DNS_PEERS.map((p) => networkPolicyRule(p, "to")),
          // Without istiod the sidecar gets neither config nor certificates and no traffic flows at all.
          networkPolicyRule({ namespace: net.meshNamespace, podLabels: { app: "istiod" }, port: 15012 }, "to"),
        ],
      },
    });
  }
}
