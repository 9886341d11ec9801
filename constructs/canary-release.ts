import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { GRPC_PORT, GRPC_PORT_NAME, SERVICE_PORT, SERVICE_PORT_NAME, VARIANT_HEADER } from "../service/src/contract";
import { VARIANT_LABEL } from "./inference-service";
import { appLabels, validateDnsLabel } from "./kube";
import { KubernetesObject } from "./manifest-bundle";

export interface CanaryWeights {
  /** Percent of traffic to `stable`, 0-100. */
  readonly stable: number;
  /** Percent of traffic to `canary`, 0-100. stable + canary must be 100. */
  readonly canary: number;
}

export interface RetryPolicy {
  /** @default 2 */
  readonly attempts?: number;
  /** @default "2s" */
  readonly perTryTimeout?: string;
  /** Envoy retry conditions. @default "connect-failure,refused-stream,unavailable,503" */
  readonly retryOn?: string;
}

export interface CanaryReleaseProps {
  readonly model: string;
  readonly namespace: string;
  /** External hosts routed through the gateway, e.g. ["flight-delay.models.example.com"]. */
  readonly hosts: readonly string[];
  /** `<namespace>/<name>` of the Istio Gateway. */
  readonly gateway: string;
  /** Traffic split. @default { stable: 100, canary: 0 } */
  readonly weights?: CanaryWeights;
  /** Whether a canary variant is deployed (a canary weight > 0 requires it). @default false */
  readonly hasCanary?: boolean;
  /** Mirror this percentage of live traffic to the `shadow` subset (responses discarded). @default no shadow */
  readonly shadowPercent?: number;
  /** @default RetryPolicy defaults */
  readonly retries?: RetryPolicy;
  /** Whole-request timeout. @default "10s" */
  readonly timeout?: string;
}

const DURATION = /^\d+(\.\d+)?(ms|s|m|h)$/;

/**
 * Traffic management for one model: the model's Service (all variants behind it), a DestinationRule with
 * subsets `stable`, `canary` and optionally `shadow`, and a VirtualService that splits traffic by weight,
 * pins a request to a variant with the `x-model-variant` header (test a canary before it takes weight), mirrors
 * a share to the shadow, and applies retries and a timeout. gRPC calls (the Open Inference Protocol on the `grpc`
 * port) are routed the same way, to the same subsets and weights.
 */
export class CanaryRelease extends Construct {
  readonly host: string;
  readonly weights: CanaryWeights;
  readonly virtualService: Manifest;
  readonly destinationRule: Manifest;

  constructor(scope: Construct, id: string, props: CanaryReleaseProps) {
    super(scope, id);
    validateDnsLabel("CanaryRelease model", props.model, 40);
    validateDnsLabel("CanaryRelease namespace", props.namespace);
    if (props.hosts.length === 0) throw new Error(`CanaryRelease ${props.model}: hosts must list at least one host`);
    if (!/^[a-z0-9-]+\/[a-z0-9-]+$/.test(props.gateway)) {
      throw new Error(`CanaryRelease ${props.model}: gateway "${props.gateway}" must be "<namespace>/<name>"`);
    }
    this.weights = validateWeights(props.model, props.weights ?? { stable: 100, canary: 0 });
    const hasCanary = props.hasCanary ?? false;
    if (this.weights.canary > 0 && !hasCanary) {
      throw new Error(`CanaryRelease ${props.model}: canary weight is ${this.weights.canary} but no canary variant is deployed; set hasCanary or weight 0`);
    }
    const shadow = props.shadowPercent;
    if (shadow !== undefined && (!(shadow > 0) || shadow > 100)) {
      throw new Error(`CanaryRelease ${props.model}: shadowPercent must be in (0, 100], got ${shadow}`);
    }
    const retries = { attempts: 2, perTryTimeout: "2s", retryOn: "connect-failure,refused-stream,unavailable,503", ...props.retries };
    if (!Number.isInteger(retries.attempts) || retries.attempts < 0 || retries.attempts > 10) {
      throw new Error(`CanaryRelease ${props.model}: retries.attempts must be an integer 0..10, got ${retries.attempts}`);
    }
    const timeout = props.timeout ?? "10s";
    for (const [field, value] of [["timeout", timeout], ["retries.perTryTimeout", retries.perTryTimeout]]) {
      if (!DURATION.test(value)) throw new Error(`CanaryRelease ${props.model}: ${field} "${value}" must be a duration like "500ms" or "2s"`);
    }

    this.host = `${props.model}.${props.namespace}.svc.cluster.local`;
    const selector = { "app.kubernetes.io/name": props.model };
    new ServiceV1(this, "Service", {
      metadata: { name: props.model, namespace: props.namespace, labels: appLabels(props.model, "routing") },
      spec: {
        selector,
        port: [
          { name: SERVICE_PORT_NAME, port: SERVICE_PORT, targetPort: String(SERVICE_PORT), appProtocol: "http" },
          { name: GRPC_PORT_NAME, port: GRPC_PORT, targetPort: String(GRPC_PORT), appProtocol: "grpc" },
        ],
      },
    });

    const subsets = ["stable", ...(hasCanary ? ["canary"] : []), ...(shadow !== undefined ? ["shadow"] : [])];
    this.destinationRule = new Manifest(this, "DestinationRule", {
      manifest: destinationRule(props.model, props.namespace, this.host, subsets),
    });
    this.virtualService = new Manifest(this, "VirtualService", {
      manifest: virtualService({
        model: props.model,
        namespace: props.namespace,
        host: this.host,
        hosts: props.hosts,
        gateway: props.gateway,
        weights: this.weights,
        hasCanary,
        shadowPercent: shadow,
        retries,
        timeout,
      }),
    });
  }
}

