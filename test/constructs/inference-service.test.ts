import "cdktf/lib/testing/adapters/jest";
import { CONNECTION_HEADROOM, InferenceService, InferenceServiceProps, ENVOY_METRICS, VARIANT_LABEL, WRITABLE_DIRS, spillCapBytes } from "../../constructs/inference-service";
import { GPU_NODE_LABEL, GPU_RESOURCE, GPU_TAINT } from "../../constructs/gpu-node-pool";
import { ENV, GRPC_PORT, GRPC_PORT_NAME, HTTP_KEEP_ALIVE_TIMEOUT_MS, ROUTES, SERVICE_PORT } from "../../service/src/contract";
import { loadConfig } from "../../service/src/config";
import { crdErrors, Json, NETWORK, synth } from "./support/harness";

const base: InferenceServiceProps = {
  model: "flight-delay",
  variant: "stable",
  namespace: "models",
  image: "ghcr.io/modelport/modelport-service:0.1.0",
  registryAlias: "champion",
  trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
  predictionLog: { secretName: "prediction-log", key: "url" },
  network: NETWORK,
  prometheusRelease: "kps",
};

const container = (d: Json) => d.spec.template.spec.container[0];
const envOf = (c: Json) => Object.fromEntries(c.env.map((e: Json) => [e.name, e.value ?? e.value_from]));

