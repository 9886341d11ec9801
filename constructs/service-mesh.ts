import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { Construct } from "constructs";
import { HelmChart } from "./helm-chart";
import { validateDnsLabel } from "./kube";
import { KubernetesObject, ManifestBundle } from "./manifest-bundle";
import { CHARTS } from "./versions";

export interface ServiceMeshProps {
  /** Namespaces where models run: sidecar injection on, mTLS STRICT. */
  readonly modelNamespaces: readonly string[];
  /** Hosts the ingress gateway serves, e.g. ["*.models.example.com"]. */
  readonly hosts: readonly string[];
  /** Kubernetes Secret (in the ingress namespace) with the TLS certificate; plain HTTP when absent. @default none */
  readonly tlsCredentialName?: string;
  /** @default "istio-system" */
  readonly namespace?: string;
  /** @default "istio-ingress" */
  readonly ingressNamespace?: string;
  /** Gateway replicas (min; the chart's HPA scales up to 5x). @default 2 */
  readonly gatewayReplicas?: number;
  /** Service type of the ingress gateway. @default "LoadBalancer" */
  readonly gatewayServiceType?: "LoadBalancer" | "NodePort" | "ClusterIP";
}

/** Name of the Istio Gateway model VirtualServices bind to. */
export const MESH_GATEWAY_NAME = "modelport";

/**
 * Istio (base CRDs, istiod, an ingress gateway; charts pinned), the model namespaces with sidecar injection, a
 * Gateway for the model hosts and PeerAuthentication STRICT in every model namespace, so pod-to-pod traffic
 * there is mutual-TLS only.
 */
export class ServiceMesh extends Construct {
  readonly namespace: string;
  readonly ingressNamespace: string;
  /** `<namespace>/<name>` of the Gateway, as VirtualServices reference it. */
  readonly gateway: string;
  readonly istiod: HelmChart;
  readonly modelNamespaces: NamespaceV1[];
  readonly policies: ManifestBundle;

  constructor(scope: Construct, id: string, props: ServiceMeshProps) {
    super(scope, id);
    this.namespace = props.namespace ?? "istio-system";
    this.ingressNamespace = props.ingressNamespace ?? "istio-ingress";
    validateDnsLabel("ServiceMesh namespace", this.namespace);
    validateDnsLabel("ServiceMesh ingressNamespace", this.ingressNamespace);
    if (props.modelNamespaces.length === 0) throw new Error("ServiceMesh modelNamespaces must list at least one namespace");
    props.modelNamespaces.forEach((n) => validateDnsLabel("ServiceMesh modelNamespaces entry", n));
    if (props.hosts.length === 0) throw new Error("ServiceMesh hosts must list at least one host, e.g. \"*.models.example.com\"");
    const replicas = props.gatewayReplicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`ServiceMesh gatewayReplicas must be a positive integer, got ${replicas}`);
    this.gateway = `${this.ingressNamespace}/${MESH_GATEWAY_NAME}`;

    const base = new HelmChart(this, "Base", {
      chart: CHARTS.istioBase,
      name: "istio-base",
      namespace: this.namespace,
      createNamespace: true,
      values: { defaultRevision: "default" },
    });
    this.istiod = new HelmChart(this, "Istiod", {
      chart: CHARTS.istiod,
      name: "istiod",
      namespace: this.namespace,
      dependsOn: [base.release],
      values: {
        // istiod >= 1.24 reads top-level values (its chart's defaults sit under _internal_defaults_do_not_set);
        // `pilot.resources` is ignored.
        resources: { requests: { cpu: "200m", memory: "512Mi" } },
        meshConfig: { accessLogFile: "/dev/stdout", enablePrometheusMerge: true },
      },
    });
    const ingressNs = new NamespaceV1(this, "IngressNamespace", {
      metadata: { name: this.ingressNamespace, labels: { "istio-injection": "enabled" } },
    });
    const gateway = new HelmChart(this, "IngressGateway", {
      chart: CHARTS.istioGateway,
      name: "istio-ingressgateway",
      namespace: this.ingressNamespace,
      dependsOn: [this.istiod.release, ingressNs],
      values: {
        labels: { istio: "ingressgateway" },
        service: { type: props.gatewayServiceType ?? "LoadBalancer" },
        autoscaling: { minReplicas: replicas, maxReplicas: replicas * 5 },
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
      },
    });
    this.modelNamespaces = props.modelNamespaces.map(
      (name) =>
        new NamespaceV1(this, `ModelNamespace-${name}`, {
          metadata: { name, labels: { "istio-injection": "enabled", "modelport.io/models": "true" } },
        }),
    );

    const objects: KubernetesObject[] = [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: { name: MESH_GATEWAY_NAME, namespace: this.ingressNamespace },
        spec: {
          selector: { istio: "ingressgateway" },
          servers: [
            props.tlsCredentialName
              ? {
                  port: { number: 443, name: "https", protocol: "HTTPS" },
                  hosts: [...props.hosts],
                  tls: { mode: "SIMPLE", credentialName: props.tlsCredentialName },
                }
              : { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [...props.hosts] },
          ],
        },
      },
      ...props.modelNamespaces.map((namespace) => strictMtls(namespace)),
    ];
    this.policies = new ManifestBundle(this, "Policies", {
      name: "mesh-policies",
      namespace: this.namespace,
      objects,
      dependsOn: [base.release, gateway.release, ...this.modelNamespaces],
    });
  }
}

/** Namespace-wide PeerAuthentication: sidecars accept mutual TLS only. */
export function strictMtls(namespace: string): KubernetesObject {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace },
    spec: { mtls: { mode: "STRICT" } },
  };
}
