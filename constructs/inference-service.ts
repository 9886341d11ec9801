import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { ENV, GRPC_PORT, GRPC_PORT_NAME, HTTP_KEEP_ALIVE_TIMEOUT_MS, ROUTES, SERVICE_PORT, SERVICE_PORT_NAME, Variant, VARIANTS } from "../service/src/contract";
import { GPU_NODE_LABEL, GPU_RESOURCE, gpuToleration } from "./gpu-node-pool";
import { IrsaConfig, IrsaRole, PolicyStatement } from "./irsa-role";
import { appLabels, ContainerResources, quantityBytes, validateDnsLabel, validateResources } from "./kube";
import { DNS_PEERS, NetworkPeer, networkPolicyRule } from "./network-peer";
import { caVolumeMount, PostgresCaMount } from "./postgres-server";
import { EnvVar, hardenedPodSpec } from "./workload";

/** Istio's merged Prometheus endpoint on every sidecar: app metrics (from the prometheus.io annotations) + Envoy's. */
export const ENVOY_METRICS = { portName: "http-envoy-prom", port: 15020, path: "/stats/prometheus" } as const;
/** Pod label that Istio subsets and the variant's Service select on. */
export const VARIANT_LABEL = "modelport.io/variant";
/** Mount points the read-only root filesystem leaves writable. */
export const WRITABLE_DIRS = { tmp: "/tmp", modelCache: "/var/cache/model", spill: "/var/spool/prediction-log" } as const;

/**
 * The prediction log's cap inside its emptyDir: the volume less a headroom (a tenth, at least 16 MiB) for the
 * journal's checkpoint, lock and roll-state files and filesystem overhead, so the kubelet never evicts the pod
 * for an overfull volume; past the cap entries are dropped and counted (prediction_log_dropped_total{reason="spill_full"}).
 */
export function spillCapBytes(volumeBytes: number): number {
  return Math.floor(volumeBytes - Math.max(volumeBytes / 10, 16 * 2 ** 20));
}

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

/**
 * Limits on traffic into each pod, enforced twice: by the pod's Envoy sidecar (an Istio Sidecar with an inbound
 * connection pool) and behind it by the service itself (its HTTP_* settings), set to agree so the service never
 * refuses what the sidecar let through.
 */
export interface InferenceServiceConnectionLimits {
  /**
   * Connections the sidecar opens to the service. Envoy sends one HTTP/1.1 request per connection at a time, so
   * this is also how many requests the service works on at once. The service accepts this many plus
   * CONNECTION_HEADROOM (probes, scrapes) as HTTP_MAX_CONNECTIONS.
   * @default 1024
   */
  readonly maxConnections?: number;
  /** Requests the sidecar holds while every connection is busy; past it Envoy answers 503 at once (overflow). @default 1024 */
  readonly maxPendingRequests?: number;
  /** Requests per connection before the sidecar replaces it; 0 = unlimited. @default 0 */
  readonly maxRequestsPerConnection?: number;
}

