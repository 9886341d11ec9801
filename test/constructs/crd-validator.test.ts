import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CHARTS } from "../../constructs/versions";
import { crdProblems, fieldPath } from "./support/crd-validator";

const FIXTURES = join(__dirname, "..", "fixtures", "crds");
const sidecar = (spec: object, extra: object = {}) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "Sidecar",
  metadata: { name: "svc", namespace: "models", labels: { "app.kubernetes.io/name": "svc" } },
  spec,
  ...extra,
});
const rule = (strategy: string) => ({
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: { name: "r", namespace: "monitoring" },
  spec: { groups: [{ name: "g", partial_response_strategy: strategy, rules: [{ record: "x:y", expr: "1" }] }] },
});

describe("CRD validator (schemas of the pinned charts' CRDs)", () => {
  it("vendors CRDs for exactly the pinned chart versions, as listed in each source.json", () => {
    for (const { chart, version } of [CHARTS.istioBase, CHARTS.kubePrometheusStack, CHARTS.cloudnativePg]) {
      const source = JSON.parse(readFileSync(join(FIXTURES, chart, version, "source.json"), "utf8"));
      expect(source).toMatchObject({ chart, version, commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
      expect(readdirSync(join(FIXTURES, chart, version)).filter((f) => f.endsWith(".yaml")).sort()).toEqual(source.files);
    }
  });

  it("accepts a valid object, maps with any keys, and unknown fields where the CRD preserves them (Istio status)", () => {
    const valid = sidecar(
      { workloadSelector: { labels: { "app.kubernetes.io/name": "svc" } }, inboundConnectionPool: { tcp: { maxConnections: 1024 } } },
      { status: { anything: { goes: 1 } } },
    );
    expect(crdProblems(valid)).toEqual([]);
  });

  it("names the field of a wrong type, an unknown field (a typo the API server would silently drop) and a bad enum value", () => {
    expect(crdProblems(sidecar({ inboundConnectionPool: { tcp: { maxConnections: "many" } } }))).toEqual([
      "spec.inboundConnectionPool.tcp.maxConnections must be integer",
    ]);
    expect(crdProblems(sidecar({ inboundConnectionPool: { tcp: { maxConection: 10 } } }))).toEqual([
      "spec.inboundConnectionPool.tcp.maxConection is not a field of the CRD schema",
    ]);
    expect(crdProblems(sidecar({}, { metadata: { name: "svc", labels: { "app.kubernetes.io/name": 1 } } }))).toEqual([
      'metadata.labels["app.kubernetes.io/name"] must be string',
    ]);
    const peer = { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "p" }, spec: { mtls: { mode: "STRICTEST" } } };
    expect(crdProblems(peer)).toEqual(['spec.mtls.mode must be one of ["UNSET","DISABLE","PERMISSIVE","STRICT"]']);
  });

  it("checks int32 ranges, minimums and Go (RE2) patterns such as a leading (?i)", () => {
    expect(crdProblems(sidecar({ inboundConnectionPool: { tcp: { maxConnections: 2 ** 31 } } }))).toEqual([
      'spec.inboundConnectionPool.tcp.maxConnections must match format "int32"',
    ]);
    const cluster = { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", metadata: { name: "db" }, spec: { instances: 0 } };
    expect(crdProblems(cluster)).toEqual(["spec.instances must be >= 1"]);
    expect(crdProblems(rule("WARN"))).toEqual([]);
    expect(crdProblems(rule("sometimes"))).toEqual([expect.stringMatching(/^spec\.groups\[0\]\.partial_response_strategy must match pattern/)]);
  });

  it("refuses an apiVersion or kind no pinned chart serves", () => {
    expect(crdProblems({ ...sidecar({}), apiVersion: "networking.istio.io/v2" })).toEqual([
      expect.stringMatching(/^no CRD served for apiVersion networking.istio.io\/v2 kind Sidecar in the pinned charts \(base 1.29.2,/),
    ]);
    expect(crdProblems({ ...sidecar({}), kind: "Sidecars" })).toEqual([expect.stringMatching(/^no CRD served for apiVersion networking.istio.io\/v1 kind Sidecars/)]);
  });

  it("writes JSON pointers as field paths", () => {
    expect(fieldPath("/spec/http/0/route/1/weight")).toBe("spec.http[0].route[1].weight");
    expect(fieldPath("/metadata/annotations/a~1b~0c")).toBe('metadata.annotations["a/b~c"]');
    expect(fieldPath("")).toBe("");
  });
});
