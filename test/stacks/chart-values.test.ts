// Every Helm value the stacks set, checked against the pinned chart's own values.yaml and values.schema.json
// (vendored at the exact tag, test/fixtures/charts/): a key the chart version does not read, a value its schema
// rejects, or a chart bumped in constructs/versions.ts without refreshed fixtures fails here, before a deploy does.
import { parse } from "yaml";
import { CHARTS } from "../../constructs/versions";
import { ENVIRONMENTS } from "../../stacks";
import { Json, wrap } from "../constructs/support/harness";
import { chartFixture, ChartFixture, helmMerge, KeyCheckOptions, schemaErrors, unknownKeys, userFacingDefaults } from "./support/charts";
import { synthAll } from "./support/synth";

/** Values a chart hands on verbatim to a format with its own checks. */
const PASS_THROUGH: Record<string, KeyCheckOptions["passThrough"]> = {
  // Alertmanager's configuration: checked by amtool after Helm's merge (alertmanager-config.test.ts).
  "kube-prometheus-stack": ["alertmanager.config"],
  // Istio MeshConfig, rendered into the mesh ConfigMap as given (templates/configmap.yaml).
  istiod: ["meshConfig"],
};

/** Chart defaults as users address them, with the defaults of every vendored subchart under its alias. */
function knownDefaults(fixture: ChartFixture): Json {
  const defaults = userFacingDefaults(fixture.values);
  for (const dep of (fixture.chartYaml.dependencies ?? []) as Json[]) {
    const alias = dep.alias ?? dep.name;
    let sub: ChartFixture;
    try {
      sub = chartFixture(dep.name, String(dep.version));
    } catch {
      continue; // not vendored: keys under it are checked against the parent's section only
    }
    defaults[alias] = helmMerge(userFacingDefaults(sub.values), defaults[alias]);
  }
  return defaults;
}

const all = synthAll(Object.values(ENVIRONMENTS));
const releases = [...all].flatMap(([stack, json]) =>
  wrap(json)
    .resources("helm_release")
    .filter((r) => r.repository)
    .map((r) => ({ stack, name: r.name as string, chart: r.chart as string, version: r.version as string, values: (parse(r.values[0]) ?? {}) as Json })),
);
const cases = releases.map((r) => [`${r.stack}: ${r.name} (${r.chart} ${r.version})`, r] as const);

describe("the checks themselves", () => {
  it("merge like Helm: maps merge, lists and scalars are replaced, null deletes", () => {
    const merged = helmMerge({ a: { b: 1, c: [1, 2] }, d: "x", e: 1 }, { a: { c: [3] }, d: null, f: 2 });
    expect(merged).toEqual({ a: { b: 1, c: [3] }, e: 1, f: 2 });
  });

  it("name keys the chart does not read, and stop at free-form maps and pass-through paths", () => {
    const defaults = { pilot: undefined, resources: {}, service: { type: "ClusterIP" }, meshConfig: { enablePrometheusMerge: true } };
    const set = { pilots: {}, resources: { limits: { cpu: "1" } }, service: { typo: 1 }, meshConfig: { accessLogFile: "/dev/stdout" } };
    expect(unknownKeys(defaults, set, { passThrough: ["meshConfig"] })).toEqual([
      "pilots is not a value of this chart version",
      "service.typo is not a value of this chart version",
    ]);
    const schema = { type: "object", properties: { labels: { type: "object" }, service: { $ref: "#/$defs/service" } }, $defs: { service: { type: "object", properties: { type: {} }, additionalProperties: false } } };
    expect(unknownKeys({ labels: { a: "b" }, service: {} }, { labels: { istio: "x" }, service: { typo: 1 } }, { schema })).toEqual([
      "service.typo is not a value of this chart version",
    ]);
  });

  it("report what the chart's schema rejects", () => {
    const schema = { $schema: "http://json-schema.org/schema#", type: "object", properties: { replicas: { type: "integer" } } };
    expect(schemaErrors(schema, { replicas: "two" })).toEqual(['/replicas must be integer {"type":"integer"}']);
  });
});

describe("vendored chart values", () => {
  it.each(Object.values(CHARTS).map((c) => [`${c.chart} ${c.version}`, c] as const))("%s is vendored at exactly the pinned version", (_name, ref) => {
    const fixture = chartFixture(ref.chart, ref.version);
    expect(fixture.source).toMatchObject({ chart: ref.chart, version: ref.version });
    // Istio stamps chart versions at release time (its Chart.yaml in git says 1.0.0): there the tag is the version.
    if (fixture.source.tag === ref.version) expect(fixture.source.repository).toBe("https://github.com/istio/istio");
    else expect(String(fixture.chartYaml.version)).toBe(ref.version);
    expect(fixture.source.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it("a version bump without refreshed fixtures fails and says what to vendor", () => {
    expect(() => chartFixture(CHARTS.kubePrometheusStack.chart, "999.0.0")).toThrow(
      /no vendored values for chart kube-prometheus-stack 999\.0\.0: copy its Chart\.yaml, values\.yaml/,
    );
  });

  it("the stacks install every pinned chart somewhere (so each fixture is exercised)", () => {
    expect(new Set(releases.map((r) => r.chart))).toEqual(new Set(Object.values(CHARTS).map((c) => c.chart)));
  });
});

describe.each(cases)("%s", (_name, release) => {
  const fixture = chartFixture(release.chart, release.version);

  it("sets only keys this chart version reads", () => {
    expect(unknownKeys(knownDefaults(fixture), release.values, { passThrough: PASS_THROUGH[release.chart], schema: fixture.schema })).toEqual([]);
  });

  it("passes the chart's values.schema.json after Helm's merge", () => {
    expect(schemaErrors(fixture.schema, helmMerge(fixture.values, release.values))).toEqual([]);
  });
});
