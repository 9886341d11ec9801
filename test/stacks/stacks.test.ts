import "cdktf/lib/testing/adapters/jest";
import { CHARTS, EXACT_VERSION } from "../../constructs/versions";
import { ENVIRONMENTS, EnvironmentConfig, modelStackName, platformStackName } from "../../stacks";
import { parse } from "yaml";
import { crdErrors, Json, wrap } from "../constructs/support/harness";
import { synthAll } from "./support/synth";

/**
 * The synthesized stack as snapshotted: infrastructure verbatim, but alert rule and dashboard bodies (owned and
 * tested by alerts/ and dashboards/, edited independently) reduced to their names, so a threshold tweak there
 * does not churn these snapshots while a new rule group or dashboard still shows up.
 */
function snapshotView(json: Json): Json {
  const view = structuredClone(json);
  const ruleNames = (o: Json) =>
    o?.kind === "PrometheusRule"
      ? { ...o, spec: { groups: o.spec.groups.map((g: Json) => ({ name: g.name, rules: g.rules.map((r: Json) => r.alert ?? r.record) })) } }
      : o;
  for (const m of Object.values<Json>(view.resource?.kubernetes_manifest ?? {})) m.manifest = ruleNames(m.manifest);
  for (const c of Object.values<Json>(view.resource?.kubernetes_config_map_v1 ?? {})) {
    if (c.metadata?.labels?.grafana_dashboard !== "1") continue;
    c.data = Object.fromEntries(Object.entries<string>(c.data).map(([file, body]) => [file, { dashboardUid: JSON.parse(body).uid }]));
  }
  for (const r of Object.values<Json>(view.resource?.helm_release ?? {})) {
    const values = parse(r.values[0]) ?? {};
    if (values.objects) values.objects = values.objects.map(ruleNames);
    if (values.alertmanager?.config) values.alertmanager.config = { receivers: values.alertmanager.config.receivers?.map((x: Json) => x.name) };
    r.values = [values];
  }
  return view;
}

const all = synthAll(Object.values(ENVIRONMENTS));
const stack = (name: string) => wrap(all.get(name)!);
let second: Map<string, Json> | undefined;
/** A second, independent synth of everything (for the stability check), made once. */
const synthAgain = () => (second ??= synthAll(Object.values(ENVIRONMENTS)));

