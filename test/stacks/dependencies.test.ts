// Ordering a first apply on an empty cluster needs, checked over the synthesized JSON of every stack: a resource in a
// namespace its stack creates waits for that namespace, and a custom resource waits for the release installing its CRD.
import { ENVIRONMENTS } from "../../stacks";
import type { Json } from "../constructs/support/harness";
import { orderingViolations, stackGraph } from "./support/dependencies";
import { synthAll } from "./support/synth";

const all = synthAll(Object.values(ENVIRONMENTS));

describe("the ordering check", () => {
  const stack = (configMap: Json): Json => ({
    resource: {
      kubernetes_namespace_v1: { ns: { metadata: { name: "team" } } },
      helm_release: {
        operator: { name: "kps", namespace: "team", chart: "kube-prometheus-stack", depends_on: ["kubernetes_namespace_v1.ns"] },
        rules: {
          name: "rules",
          namespace: "team",
          chart: "./assets/manifests",
          values: ["objects:\n  - apiVersion: monitoring.coreos.com/v1\n    kind: PrometheusRule\n    metadata: {name: r, namespace: team}\n"],
          depends_on: ["kubernetes_namespace_v1.ns"],
        },
      },
      kubernetes_config_map_v1: { cm: configMap },
    },
  });

  it("follows depends_on and ${} references transitively", () => {
    const g = stackGraph(stack({ metadata: { name: "cm", namespace: "${kubernetes_namespace_v1.ns.metadata[0].name}" } }));
    expect(g.dependsOn("kubernetes_config_map_v1.cm", "kubernetes_namespace_v1.ns")).toBe(true);
    expect(g.dependsOn("helm_release.rules", "helm_release.operator")).toBe(false);
  });

  it("names a resource that races its namespace and a custom resource that races its CRD", () => {
    expect(orderingViolations(stack({ metadata: { name: "cm", namespace: "team" } }))).toEqual([
      "helm_release.rules applies monitoring.coreos.com objects but does not depend on helm_release.operator, which installs their CRDs",
      "kubernetes_config_map_v1.cm is in namespace team but does not depend on kubernetes_namespace_v1.ns, which creates it",
    ]);
  });
});

describe.each([...all.keys()].sort())("%s", (name) => {
  it("every resource in a namespace the stack creates depends on it; every custom resource on its CRD's release", () => {
    expect(orderingViolations(all.get(name)!)).toEqual([]);
  });
});