/** Connections the service accepts beyond the sidecar's pool: kubelet probes and scrapes through the Istio agent. */
export const CONNECTION_HEADROOM = 64;
/** The sidecar closes idle connections to the service first (the service keeps them HTTP_KEEP_ALIVE_TIMEOUT_MS). */
const SIDECAR_IDLE_TIMEOUT_SECONDS = Math.floor(HTTP_KEEP_ALIVE_TIMEOUT_MS / 1000) - 12;

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
  /** Secret with the prediction-log database URL, and the CA its sslrootcert names (when verified). */
  readonly predictionLog: { readonly secretName: string; readonly key: string; readonly ca?: PostgresCaMount };
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
  /**
   * IRSA on EKS, only for a service that calls AWS itself (models are served through MLflow's artifact proxy, so
   * none does by default): the role and what it grants. @default no role
   */
  readonly irsa?: { readonly config: IrsaConfig; readonly roleName: string; readonly statements: readonly PolicyStatement[] };
  /** Extra non-secret environment (ENV names from the contract). @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** @default "info" */
  readonly logLevel?: string;
  /** Seconds between a SIGTERM and a SIGKILL; the service drains in-flight requests meanwhile. @default 30 */
  readonly terminationGraceSeconds?: number;
  /**
   * Size of the prediction log's spill volume (an emptyDir quantity, at least 64Mi): the emptyDir's sizeLimit,
   * and PREDICTION_LOG_SPILL_MAX_BYTES a headroom below it (spillCapBytes). @default "1Gi"
   */
  readonly spillVolumeSize?: string;
  /** Inbound connection limits of the sidecar and the service. @default InferenceServiceConnectionLimits defaults */
  readonly connectionLimits?: InferenceServiceConnectionLimits;
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
  /** Istio Sidecar of these pods: the inbound connection pool (egress stays Istio's default). */
  readonly sidecar: Manifest;
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
    if (props.irsa && props.irsa.statements.length === 0) {
      throw new Error(`InferenceService ${props.model}/${props.variant}: irsa.statements is empty; a role that grants nothing only widens what a pod can assume, so omit irsa`);
    }
    const limits = connectionLimits(props.model, props.variant, props.connectionLimits);
    for (const name of Object.keys(props.env ?? {})) {
      if (!(Object.values(ENV) as string[]).includes(name)) {
        throw new Error(`InferenceService env "${name}" is not a variable the service reads (see ENV in service/src/contract/settings.ts)`);
      }
      if (name === ENV.predictionLogSpillMaxBytes) {
        throw new Error(`InferenceService env ${name}: set spillVolumeSize instead (it sizes the volume and the cap together)`);
      }
    }
    const spillVolume = props.spillVolumeSize ?? "1Gi";
    const spillBytes = quantityBytes(`InferenceService ${props.model}/${props.variant} spillVolumeSize`, spillVolume);
    if (spillBytes < 64 * 2 ** 20) throw new Error(`InferenceService spillVolumeSize must be at least 64Mi, got ${spillVolume}`);

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

    const env: EnvVar[] = [
      { name: ENV.port, value: String(SERVICE_PORT) },
      { name: ENV.grpcPort, value: String(GRPC_PORT) },
      ...(gpus > 0 && props.env?.[ENV.executionProvider] === undefined ? [{ name: ENV.executionProvider, value: "cuda" }] : []),
      { name: ENV.modelUri, value: `models:/${props.model}@${props.registryAlias}` },
      { name: ENV.modelVariant, value: props.variant },
      { name: ENV.mlflowTrackingUri, value: props.trackingUri },
      { name: ENV.modelCacheDir, value: WRITABLE_DIRS.modelCache },
      { name: ENV.predictionLogSpillDir, value: WRITABLE_DIRS.spill },
      { name: ENV.predictionLogSpillMaxBytes, value: String(spillCapBytes(spillBytes)) },
      { name: ENV.logLevel, value: props.logLevel ?? "info" },
      { name: ENV.shutdownGraceSeconds, value: String(grace - 5) },
      // Readiness turns 503 at SIGTERM but the listener stays open this long, while endpoints and the mesh stop
      // routing here; the rest of the grace period drains in-flight requests and the prediction log.
      { name: ENV.shutdownDelaySeconds, value: String(Math.min(SHUTDOWN_DELAY_SECONDS, grace - 5)) },
      { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: ENV.httpMaxConnections, value: String(limits.maxConnections + CONNECTION_HEADROOM) },
      {
        name: ENV.predictionLogUrl,
        valueFrom: { secretKeyRef: { name: props.predictionLog.secretName, key: props.predictionLog.key } },
      },
      ...Object.entries(props.env ?? {}).map(([name, value]) => ({ name, value })),
    ];
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
          spec: hardenedPodSpec("service", {
            serviceAccountName: this.name,
            automountServiceAccountToken: !!this.role, // the AWS SDK needs the projected web-identity token
            terminationGracePeriodSeconds: grace,
            scheduling: {
              topologySpreadConstraint: [
                { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: [{ matchLabels: selector }] },
              ],
              ...(gpus > 0 ? { nodeSelector: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value }, toleration: [gpuToleration()] } : {}),
            },
            containers: [
              {
                name: "server",
                image: props.image,
                workingDir: "/app",
                command: ["node", "dist/service/src/server.js"],
                env,
                ports: [
                  { name: SERVICE_PORT_NAME, containerPort: SERVICE_PORT },
                  { name: GRPC_PORT_NAME, containerPort: GRPC_PORT },
                ],
                resources,
                extendedResources: gpus > 0 ? { [GPU_RESOURCE]: String(gpus) } : undefined,
                probes: {
                  // Model download and warm-up can take minutes; liveness starts only after the first success.
                  startup: { httpGet: { path: ROUTES.healthz, port }, periodSeconds: 5, failureThreshold: 60 },
                  liveness: { httpGet: { path: ROUTES.healthz, port }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  readiness: { httpGet: { path: ROUTES.readyz, port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                },
                scratch: [
                  { name: "tmp", mountPath: WRITABLE_DIRS.tmp, sizeLimit: "256Mi" },
                  { name: "model-cache", mountPath: WRITABLE_DIRS.modelCache, sizeLimit: "4Gi" },
                  { name: "spill", mountPath: WRITABLE_DIRS.spill, sizeLimit: spillVolume },
                ],
                mounts: props.predictionLog.ca ? [caVolumeMount(props.predictionLog.ca)] : [],
              },
            ],
          }),
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

    this.sidecar = new Manifest(this, "Sidecar", {
      manifest: {
        apiVersion: "networking.istio.io/v1",
        kind: "Sidecar",
        metadata: { name: this.name, namespace, labels: this.podLabels },
        spec: {
          workloadSelector: { labels: selector },
          inboundConnectionPool: {
            tcp: { maxConnections: limits.maxConnections },
            http: {
              http1MaxPendingRequests: limits.maxPendingRequests,
              maxRequestsPerConnection: limits.maxRequestsPerConnection,
              idleTimeout: `${SIDECAR_IDLE_TIMEOUT_SECONDS}s`,
            },
          },
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

function connectionLimits(model: string, variant: Variant, limits: InferenceServiceConnectionLimits = {}): Required<InferenceServiceConnectionLimits> {
  const resolved = { maxConnections: 1024, maxPendingRequests: 1024, maxRequestsPerConnection: 0, ...limits };
  for (const [field, value, min] of [
    ["maxConnections", resolved.maxConnections, 1],
    ["maxPendingRequests", resolved.maxPendingRequests, 1],
    ["maxRequestsPerConnection", resolved.maxRequestsPerConnection, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min || value > 1_000_000) {
      throw new Error(`InferenceService ${model}/${variant}: connectionLimits.${field} must be an integer ${min}..1000000, got ${value}`);
    }
  }
  return resolved;
}
