import "cdktf/lib/testing/adapters/jest";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { Release } from "@cdktf/provider-helm/lib/release";
import { DeploymentV1, DeploymentV1Config } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { HelmChart } from "../../constructs/helm-chart";
import { restrictedContainerSecurityContext } from "../../constructs/kube";
import { synth } from "./support/harness";

const goodContainer = {
  name: "app",
  image: "example/app:1.0.0",
  resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
  livenessProbe: { httpGet: { path: "/healthz", port: "8080" } },
  readinessProbe: { httpGet: { path: "/readyz", port: "8080" } },
  securityContext: restrictedContainerSecurityContext(),
};
const deployment = (container: Record<string, unknown>): DeploymentV1Config => ({
  metadata: { name: "web", namespace: "default" },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { container: [container as never] } },
  },
});

describe("PlatformPolicies", () => {
  it("accepts a hardened workload, a pinned chart and generated secrets", () => {
    expect(() =>
      synth((stack) => {
        new DeploymentV1(stack, "web", deployment(goodContainer));
        const pw = new Password(stack, "pw", { length: 20 });
        new SecretV1(stack, "s", { metadata: { name: "s" }, data: { username: "app", password: pw.result } });
        new Release(stack, "chart", { name: "x", chart: "x", repository: "https://charts.example", version: "1.2.3" });
      }),
    ).not.toThrow();
  });

  it.each([
    ["no limits", { ...goodContainer, resources: { requests: { cpu: "100m", memory: "64Mi" } } }, /container "app" has no limits for cpu and memory/],
    ["no requests", { ...goodContainer, resources: { limits: { cpu: "1", memory: "1Gi" } } }, /container "app" has no requests for cpu and memory/],
    ["no probes", { ...goodContainer, livenessProbe: undefined, readinessProbe: undefined }, /has no liveness probe.*\n.*has no readiness probe/],
    ["root", { ...goodContainer, securityContext: { readOnlyRootFilesystem: true } }, /container "app" may run as root/],
    ["writable root fs", { ...goodContainer, securityContext: { runAsNonRoot: true } }, /container "app" has a writable root filesystem/],
    ["literal secret env", { ...goodContainer, env: [{ name: "DB_PASSWORD", value: "hunter2" }] }, /env DB_PASSWORD is a literal; use valueFrom.secretKeyRef/],
  ])("fails synth naming the resource for a container with %s", (_, container, message) => {
    const run = () => synth((stack) => new DeploymentV1(stack, "web", deployment(container)));
    expect(run).toThrow(message);
    expect(run).toThrow(/\[test\/web\] policy violation in kubernetes_deployment_v1 "web"/);
  });

  it("fails synth on an unpinned or range-pinned Helm chart", () => {
    expect(() => synth((stack) => new Release(stack, "prom", { name: "prom", chart: "prometheus", repository: "https://x" }))).toThrow(
      /\[test\/prom\] policy violation in helm_release "prom": chart prometheus is not pinned to an exact version \(got none\)/,
    );
    expect(() => synth((stack) => new Release(stack, "prom", { name: "prom", chart: "prometheus", repository: "https://x", version: "^25.0.0" }))).toThrow(
      /got "\^25.0.0"/,
    );
  });

  it("HelmChart refuses an unpinned chart before synth, with the fix in the message", () => {
    expect(() =>
      synth((stack) => new HelmChart(stack, "c", { chart: { repository: "https://x", chart: "y", version: "1.x" }, name: "y", namespace: "z" })),
    ).toThrow(/chart y version "1.x" is not pinned; use an exact version such as "1.2.3"/);
  });

  it("fails synth on literal passwords: Secret data, database password, Helm values", () => {
    expect(() => synth((stack) => new SecretV1(stack, "s", { metadata: { name: "db" }, data: { username: "app", password: "hunter2" } }))).toThrow(
      /kubernetes_secret_v1 "db": Secret key "password" is a literal/,
    );
    expect(() =>
      synth((stack) => new DbInstance(stack, "db", { identifier: "db", instanceClass: "db.t4g.micro", engine: "postgres", username: "u", password: "hunter2" })),
    ).toThrow(/aws_db_instance "db": password is a literal/);
    expect(() =>
      synth((stack) => new Release(stack, "g", { name: "g", chart: "grafana", repository: "https://x", version: "1.0.0", values: ["grafana:\n  adminPassword: hunter2\n"] })),
    ).toThrow(/Helm value grafana.adminPassword is a literal secret/);
  });

  it("lists every violation at once", () => {
    const run = () => synth((stack) => new DeploymentV1(stack, "web", deployment({ name: "app", image: "x" })));
    expect(run).toThrow(/no requests[\s\S]*no limits[\s\S]*liveness[\s\S]*readiness[\s\S]*root[\s\S]*writable/);
  });
});
