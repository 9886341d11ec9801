/** Something a NetworkPolicy lets pods reach: pods in a namespace, or an address range (RDS in the VPC). */
export interface NetworkPeer {
  readonly namespace?: string;
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly cidr?: string;
  readonly port: number;
  /** @default "TCP" */
  readonly protocol?: "TCP" | "UDP";
}

/** A NetworkPolicy egress/ingress rule (provider shape) for one peer. */
export function networkPolicyRule(peer: NetworkPeer, direction: "to" | "from") {
  if (!peer.cidr && !peer.namespace) throw new Error(`Network peer on port ${peer.port} needs a namespace or a cidr`);
  const selector = peer.cidr
    ? { ipBlock: { cidr: peer.cidr } }
    : {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": peer.namespace! } },
        ...(peer.podLabels ? { podSelector: { matchLabels: { ...peer.podLabels } } } : {}),
      };
  return { [direction]: [selector], ports: [{ port: String(peer.port), protocol: peer.protocol ?? "TCP" }] };
}

/** Cluster DNS (CoreDNS/kube-dns) over UDP and TCP. */
export const DNS_PEERS: readonly NetworkPeer[] = [
  { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" }, port: 53, protocol: "UDP" },
  { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" }, port: 53, protocol: "TCP" },
];
