/**
 * PromotionJob: the CronJob that runs `npm run promote` from the service image, its egress-only NetworkPolicy,
 * validation, and the command it synthesizes accepted by the real CLI (a flag the CLI does not know would fail
 * every scheduled run).
 */
import "cdktf/lib/testing/adapters/jest";
import { Cluster } from "../../constructs/cluster";
import { ModelDeployment } from "../../constructs/model-deployment";
import { PromotionJob, type PromotionJobProps } from "../../constructs/promotion-job";
import { ENVIRONMENTS, platformEndpoints } from "../../stacks";
import { main } from "../../service/src/promotion/cli";
import { freePort } from "../support/net";
import { synth } from "./support/harness";

const props: PromotionJobProps = {
  model: "flight-delay",
  namespace: "models",
  image: "ghcr.io/modelport/modelport-service:0.1.0",
  trackingUri: "http://mlflow.mlflow.svc:5000",
  prometheusUrl: PromotionJob.kubePrometheusStackUrl("kps", "monitoring"),
  prometheusNamespace: "monitoring",
  registryPeer: { namespace: "mlflow", podLabels: { "app.kubernetes.io/name": "mlflow" }, port: 5000 },
};

describe("PromotionJob", () => {
  const out = synth((stack) => new PromotionJob(stack, "Promotion", { ...props, thresholds: { minRequests: 200, maxErrorRate: 0.02 }, skip: ["cost"], window: "1h" }));
  const [cron] = out.resources("kubernetes_cron_job_v1");
  const pod = cron.spec.job_template.spec.template.spec;
  const container = pod.container[0];

  it("runs npm run promote from the service image on a schedule, never overlapping and never retried", () => {
    expect(cron.metadata).toMatchObject({ name: "flight-delay-promotion", namespace: "models" });
    expect(cron.spec).toMatchObject({ schedule: "*/15 * * * *", concurrency_policy: "Forbid", timezone: "Etc/UTC" });
    expect(cron.spec.job_template.spec).toMatchObject({ backoff_limit: 0, active_deadline_seconds: 600 });
    expect(container.image).toBe(props.image);
    expect(container.command).toEqual([
      "node", "dist/service/src/promotion/cli.js", "promote",
      "--model", "flight-delay",
      "--prometheus", "http://kps-prometheus.monitoring.svc:9090",
      "--tracking-uri", "http://mlflow.mlflow.svc:5000",
      "--window", "1h",
      "--min-requests", "200", "--max-error-rate", "0.02",
      "--skip", "cost",
      "--inconclusive-ok",
    ]);
  });

  it("is restricted: non-root, read-only root, no Kubernetes API token, no sidecar", () => {
    expect(pod.automount_service_account_token).toBe(false);
    expect(container.security_context).toMatchObject({ run_as_non_root: true, read_only_root_filesystem: true, allow_privilege_escalation: false });
    expect(cron.spec.job_template.spec.template.metadata.annotations).toEqual({ "sidecar.istio.io/inject": "false" });
    expect(out.resources("kubernetes_service_account_v1")[0].automount_service_account_token).toBe(false);
  });

  it("reaches only Prometheus, MLflow and DNS", () => {
    const [policy] = out.resources("kubernetes_network_policy_v1");
    expect(policy.spec.policy_types).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toBeUndefined();
    const targets = policy.spec.egress.map((e: any) => `${e.to[0].namespace_selector.match_labels["kubernetes.io/metadata.name"]}:${e.ports[0].port}/${e.ports[0].protocol}`);
    expect(targets).toEqual(["monitoring:9090/TCP", "mlflow:5000/TCP", "kube-system:53/UDP", "kube-system:53/TCP"]);
  });

  it("synthesizes a command the CLI accepts (it gets as far as the network)", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const args = container.command.slice(3).map((a: string) => (a === "http://kps-prometheus.monitoring.svc:9090" ? dead : a === props.trackingUri ? "http://127.0.0.1:1" : a));
    const lines: string[] = [];
    const code = await main(["promote", ...args], {}, { log: (t) => lines.push(t), error: (t) => lines.push(t) });
    expect(code).toBe(3);
    expect(lines.join("\n")).not.toMatch(/Usage:/);
    expect(lines.join("\n")).toMatch(/unreachable/);
  });

  it.each([
    [{ schedule: "every 5 minutes" }, /schedule "every 5 minutes" must be a 5-field cron expression/],
    [{ window: "30 minutes" }, /window "30 minutes" must be a Prometheus duration/],
    [{ thresholds: { maxErrors: 1 } as never }, /unknown threshold "maxErrors"/],
    [{ thresholds: { minLabels: -1 } }, /threshold minLabels must be a number >= 0, got -1/],
    [{ skip: ["accuracy"] as never }, /cannot skip unknown gate "accuracy"/],
    [{ resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } }, /CPU request 2 exceeds its limit 1/],
  ])("rejects %j", (over, message) => {
    expect(() => synth((stack) => new PromotionJob(stack, "P", { ...props, ...over }))).toThrow(message);
  });
});

describe("ModelDeployment with promotion", () => {
  const env = ENVIRONMENTS.staging;
  const deployment = (promotion: object | undefined, canary = true) =>
    synth((stack) => {
      const cluster = Cluster.connect(stack, "Cluster", { name: env.clusterName, source: env.cluster });
      new ModelDeployment(stack, "Model", {
        model: "flight-delay",
        image: props.image,
        platform: platformEndpoints(env, cluster),
        hosts: ["flight-delay.example.com"],
        namePrefix: "modelport-staging",
        canary: canary ? { weight: 10 } : undefined,
        drift: { referenceUri: "s3://bucket/reference.parquet" },
        promotion,
      });
    });

  it("derives Prometheus, MLflow and the namespace from the platform", () => {
    const [cron] = deployment({ window: "1h" }).resources("kubernetes_cron_job_v1").filter((c) => c.metadata.name === "flight-delay-promotion");
    const command: string[] = cron.spec.job_template.spec.template.spec.container[0].command;
    expect(command[command.indexOf("--prometheus") + 1]).toBe("http://kps-prometheus.monitoring.svc:9090");
    expect(command[command.indexOf("--tracking-uri") + 1]).toBe(platformEndpoints(env, { name: "x" } as never).trackingUri);
    expect(cron.metadata.namespace).toBe("models");
  });

  it("is optional, and refused without a canary to promote", () => {
    expect(deployment(undefined).resources("kubernetes_cron_job_v1").map((c) => c.metadata.name)).toEqual(["flight-delay-drift"]);
    expect(() => deployment({}, false)).toThrow(/promotion needs a canary to promote/);
  });

  it("staging promotes its canary on a schedule; prod does not (promote there with npm run promote)", () => {
    expect(ENVIRONMENTS.staging.models[0].promotion).toEqual({ schedule: "*/15 * * * *", window: "1h" });
    expect(ENVIRONMENTS.prod.models[0].promotion).toBeUndefined();
  });
});