/** Throws unless both weights are integers in 0..100 summing to 100. */
export function validateWeights(model: string, w: CanaryWeights): CanaryWeights {
  for (const [name, value] of Object.entries(w)) {
    if (!Number.isInteger(value) || value < 0 || value > 100) {
      throw new Error(`CanaryRelease ${model}: ${name} weight must be an integer 0..100, got ${value}`);
    }
  }
  if (w.stable + w.canary !== 100) {
    throw new Error(`CanaryRelease ${model}: weights must sum to 100, got stable ${w.stable} + canary ${w.canary} = ${w.stable + w.canary}`);
  }
  return w;
}

function destinationRule(model: string, namespace: string, host: string, subsets: string[]): KubernetesObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: model, namespace },
    spec: {
      host,
      trafficPolicy: {
        tls: { mode: "ISTIO_MUTUAL" },
        connectionPool: { http: { http1MaxPendingRequests: 1024, maxRequestsPerConnection: 0 } },
        // Eject a replica that keeps failing instead of retrying into it.
        outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 },
      },
      subsets: subsets.map((name) => ({ name, labels: { [VARIANT_LABEL]: name } })),
    },
  };
}

interface RouteSpec {
  model: string;
  namespace: string;
  host: string;
  hosts: readonly string[];
  gateway: string;
  weights: CanaryWeights;
  hasCanary: boolean;
  shadowPercent?: number;
  retries: Required<RetryPolicy>;
  timeout: string;
}

/** gRPC requests (HTTP/2 with a content-type of application/grpc, through the gateway or from the mesh). */
const GRPC_CONTENT_TYPE = { "content-type": { prefix: "application/grpc" } };

/**
 * The same routes twice: for gRPC first (matched by content type, sent to the gRPC port), then for HTTP. The
 * HTTP split matches everything, so a gRPC request must meet its own routes before it.
 */
function virtualService(r: RouteSpec): KubernetesObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: r.model, namespace: r.namespace },
    spec: {
      hosts: [...r.hosts, r.host],
      gateways: [r.gateway, "mesh"],
      http: [...routes(r, "grpc"), ...routes(r, "http")],
    },
  };
}

function routes(r: RouteSpec, protocol: "grpc" | "http") {
  const grpc = protocol === "grpc";
  const prefix = grpc ? "grpc-" : "";
  const only = grpc ? GRPC_CONTENT_TYPE : {};
  const destination = (subset: string) => ({ host: r.host, subset, port: { number: grpc ? GRPC_PORT : SERVICE_PORT } });
  const resilience = { timeout: r.timeout, retries: r.retries };
  const pinned = (variant: string) => ({
    name: `${prefix}pin-${variant}`,
    match: [{ headers: { ...only, [VARIANT_HEADER]: { exact: variant } } }],
    route: [{ destination: destination(variant), weight: 100 }],
    ...resilience,
  });
  const weighted = [
    { destination: destination("stable"), weight: r.weights.stable },
    ...(r.hasCanary ? [{ destination: destination("canary"), weight: r.weights.canary }] : []),
  ];
  return [
    ...(r.hasCanary ? [pinned("canary")] : []),
    pinned("stable"),
    {
      name: `${prefix}split`,
      ...(grpc ? { match: [{ headers: only }] } : {}),
      route: weighted,
      ...(r.shadowPercent !== undefined ? { mirror: destination("shadow"), mirrorPercentage: { value: r.shadowPercent } } : {}),
      ...resilience,
    },
  ];
}