describe("InferenceService", () => {
  const out = synth((stack) => new InferenceService(stack, "svc", base));
  const deployment = out.named("kubernetes_deployment_v1", "flight-delay-stable");
  const c = container(deployment);

  it("probes the service's real routes on its port", () => {
    expect(c.liveness_probe.http_get).toMatchObject({ path: ROUTES.healthz, port: String(SERVICE_PORT) });
    expect(c.readiness_probe.http_get).toMatchObject({ path: ROUTES.readyz, port: String(SERVICE_PORT) });
    expect(c.startup_probe.http_get.path).toBe(ROUTES.healthz);
  });

  it("runs node dist/service/src/server.js from /app, hardened", () => {
    expect(c.command).toEqual(["node", "dist/service/src/server.js"]);
    expect(c.working_dir).toBe("/app");
    expect(c.security_context).toMatchObject({
      run_as_non_root: true,
      read_only_root_filesystem: true,
      allow_privilege_escalation: false,
      capabilities: { drop: ["ALL"] },
      seccomp_profile: { type: "RuntimeDefault" },
    });
    const mounts = c.volume_mount.map((m: Json) => m.mount_path);
    expect(mounts).toEqual(expect.arrayContaining([WRITABLE_DIRS.tmp, WRITABLE_DIRS.modelCache]));
    const volumes = deployment.spec.template.spec.volume;
    expect(volumes.every((v: Json) => v.empty_dir)).toBe(true);
    expect(c.resources.requests).toEqual({ cpu: "500m", memory: "512Mi" });
    expect(c.resources.limits).toEqual({ cpu: "2", memory: "1Gi" });
  });

  it("sets the contract's environment: model URI by alias, registry, variant, pod name, secret log URL", () => {
    const env = envOf(c);
    expect(env[ENV.modelUri]).toBe("models:/flight-delay@champion");
    expect(env[ENV.mlflowTrackingUri]).toBe(base.trackingUri);
    expect(env[ENV.modelVariant]).toBe("stable");
    expect(env[ENV.podName]).toEqual({ field_ref: { field_path: "metadata.name" } });
    expect(env[ENV.predictionLogUrl]).toEqual({ secret_key_ref: { name: "prediction-log", key: "url" } });
    expect(env[ENV.modelCacheDir]).toBe(WRITABLE_DIRS.modelCache);
  });

  it("drains within the termination grace: routing stops first, then in-flight work finishes", () => {
    const env = envOf(c);
    const grace = deployment.spec.template.spec.termination_grace_period_seconds;
    const delay = Number(env[ENV.shutdownDelaySeconds]);
    const serviceGrace = Number(env[ENV.shutdownGraceSeconds]);
    expect(delay).toBeGreaterThan(0);
    expect(serviceGrace).toBeGreaterThan(delay);
    expect(serviceGrace).toBeLessThan(grace);
  });

  it("rolls out with zero unavailable and hands replicas to the HPA", () => {
    expect(deployment.spec.strategy.rolling_update.max_unavailable).toBe("0");
    expect(deployment.lifecycle.ignore_changes).toEqual(["spec[0].replicas"]);
    const hpa = out.named("kubernetes_horizontal_pod_autoscaler_v2", "flight-delay-stable");
    expect(hpa.spec).toMatchObject({ min_replicas: 2, max_replicas: 6 });
    expect(out.named("kubernetes_pod_disruption_budget_v1", "flight-delay-stable").spec.max_unavailable).toBe("1");
  });

  it("has no GPU request, toleration or node selector unless asked", () => {
    const pod = deployment.spec.template.spec;
    expect(pod.toleration).toBeUndefined();
    expect(pod.node_selector).toBeUndefined();
    expect(c.resources.limits[GPU_RESOURCE]).toBeUndefined();
  });

  it("ServiceMonitor carries the release label, scrapes the sidecar's merged endpoint and is a valid CRD", () => {
    const sm = out.resources("kubernetes_manifest")[0].manifest;
    expect(sm.kind).toBe("ServiceMonitor");
    expect(sm.metadata.labels.release).toBe("kps");
    expect(sm.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "flight-delay", [VARIANT_LABEL]: "stable" });
    expect(sm.spec.endpoints[0]).toMatchObject({ port: ENVOY_METRICS.portName, path: ENVOY_METRICS.path });
    const svc = out.named("kubernetes_service_v1", "flight-delay-stable");
    expect(svc.spec.port.map((p: Json) => p.name)).toContain(ENVOY_METRICS.portName);
    const pod = deployment.spec.template.metadata.annotations;
    expect(pod["prometheus.io/path"]).toBe(ROUTES.metrics);
    expect(crdErrors(out.customResources())).toEqual([]);
  });

  it("limits inbound traffic at the sidecar (Istio Sidecar inbound pool, a valid CRD) and sets the service's own cap just above it", () => {
    const sidecar = out.customResources().find((r: Json) => r.kind === "Sidecar")!;
    expect(sidecar.apiVersion).toBe("networking.istio.io/v1");
    expect(sidecar.spec.workloadSelector.labels).toEqual({ "app.kubernetes.io/name": "flight-delay", [VARIANT_LABEL]: "stable" });
    expect(sidecar.spec.inboundConnectionPool).toEqual({
      tcp: { maxConnections: 1024 },
      http: { http1MaxPendingRequests: 1024, maxRequestsPerConnection: 0, idleTimeout: "60s" },
    });
    // No egress section: Istio then uses its default egress ("*/*"), as for pods without a Sidecar.
    expect(sidecar.spec.egress).toBeUndefined();
    const broken = structuredClone(sidecar);
    broken.spec.inboundConnectionPool.tcp.maxConnections = "many";
    expect(crdErrors([sidecar, broken])).toEqual([expect.stringMatching(/: spec\.inboundConnectionPool\.tcp\.maxConnections must be integer$/)]);
    // The service behind it accepts what the sidecar may open, plus probes and scrapes, and keeps idle
    // connections longer than the sidecar does, so the sidecar never reuses one the service is closing.
    const env = envOf(c);
    expect(Number(env[ENV.httpMaxConnections])).toBe(1024 + CONNECTION_HEADROOM);
    expect(loadConfig({ [ENV.httpMaxConnections]: env[ENV.httpMaxConnections] }).http.maxConnections).toBe(1024 + CONNECTION_HEADROOM);
    expect(parseInt(sidecar.spec.inboundConnectionPool.http.idleTimeout, 10) * 1000).toBeLessThan(HTTP_KEEP_ALIVE_TIMEOUT_MS);

    const custom = synth((stack) => new InferenceService(stack, "svc", { ...base, connectionLimits: { maxConnections: 100, maxPendingRequests: 50, maxRequestsPerConnection: 1000 } }));
    const pool = custom.customResources().find((r: Json) => r.kind === "Sidecar")!.spec.inboundConnectionPool;
    expect(pool).toMatchObject({ tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 50, maxRequestsPerConnection: 1000 } });
    expect(envOf(container(custom.named("kubernetes_deployment_v1", "flight-delay-stable")))[ENV.httpMaxConnections]).toBe(String(100 + CONNECTION_HEADROOM));
    expect(() => synth((stack) => new InferenceService(stack, "svc", { ...base, connectionLimits: { maxConnections: 0 } }))).toThrow(
      /connectionLimits.maxConnections must be an integer 1..1000000, got 0/,
    );
  });

  it("NetworkPolicy lets in only the mesh ingress and Prometheus, out only registry, database, DNS and istiod", () => {
    const np = out.named("kubernetes_network_policy_v1", "flight-delay-stable").spec;
    expect(np.policy_types).toEqual(["Ingress", "Egress"]);
    const nsOf = (rule: Json, dir: string) => rule[dir][0].namespace_selector?.match_labels["kubernetes.io/metadata.name"];
    expect(np.ingress.map((r: Json) => [nsOf(r, "from"), r.ports[0].port])).toEqual([
      ["istio-ingress", String(SERVICE_PORT)],
      ["istio-ingress", String(GRPC_PORT)],
      ["monitoring", String(ENVOY_METRICS.port)],
    ]);
    expect(np.egress.map((r: Json) => [nsOf(r, "to"), r.ports[0].port, r.ports[0].protocol])).toEqual([
      ["mlflow", "5000", "TCP"],
      ["mlflow", "5432", "TCP"],
      ["kube-system", "53", "UDP"],
      ["kube-system", "53", "TCP"],
      ["istio-system", "15012", "TCP"],
    ]);
  });

  it("exposes the Open Inference Protocol's gRPC port named and typed grpc (Istio routes it as HTTP/2); probes stay on HTTP", () => {
    expect(c.port).toEqual([
      { name: "http", container_port: SERVICE_PORT },
      { name: GRPC_PORT_NAME, container_port: GRPC_PORT },
    ]);
    expect(envOf(c)[ENV.grpcPort]).toBe(String(GRPC_PORT));
    const svc = out.named("kubernetes_service_v1", "flight-delay-stable");
    expect(svc.spec.port.find((p: Json) => p.name === GRPC_PORT_NAME)).toMatchObject({ port: GRPC_PORT, target_port: String(GRPC_PORT), app_protocol: "grpc" });
    for (const probe of [c.liveness_probe, c.readiness_probe, c.startup_probe]) expect(probe.http_get.port).toBe(String(SERVICE_PORT));
    expect(envOf(c)[ENV.executionProvider]).toBeUndefined();
  });

  it("with a GPU: runs on CUDA (a pod whose GPU cannot be used stays unready) unless env says otherwise", () => {
    const env = envOf(container(synth((stack) => new InferenceService(stack, "svc", { ...base, gpus: 1 })).named("kubernetes_deployment_v1", "flight-delay-stable")));
    expect(env[ENV.executionProvider]).toBe("cuda");
    const trt = synth((stack) => new InferenceService(stack, "svc", { ...base, gpus: 1, env: { [ENV.executionProvider]: "tensorrt" } }));
    const trtEnv = container(trt.named("kubernetes_deployment_v1", "flight-delay-stable")).env.filter((e: Json) => e.name === ENV.executionProvider);
    expect(trtEnv).toEqual([expect.objectContaining({ value: "tensorrt" })]);
  });

  it("with a GPU: requests nvidia.com/gpu and tolerates exactly the taint the GPU pool sets", () => {
    const gpu = synth((stack) => new InferenceService(stack, "svc", { ...base, gpus: 1 }));
    const d = gpu.named("kubernetes_deployment_v1", "flight-delay-stable");
    const pod = d.spec.template.spec;
    expect(container(d).resources.limits[GPU_RESOURCE]).toBe("1");
    expect(container(d).resources.requests[GPU_RESOURCE]).toBe("1");
    expect(pod.toleration).toEqual([{ key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect }]);
    expect(pod.node_selector).toEqual({ [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value });
  });

  const irsaConfig = { oidcProviderArn: "arn:aws:iam::1:oidc-provider/x", oidcIssuer: "oidc.eks.example/id/ABC" };
  const reads = [{ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::models/flight-delay/*"] }];

  it("without IRSA (the default): no role, no token in the pod", () => {
    const plain = synth((stack) => new InferenceService(stack, "svc", base));
    expect(plain.resources("aws_iam_role")).toEqual([]);
    expect(plain.named("kubernetes_deployment_v1", "flight-delay-stable").spec.template.spec.automount_service_account_token).toBe(false);
  });

  it("refuses an IRSA role that would grant nothing", () => {
    expect(() => synth((stack) => new InferenceService(stack, "svc", { ...base, irsa: { config: irsaConfig, roleName: "x", statements: [] } }))).toThrow(
      /irsa.statements is empty; a role that grants nothing only widens what a pod can assume, so omit irsa/,
    );
  });

  it("with IRSA: the role trusts only this variant's service account and grants what it was given", () => {
    const irsa = synth((stack) => new InferenceService(stack, "svc", { ...base, irsa: { config: irsaConfig, roleName: "dev-fd-stable", statements: reads } }));
    expect(JSON.parse(irsa.resources("aws_iam_role_policy")[0].policy).Statement).toEqual([
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::models/flight-delay/*"] },
    ]);
    const role = irsa.named("aws_iam_role", "dev-fd-stable");
    const cond = JSON.parse(role.assume_role_policy).Statement[0].Condition.StringEquals;
    expect(cond["oidc.eks.example/id/ABC:sub"]).toBe("system:serviceaccount:models:flight-delay-stable");
    expect(cond["oidc.eks.example/id/ABC:aud"]).toBe("sts.amazonaws.com");
    const sa = irsa.named("kubernetes_service_account_v1", "flight-delay-stable");
    expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/aws_iam_role\..*\.arn/);
  });

  it("sizes the spill emptyDir and the prediction log's cap from one value, the cap below the volume", () => {
    const spill = (d: Json) => d.spec.template.spec.volume.find((v: Json) => v.name === "spill");
    expect(spill(deployment).empty_dir.size_limit).toBe("1Gi");
    expect(envOf(c)[ENV.predictionLogSpillDir]).toBe(WRITABLE_DIRS.spill);
    expect(Number(envOf(c)[ENV.predictionLogSpillMaxBytes])).toBe(spillCapBytes(2 ** 30));
    expect(spillCapBytes(2 ** 30)).toBe(Math.floor(0.9 * 2 ** 30));
    const small = synth((stack) => new InferenceService(stack, "svc", { ...base, spillVolumeSize: "128Mi" }));
    const d = small.named("kubernetes_deployment_v1", "flight-delay-stable");
    expect(spill(d).empty_dir.size_limit).toBe("128Mi");
    // At least 16 MiB of headroom on small volumes.
    expect(Number(envOf(container(d))[ENV.predictionLogSpillMaxBytes])).toBe(112 * 2 ** 20);
  });

  it.each([
    [{ spillVolumeSize: "10Mi" }, /spillVolumeSize must be at least 64Mi, got 10Mi/],
    [{ spillVolumeSize: "lots" }, /spillVolumeSize: memory quantity "lots" is not valid/],
    [{ env: { [ENV.predictionLogSpillMaxBytes]: "1" } }, /set spillVolumeSize instead/],
    [{ replicas: { min: -1, max: 3 } }, /replicas.min must be an integer >= 1, got -1/],
    [{ replicas: { min: 4, max: 2 } }, /replicas.max \(2\) must be an integer >= replicas.min \(4\)/],
    [{ registryAlias: "champion alias" }, /registryAlias "champion alias"/],
    [{ variant: "blue" as never }, /variant "blue" must be one of stable, canary, shadow/],
    [{ resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } }, /CPU request 2 exceeds its limit 1/],
    [{ env: { NOT_A_SETTING: "x" } }, /env "NOT_A_SETTING" is not a variable the service reads/],
    [{ model: "Flight_Delay" }, /model "Flight_Delay" must be lowercase/],
  ])("rejects bad props %p", (override, message) => {
    expect(() => synth((stack) => new InferenceService(stack, "svc", { ...base, ...override }))).toThrow(message);
  });
});
