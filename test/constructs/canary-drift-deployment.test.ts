import "cdktf/lib/testing/adapters/jest";
import { CanaryRelease, CanaryReleaseProps } from "../../constructs/canary-release";
import { DriftMonitor, DriftMonitorProps } from "../../constructs/drift-monitor";
import { VARIANT_LABEL } from "../../constructs/inference-service";
import { ModelDeployment, ModelDeploymentProps, PlatformEndpoints } from "../../constructs/model-deployment";
import { isAlertRule, modelRuleGroups } from "../../alerts";
import { modelDashboards } from "../../dashboards";
import { ENV, GRPC_PORT, GRPC_PORT_NAME, SERVICE_PORT, VARIANT_HEADER } from "../../service/src/contract";
import { crdErrors, Json, NETWORK, PLATFORM, synth } from "./support/harness";

const canaryBase: CanaryReleaseProps = {
  model: "flight-delay",
  namespace: "models",
  hosts: ["flight-delay.models.example.com"],
  gateway: "istio-ingress/modelport",
  weights: { stable: 90, canary: 10 },
  hasCanary: true,
  shadowPercent: 5,
};
const manifests = (out: ReturnType<typeof synth>, kind: string) =>
  out.resources("kubernetes_manifest").map((m) => m.manifest).filter((m: Json) => m.kind === kind);

describe("CanaryRelease", () => {
  const out = synth((stack) => new CanaryRelease(stack, "release", canaryBase));
  const [vs] = manifests(out, "VirtualService");
  const [dr] = manifests(out, "DestinationRule");

  it("splits traffic by weights that sum to 100 and mirrors a share to the shadow", () => {
    const split = vs.spec.http.find((r: Json) => r.name === "split");
    const weights = Object.fromEntries(split.route.map((r: Json) => [r.destination.subset, r.weight]));
    expect(weights).toEqual({ stable: 90, canary: 10 });
    expect(split.route.reduce((sum: number, r: Json) => sum + r.weight, 0)).toBe(100);
    expect(split.mirror.subset).toBe("shadow");
    expect(split.mirrorPercentage).toEqual({ value: 5 });
    expect(split).toMatchObject({ timeout: "10s", retries: { attempts: 2, perTryTimeout: "2s" } });
  });

  it("pins a request to the canary with the x-model-variant header, ahead of the split", () => {
    const names = vs.spec.http.map((r: Json) => r.name);
    expect(names.indexOf("pin-canary")).toBeLessThan(names.indexOf("split"));
    const pin = vs.spec.http.find((r: Json) => r.name === "pin-canary");
    expect(pin.match).toEqual([{ headers: { [VARIANT_HEADER]: { exact: "canary" } } }]);
    expect(pin.route).toEqual([expect.objectContaining({ weight: 100, destination: expect.objectContaining({ subset: "canary" }) })]);
    expect(vs.spec.gateways).toEqual(["istio-ingress/modelport", "mesh"]);
  });

  it("routes gRPC like HTTP (same pins, weights, mirror, retries) to the grpc port, ahead of the HTTP routes", () => {
    const names = vs.spec.http.map((r: Json) => r.name);
    expect(names).toEqual(["grpc-pin-canary", "grpc-pin-stable", "grpc-split", "pin-canary", "pin-stable", "split"]);
    const grpc = { "content-type": { prefix: "application/grpc" } };
    for (const [grpcName, httpName] of [["grpc-pin-canary", "pin-canary"], ["grpc-pin-stable", "pin-stable"], ["grpc-split", "split"]]) {
      const g = vs.spec.http.find((r: Json) => r.name === grpcName);
      const h = vs.spec.http.find((r: Json) => r.name === httpName);
      // Every gRPC route matches gRPC only; otherwise it is its HTTP twin on the other port.
      expect(g.match.every((m: Json) => m.headers["content-type"].prefix === "application/grpc")).toBe(true);
      const retarget = (route: Json, port: number) => JSON.parse(JSON.stringify(route).replaceAll(`"number":${port}`, '"number":"PORT"'));
      const { name: _g, match: gm, ...gRest } = g;
      const { name: _h, match: hm, ...hRest } = h;
      expect(retarget(gRest, GRPC_PORT)).toEqual(retarget(hRest, SERVICE_PORT));
      expect(gm).toEqual(hm ? hm.map((m: Json) => ({ headers: { ...grpc, ...m.headers } })) : [{ headers: grpc }]);
    }
    expect(vs.spec.http.find((r: Json) => r.name === "grpc-split").mirror).toEqual({ host: expect.any(String), subset: "shadow", port: { number: GRPC_PORT } });
    const svc = out.named("kubernetes_service_v1", "flight-delay");
    expect(svc.spec.port.find((p: Json) => p.name === GRPC_PORT_NAME)).toMatchObject({ port: GRPC_PORT, app_protocol: "grpc" });
  });

  it("DestinationRule subsets select pods by the variant label, mTLS to them", () => {
    expect(dr.spec.subsets).toEqual(["stable", "canary", "shadow"].map((name) => ({ name, labels: { [VARIANT_LABEL]: name } })));
    expect(dr.spec.trafficPolicy.tls.mode).toBe("ISTIO_MUTUAL");
  });

  it("VirtualService and DestinationRule validate against the Istio CRD schemas", () => {
    expect(crdErrors([vs, dr])).toEqual([]);
    // The validator does reject a broken object (a string weight).
    const broken = structuredClone(vs);
    broken.spec.http[2].route[0].weight = "ninety";
    expect(crdErrors([broken])).toEqual([expect.stringMatching(/: spec\.http\[2\]\.route\[0\]\.weight must be integer$/)]);
  });

  it("without a canary or shadow: stable only, at 100", () => {
    const only = synth((stack) => new CanaryRelease(stack, "r", { ...canaryBase, weights: undefined, hasCanary: false, shadowPercent: undefined }));
    const [v] = manifests(only, "VirtualService");
    expect(v.spec.http.map((r: Json) => r.name)).toEqual(["grpc-pin-stable", "grpc-split", "pin-stable", "split"]);
    for (const split of [v.spec.http[1], v.spec.http[3]]) {
      expect(split.route).toEqual([expect.objectContaining({ weight: 100 })]);
      expect(split.mirror).toBeUndefined();
    }
  });

  it.each([
    [{ weights: { stable: 90, canary: 20 } }, /weights must sum to 100, got stable 90 \+ canary 20 = 110/],
    [{ weights: { stable: 110, canary: -10 } }, /stable weight must be an integer 0..100, got 110/],
    [{ weights: { stable: 50.5, canary: 49.5 } }, /stable weight must be an integer/],
    [{ hasCanary: false }, /canary weight is 10 but no canary variant is deployed/],
    [{ shadowPercent: 0 }, /shadowPercent must be in \(0, 100\]/],
    [{ timeout: "10 seconds" }, /timeout "10 seconds" must be a duration/],
    [{ gateway: "modelport" }, /gateway "modelport" must be "<namespace>\/<name>"/],
  ])("rejects %p", (override, message) => {
    expect(() => synth((stack) => new CanaryRelease(stack, "r", { ...canaryBase, ...override }))).toThrow(message);
  });
});