describe("stacks", () => {
  it("one platform stack per environment, one stack per model per environment, CI roles where CI deploys", () => {
    expect([...all.keys()].sort()).toEqual([
      "ci-prod",
      "ci-staging",
      "model-flight-delay-dev",
      "model-flight-delay-prod",
      "model-flight-delay-staging",
      "platform-dev",
      "platform-prod",
      "platform-staging",
    ]);
  });

  it.each([...all.keys()].sort())("%s: synth is stable, path-free, and matches its snapshot", (name) => {
    expect(synthAgain().get(name)).toEqual(all.get(name));
    const text = JSON.stringify(all.get(name));
    expect(text).not.toContain(process.cwd());
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    expect(snapshotView(all.get(name)!)).toMatchSnapshot();
  });

  it("custom resources of every stack validate against their CRD schemas", () => {
    expect(crdErrors([...all.keys()].flatMap((name) => stack(name).customResources()))).toEqual([]);
  });

  it.each([...all.keys()].sort())("%s: S3 remote state with locking, one key per stack, every chart pinned", (name) => {
    const s = stack(name);
    const env = name.split("-").pop()!;
    expect(s.json.terraform.backend.s3).toEqual({
      bucket: `modelport-tfstate-${env}`,
      key: `${name}/terraform.tfstate`,
      region: "eu-west-1",
      encrypt: true,
      use_lockfile: true,
    });
    for (const r of s.resources("helm_release").filter((r) => r.repository)) expect(r.version).toMatch(EXACT_VERSION);
  });

  it("dev: existing cluster by kubeconfig, CloudNativePG + SeaweedFS, no GPU, no AWS", () => {
    const p = stack("platform-dev");
    expect(p.json.provider.kubernetes).toEqual([{ config_path: "~/.kube/config", config_context: "kind-modelport" }]);
    expect(p.json.provider.aws).toBeUndefined();
    expect(Object.keys(p.json.resource).filter((t) => t.startsWith("aws_"))).toEqual([]);
    expect(p.customResources().map((o) => o.kind)).toContain("Cluster");
    expect(p.named("kubernetes_deployment_v1", "seaweedfs")).toBeDefined();
    expect(p.resources("helm_release").map((r) => r.chart)).not.toContain(CHARTS.nvidiaDevicePlugin.chart);
  });

  it.each(["staging", "prod"])("%s: EKS, GPU pool, RDS and a private S3 bucket", (env) => {
    const p = stack(platformStackName(env));
    expect(p.resources("aws_eks_cluster")).toHaveLength(1);
    const gpu = p.resources("aws_eks_node_group").find((g) => g.node_group_name === "gpu")!;
    expect(gpu.ami_type).toBe("AL2023_x86_64_NVIDIA");
    expect(gpu.instance_types).toEqual(ENVIRONMENTS[env as "prod"].gpuPool!.instanceTypes);
    expect(p.resources("aws_db_instance")).toHaveLength(1);
    expect(p.resources("aws_s3_bucket_public_access_block")[0].restrict_public_buckets).toBe(true);
    expect(p.resources("helm_release").map((r) => r.chart)).toEqual(expect.arrayContaining(["nvidia-device-plugin", "dcgm-exporter"]));
  });

  it("prod model stack: canary weight from the config, IRSA only for the drift job, cluster looked up by name", () => {
    const m = stack(modelStackName("prod", "flight-delay"));
    const vs = m.resources("kubernetes_manifest").map((r) => r.manifest).find((o: Json) => o.kind === "VirtualService");
    const split = vs.spec.http.find((r: Json) => r.name === "split");
    const canary = ENVIRONMENTS.prod.models[0].canary!.weight;
    expect(split.route.map((r: Json) => r.weight)).toEqual([100 - canary, canary]);
    expect(m.json.data.aws_eks_cluster).toBeDefined();
    // Variants load models through MLflow's artifact proxy and call no AWS API: no role to assume.
    expect(m.resources("aws_iam_role").map((r) => r.name)).toEqual(["modelport-prod-flight-delay-drift"]);
  });

  it("adding a second model to an environment adds exactly one stack and changes nothing else", () => {
    const withChurn: EnvironmentConfig = {
      ...ENVIRONMENTS.dev,
      models: [
        ...ENVIRONMENTS.dev.models,
        {
          name: "churn",
          image: "ghcr.io/modelport/modelport-service:0.1.0",
          stable: { replicas: { min: 1, max: 2 } },
          drift: { referenceUri: "s3://modelport/datasets/churn/reference.parquet" },
        },
      ],
    };
    const envs = [withChurn, ENVIRONMENTS.staging, ENVIRONMENTS.prod];
    const after = synthAll(envs);
    expect([...after.keys()].filter((k) => !all.has(k))).toEqual([modelStackName("dev", "churn")]);
    for (const [name, json] of all) expect(after.get(name)).toEqual(json);
    const churn = wrap(after.get(modelStackName("dev", "churn"))!);
    expect(churn.named("kubernetes_deployment_v1", "churn-stable").spec.template.spec.container[0].env).toContainEqual({
      name: "MODEL_URI",
      value: "models:/churn@champion",
    });
  });

  it("an environment with a prediction-log catalog gets the Glue database and both tables in its platform stack, nothing else changes", () => {
    const withCatalog: EnvironmentConfig = { ...ENVIRONMENTS.prod, predictionLogCatalog: { bucket: "modelport-prod-prediction-log", prefix: "log" } };
    const after = synthAll([ENVIRONMENTS.dev, ENVIRONMENTS.staging, withCatalog]);
    const platform = wrap(after.get(platformStackName("prod"))!);
    expect(platform.resources("aws_glue_catalog_table").map((t) => t.name).sort()).toEqual(["feedback", "predictions"]);
    expect(platform.json.output.PredictionLogUrl.value).toBe("s3://modelport-prod-prediction-log/log");
    for (const [name, json] of all) if (name !== platformStackName("prod")) expect(after.get(name)).toEqual(json);
    expect(() => synthAll([{ ...ENVIRONMENTS.dev, predictionLogCatalog: { bucket: "b-log" } }])).toThrow(/predictionLogCatalog \(Glue, Athena\) needs an EKS cluster/);
  });

  it("rejects a model listed twice in one environment", () => {
    const dup = { ...ENVIRONMENTS.dev, models: [ENVIRONMENTS.dev.models[0], ENVIRONMENTS.dev.models[0]] };
    expect(() => synthAll([dup])).toThrow(/model "flight-delay" is listed twice/);
  });
});
