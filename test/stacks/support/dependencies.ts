/**
 * The dependency graph Terraform will build from a synthesized stack: an edge for every `depends_on` entry and every
 * `${type.name...}` reference in a resource's arguments. Two ordering rules a first apply on an empty cluster needs:
 * - a resource in a namespace the stack creates must wait for that namespace (directly or transitively);
 * - a custom resource must wait for the release that installs its CRD, when that release is in the same stack.
 */
import { parse } from "yaml";
import type { Json } from "../../constructs/support/harness";

/** API groups of the custom resources we create, and the chart whose release installs their CRDs. */
export const CRD_CHARTS: Record<string, string> = {
  "monitoring.coreos.com": "kube-prometheus-stack",
  "networking.istio.io": "base",
  "security.istio.io": "base",
  "postgresql.cnpg.io": "cloudnative-pg",
};

export interface StackGraph {
  /** `type.name` of every resource. */
  readonly nodes: readonly string[];
  /** True when `from` waits for `to`, directly or through others. */
  dependsOn(from: string, to: string): boolean;
  /** Namespace name -> the resource that creates it (a Namespace, or a Helm release with create_namespace). */
  readonly namespaceCreators: ReadonlyMap<string, string>;
  /** Namespaces a resource lives in or applies objects to (a ManifestBundle's objects count for its release). */
  namespacesOf(node: string): string[];
  /** apiVersion groups of the custom resources a resource applies. */
  customResourceGroups(node: string): string[];
  /** The chart a helm_release installs. */
  chartOf(node: string): string | undefined;
}

const REFERENCE = /\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)/g;

export function stackGraph(json: Json): StackGraph {
  const resources = new Map<string, Json>();
  for (const [type, byName] of Object.entries<Json>(json.resource ?? {})) {
    for (const [name, attrs] of Object.entries<Json>(byName)) resources.set(`${type}.${name}`, attrs);
  }
  const edges = new Map<string, Set<string>>();
  for (const [node, attrs] of resources) {
    const out = new Set<string>();
    for (const dep of (attrs.depends_on ?? []) as string[]) out.add(dep);
    const { depends_on: _ignored, ...rest } = attrs;
    for (const match of JSON.stringify(rest).matchAll(REFERENCE)) {
      const target = `${match[1]}.${match[2]}`;
      if (resources.has(target)) out.add(target);
    }
    edges.set(node, out);
  }
  const reachable = new Map<string, Set<string>>();
  const closure = (node: string): Set<string> => {
    const known = reachable.get(node);
    if (known) return known;
    const seen = new Set<string>();
    const stack = [...(edges.get(node) ?? [])];
    while (stack.length) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(edges.get(next) ?? []));
    }
    reachable.set(node, seen);
    return seen;
  };

  const namespaceCreators = new Map<string, string>();
  for (const [node, attrs] of resources) {
    if (node.startsWith("kubernetes_namespace")) namespaceCreators.set(attrs.metadata.name, node);
    if (node.startsWith("helm_release.") && attrs.create_namespace === true) namespaceCreators.set(attrs.namespace, node);
  }

  const bundleObjects = (attrs: Json): Json[] => {
    if (!String(attrs.chart ?? "").startsWith("./")) return [];
    return ((parse(attrs.values?.[0] ?? "") as Json)?.objects ?? []) as Json[];
  };
  const objectsOf = (node: string): Json[] => {
    const attrs = resources.get(node)!;
    if (node.startsWith("kubernetes_manifest.")) return [attrs.manifest];
    if (node.startsWith("helm_release.")) return bundleObjects(attrs);
    return [];
  };

  return {
    nodes: [...resources.keys()],
    dependsOn: (from, to) => closure(from).has(to),
    namespaceCreators,
    namespacesOf(node) {
      const attrs = resources.get(node)!;
      const own = node.startsWith("helm_release.") ? attrs.namespace : attrs.metadata?.namespace;
      const applied = objectsOf(node).map((o) => o.metadata?.namespace);
      return [...new Set([own, ...applied].filter((n): n is string => typeof n === "string"))];
    },
    customResourceGroups(node) {
      return objectsOf(node)
        .map((o) => String(o.apiVersion))
        .filter((v) => v.includes("/"))
        .map((v) => v.split("/")[0]);
    },
    chartOf(node) {
      return node.startsWith("helm_release.") ? resources.get(node)!.chart : undefined;
    },
  };
}

/** Every violation of the two ordering rules, one line each. */
export function orderingViolations(json: Json): string[] {
  const g = stackGraph(json);
  const out: string[] = [];
  const releasesOf = (chart: string) => g.nodes.filter((n) => g.chartOf(n) === chart);
  for (const node of g.nodes) {
    for (const namespace of g.namespacesOf(node)) {
      const creator = g.namespaceCreators.get(namespace);
      if (creator && creator !== node && !g.dependsOn(node, creator)) {
        out.push(`${node} is in namespace ${namespace} but does not depend on ${creator}, which creates it`);
      }
    }
    for (const group of new Set(g.customResourceGroups(node))) {
      const chart = CRD_CHARTS[group];
      if (!chart) {
        out.push(`${node} applies ${group} objects, whose CRD no known chart installs (add it to CRD_CHARTS)`);
        continue;
      }
      for (const release of releasesOf(chart)) {
        if (!g.dependsOn(node, release)) out.push(`${node} applies ${group} objects but does not depend on ${release}, which installs their CRDs`);
      }
    }
  }
  return out;
}