const driftBase: DriftMonitorProps = {
  model: "flight-delay",
  namespace: "models",
  image: "ghcr.io/modelport/modelport-service:0.1.0",
  referenceUri: "s3://bucket/datasets/flight-delay/reference.parquet",
  reportBucket: "bucket",
  predictionLog: { secretName: "prediction-log", key: "url" },
  pushgatewayUrl: "http://pushgateway.monitoring.svc.cluster.local:9091",
  aws: { region: "eu-west-1", irsa: { oidcProviderArn: "arn:oidc", oidcIssuer: "oidc.example/id/X" }, roleName: "prod-fd-drift" },
};

describe("DriftMonitor", () => {
  const out = synth((stack) => new DriftMonitor(stack, "drift", driftBase));
  const cron = out.named("kubernetes_cron_job_v1", "flight-delay-drift").spec;
  const job = cron.job_template.spec;
  const c = job.template.spec.container[0];

  it("runs the drift CLI from the service image with the model, window, reference and report location", () => {
    expect(c.command).toEqual([
      "node", "dist/service/src/drift/cli.js", "--model", "flight-delay", "--window", "24h", "--task", "binary",
      "--reference", driftBase.referenceUri, "--out", "s3://bucket",
    ]);
    expect(c.working_dir).toBe("/app");
  });

  it("never overlaps and is bounded", () => {
    expect(cron).toMatchObject({ concurrency_policy: "Forbid", schedule: "17 * * * *", successful_jobs_history_limit: 3, failed_jobs_history_limit: 3 });
    expect(job).toMatchObject({ backoff_limit: 2, active_deadline_seconds: 1800 });
  });

  it("gets the prediction-log URL from the Secret, the Pushgateway URL and the AWS region", () => {
    const env = Object.fromEntries(c.env.map((e: Json) => [e.name, e.value ?? e.value_from]));
    expect(env[ENV.predictionLogUrl]).toEqual({ secret_key_ref: { name: "prediction-log", key: "url" } });
    expect(env[ENV.pushgatewayUrl]).toBe(driftBase.pushgatewayUrl);
    expect(env[ENV.awsRegion]).toBe("eu-west-1");
    expect(env[ENV.mlflowS3EndpointUrl]).toBeUndefined();
  });

  it("IRSA role may only write reports and read the reference", () => {
    const policy = JSON.parse(out.resources("aws_iam_role_policy")[0].policy);
    expect(policy.Statement).toEqual([
      { Effect: "Allow", Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::bucket/drift-reports/*"] },
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::bucket/datasets/flight-delay/reference.parquet"] },
    ]);
    const trust = JSON.parse(out.named("aws_iam_role", "prod-fd-drift").assume_role_policy);
    expect(trust.Statement[0].Condition.StringEquals["oidc.example/id/X:sub"]).toBe("system:serviceaccount:models:flight-delay-drift");
  });

  it("with an in-cluster S3 server: endpoint and credentials from the Secret", () => {
    const dev = synth((stack) =>
      new DriftMonitor(stack, "d", { ...driftBase, aws: undefined, s3Endpoint: { url: "http://seaweedfs.mlflow:8333", credentialsSecret: "artifact-store-credentials" } }),
    );
    const env = dev.named("kubernetes_cron_job_v1", "flight-delay-drift").spec.job_template.spec.template.spec.container[0].env;
    const byName = Object.fromEntries(env.map((e: Json) => [e.name, e.value ?? e.value_from]));
    expect(byName[ENV.mlflowS3EndpointUrl]).toBe("http://seaweedfs.mlflow:8333");
    expect(byName.AWS_SECRET_ACCESS_KEY).toEqual({ secret_key_ref: { name: "artifact-store-credentials", key: "AWS_SECRET_ACCESS_KEY" } });
  });

  it.each([
    [{ schedule: "every hour" }, /schedule "every hour" must be a 5-field cron/],
    [{ backoffLimit: -1 }, /backoffLimit must be an integer >= 0, got -1/],
    [{ window: "1 day" }, /window "1 day"/],
    [{ aws: undefined }, /give `aws`.*or `s3Endpoint`/],
  ])("rejects %p", (override, message) => {
    expect(() => synth((stack) => new DriftMonitor(stack, "d", { ...driftBase, ...override }))).toThrow(message);
  });
});

const platform: PlatformEndpoints = PLATFORM;
const deploymentBase: ModelDeploymentProps = {
  model: "flight-delay",
  image: "ghcr.io/modelport/modelport-service:0.1.0",
  platform,
  hosts: ["flight-delay.models.example.com"],
  namePrefix: "modelport-dev",
  canary: { weight: 25 },
  drift: { referenceUri: "s3://modelport/datasets/flight-delay/reference.parquet" },
};

describe("ModelDeployment", () => {
  const out = synth((stack) => new ModelDeployment(stack, "model", deploymentBase));

  it("deploys stable and canary serving different registry aliases", () => {
    const uris = out.resources("kubernetes_deployment_v1").map((d) => [
      d.metadata.name,
      d.spec.template.spec.container[0].env.find((e: Json) => e.name === ENV.modelUri).value,
    ]).sort();
    expect(uris).toEqual([
      ["flight-delay-canary", "models:/flight-delay@challenger"],
      ["flight-delay-stable", "models:/flight-delay@champion"],
    ]);
  });

  it("routes 75/25 and schedules the drift job", () => {
    const vs = out.resources("kubernetes_manifest").map((m) => m.manifest).find((m: Json) => m.kind === "VirtualService");
    const split = vs.spec.http.find((r: Json) => r.name === "split");
    expect(split.route.map((r: Json) => r.weight)).toEqual([75, 25]);
    expect(out.resources("kubernetes_cron_job_v1")).toHaveLength(1);
  });

  it("ships the model's alert rules as a PrometheusRule with the release label; every custom resource is schema-valid", () => {
    const rule = out.resources("kubernetes_manifest").map((m) => m.manifest).find((m: Json) => m.kind === "PrometheusRule");
    expect(rule.metadata).toMatchObject({ name: "flight-delay-rules", namespace: "models", labels: { release: "kps" } });
    expect(rule.spec.groups.length).toBeGreaterThan(0);
    expect(JSON.stringify(rule.spec.groups)).toContain("flight-delay");
    expect(crdErrors(out.customResources())).toEqual([]);
  });

  it("ships exactly the model's dashboards (modelDashboards) as ConfigMaps for Grafana's sidecar", () => {
    const maps = out.resources("kubernetes_config_map_v1");
    const expected = modelDashboards("flight-delay");
    expect(maps.map((m) => Object.keys(m.data)[0]).sort()).toEqual(expected.map((d) => d.fileName).sort());
    for (const m of maps) {
      expect(m.metadata.labels.grafana_dashboard).toBe("1");
      expect(m.metadata.namespace).toBe("monitoring");
      const [json] = Object.values(m.data) as string[];
      expect(() => JSON.parse(json)).not.toThrow();
    }
  });

  it("builds rules, dashboards and the drift job for its task from one set of alert options", () => {
    const alertOptions = { runbookBaseUrl: "https://wiki.example.com/runbooks", thresholds: { latencyP99Seconds: 0.37, maeRelativeRise: 0.35 } };
    const regression = synth((stack) => new ModelDeployment(stack, "m", { ...deploymentBase, task: "regression", alertOptions }));
    const expectedOptions = { ...alertOptions, task: "regression" as const };
    const rule = regression.resources("kubernetes_manifest").map((m) => m.manifest).find((m: Json) => m.kind === "PrometheusRule");
    expect(rule.spec.groups).toEqual(JSON.parse(JSON.stringify(modelRuleGroups("flight-delay", expectedOptions))));
    const maps = Object.fromEntries(regression.resources("kubernetes_config_map_v1").map((m) => Object.entries(m.data)[0] as [string, string]));
    for (const dashboard of modelDashboards("flight-delay", expectedOptions)) expect(JSON.parse(maps[dashboard.fileName])).toEqual(JSON.parse(JSON.stringify(dashboard.json)));
    // What the dashboards link and draw is the rules': the custom runbook base and the 0.37 s latency line.
    const urls = new Set(rule.spec.groups.flatMap((g: Json) => g.rules.filter(isAlertRule).map((r: Json) => r.annotations.runbook_url)));
    const service = JSON.parse(maps["modelport-flight-delay-service.json"]);
    const links = service.panels.flatMap((p: Json) => (p.links ?? []).map((l: Json) => l.url));
    expect(links.length).toBeGreaterThan(5);
    for (const url of links) expect(urls).toContain(url);
    const p99 = service.panels.find((p: Json) => p.title === "p99 latency");
    expect(p99.fieldConfig.defaults.thresholds.steps.at(-1)).toEqual({ value: 0.37, color: "red" });
    expect(service.panels.map((p: Json) => p.title)).toContain("MAE vs baseline");
    const drift = regression.named("kubernetes_cron_job_v1", "flight-delay-drift").spec.job_template.spec.template.spec.container[0];
    expect(drift.command.join(" ")).toContain("--task regression");
  });

  it("rejects a task the contract does not know", () => {
    expect(() => synth((stack) => new ModelDeployment(stack, "m", { ...deploymentBase, task: "ranking" as never }))).toThrow(/task "ranking" must be one of binary, multiclass, regression, tensor/);
  });

  it("runs variants that ask for GPUs on the GPU image: the tag's -gpu build, or gpuImage", () => {
    const images = (props: Partial<ModelDeploymentProps>) =>
      Object.fromEntries(
        synth((stack) => new ModelDeployment(stack, "m", { ...deploymentBase, ...props }))
          .resources("kubernetes_deployment_v1")
          .map((d) => [d.metadata.name, d.spec.template.spec.container[0].image]),
      );
    const gpuCanary = { canary: { weight: 10, gpus: 1 } };
    expect(images(gpuCanary)).toEqual({ "flight-delay-stable": deploymentBase.image, "flight-delay-canary": `${deploymentBase.image}-gpu` });
    expect(images({ ...gpuCanary, gpuImage: "registry.example/gpu@sha256:abc" })["flight-delay-canary"]).toBe("registry.example/gpu@sha256:abc");
    expect(() => images({ ...gpuCanary, image: "registry.example/svc@sha256:abc" })).toThrow(/has no tag to derive the GPU image from; set gpuImage/);
  });

  it("rejects two variants serving the same alias", () => {
    expect(() =>
      synth((stack) => new ModelDeployment(stack, "m", { ...deploymentBase, canary: { weight: 10, alias: "champion" } })),
    ).toThrow(/canary and stable both serve alias "champion"/);
  });

  it("rejects an out-of-range canary weight with the CanaryRelease message", () => {
    expect(() => synth((stack) => new ModelDeployment(stack, "m", { ...deploymentBase, canary: { weight: 120 } }))).toThrow(
      /stable weight must be an integer 0..100, got -20/,
    );
  });
});
