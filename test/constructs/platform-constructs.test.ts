import "cdktf/lib/testing/adapters/jest";
import { Cluster } from "../../constructs/cluster";
import { GPU_NODE_LABEL, GPU_TAINT, GpuNodePool, gpuToleration } from "../../constructs/gpu-node-pool";
import { ModelRegistry, ModelRegistryProps, RdsDatabase } from "../../constructs/model-registry";
import { rdsCaBundle } from "../../constructs/rds-ca";
import { Observability } from "../../constructs/observability";
import { ServiceMesh } from "../../constructs/service-mesh";
import { CHARTS, EXACT_VERSION, IMAGES } from "../../constructs/versions";
import { crdErrors, Json, synth } from "./support/harness";

const eksSource = {
  kind: "eks" as const,
  region: "eu-west-1",
  version: "1.33",
  systemNodes: { instanceTypes: ["m6i.large"], min: 2, max: 3 },
};

describe("Cluster", () => {
  let cluster!: Cluster;
  const out = synth((stack) => {
    cluster = new Cluster(stack, "cluster", { name: "modelport-test", source: eksSource });
  });

  it("creates a VPC with public and private subnets in three zones, a NAT gateway and the EKS cluster", () => {
    expect(out.resources("aws_vpc")).toHaveLength(1);
    const subnets = out.resources("aws_subnet");
    expect(subnets.filter((s) => s.tags["kubernetes.io/role/internal-elb"])).toHaveLength(3);
    expect(subnets.filter((s) => s.tags["kubernetes.io/role/elb"])).toHaveLength(3);
    expect(subnets.every((s) => s.map_public_ip_on_launch !== true)).toBe(true);
    expect(out.resources("aws_nat_gateway")).toHaveLength(1);
    const [eks] = out.resources("aws_eks_cluster");
    expect(eks).toMatchObject({ name: "modelport-test", version: "1.33", access_config: { authentication_mode: "API" } });
  });

  it("has an OIDC provider for IRSA and a labelled system node group", () => {
    const [oidc] = out.resources("aws_iam_openid_connect_provider");
    expect(oidc.client_id_list).toEqual(["sts.amazonaws.com"]);
    expect(oidc.url).toMatch(/aws_eks_cluster\..*\.identity\[0\]\.oidc\[0\]\.issuer/);
    const [nodes] = out.resources("aws_eks_node_group");
    expect(nodes).toMatchObject({ node_group_name: "system", labels: { "modelport.io/node-pool": "system" }, scaling_config: { min_size: 2, max_size: 3, desired_size: 2 } });
    expect(cluster.irsa).toBeDefined();
  });

  it("configures the Kubernetes and Helm providers from the cluster with short-lived tokens", () => {
    const [k8s] = out.json.provider.kubernetes.filter((p: Json) => p.alias === undefined && p.host);
    expect(k8s.host).toMatch(/aws_eks_cluster\..*\.endpoint/);
    expect(k8s.exec[0]).toMatchObject({ command: "aws", args: ["eks", "get-token", "--cluster-name", "modelport-test", "--region", "eu-west-1"] });
    expect(JSON.stringify(out.json.provider.kubernetes)).not.toMatch(/"token"/);
  });

  it("connects to an existing cluster by kubeconfig context", () => {
    const dev = synth((stack) => Cluster.connect(stack, "c", { name: "dev", source: { kind: "kubeconfig", context: "kind-modelport" } }));
    expect(dev.json.provider.kubernetes).toContainEqual({ config_path: "~/.kube/config", config_context: "kind-modelport" });
    expect(dev.json.provider.helm).toContainEqual({ kubernetes: { config_path: "~/.kube/config", config_context: "kind-modelport" } });
  });

  it.each([
    [{ name: "Bad_Name", source: eksSource }, /Cluster name "Bad_Name"/],
    [{ name: "ok", source: { ...eksSource, version: "latest" } }, /version "latest" must be a Kubernetes minor version/],
    [{ name: "ok", source: { ...eksSource, systemNodes: { instanceTypes: ["m6i.large"], min: -1, max: 2 } } }, /min must be a non-negative integer, got -1/],
    [{ name: "ok", source: { ...eksSource, systemNodes: { instanceTypes: ["m6i.large"], min: 3, max: 2 } } }, /need 0 <= min <= desired <= max/],
  ])("rejects %p", (props, message) => {
    expect(() => synth((stack) => new Cluster(stack, "c", props))).toThrow(message);
  });
});

describe("GpuNodePool", () => {
  const out = synth((stack) => {
    const cluster = new Cluster(stack, "cluster", { name: "gpu-test", source: eksSource });
    new GpuNodePool(stack, "gpu", {
      clusterName: "gpu-test",
      nodeRole: cluster.eks!.nodeRole,
      subnetIds: cluster.eks!.privateSubnetIds,
      size: { instanceTypes: ["g5.xlarge"], min: 0, max: 4 },
      prometheusRelease: "kps",
    });
  });
  const group = out.resources("aws_eks_node_group").find((g) => g.node_group_name === "gpu")!;

  it("uses an NVIDIA AMI with the GPU label and the nvidia.com/gpu NoSchedule taint", () => {
    expect(group).toMatchObject({ ami_type: "AL2023_x86_64_NVIDIA", instance_types: ["g5.xlarge"], scaling_config: { min_size: 0, max_size: 4 } });
    expect(group.labels[GPU_NODE_LABEL.key]).toBe(GPU_NODE_LABEL.value);
    expect(group.taint).toEqual([{ key: "nvidia.com/gpu", value: GPU_TAINT.value, effect: "NO_SCHEDULE" }]);
  });

  it("the toleration pods get matches the node group's taint", () => {
    const t = gpuToleration();
    expect([t.key, t.value, t.effect.replace("NoSchedule", "NO_SCHEDULE")]).toEqual([group.taint[0].key, group.taint[0].value, group.taint[0].effect]);
  });

  it("device plugin and DCGM exporter run only on GPU nodes; DCGM has a ServiceMonitor Prometheus selects", () => {
    for (const name of ["nvidia-device-plugin", "dcgm-exporter"]) {
      const v = out.helmValues(name);
      expect(v.nodeSelector).toEqual({ [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value });
      expect(v.tolerations).toEqual([gpuToleration()]);
    }
    expect(out.helmValues("dcgm-exporter").serviceMonitor).toMatchObject({ enabled: true, additionalLabels: { release: "kps" } });
    const dcgm = out.resources("helm_release").find((r) => r.name === "dcgm-exporter")!;
    expect(dcgm).toMatchObject({ chart: CHARTS.dcgmExporter.chart, version: CHARTS.dcgmExporter.version });
  });

  it("rejects non-GPU instance types", () => {
    expect(() =>
      synth((stack) => {
        const cluster = new Cluster(stack, "cluster", { name: "gpu-test", source: eksSource });
        new GpuNodePool(stack, "gpu", { clusterName: "x", nodeRole: cluster.eks!.nodeRole, subnetIds: [], size: { instanceTypes: ["m6i.large"], min: 0, max: 1 }, prometheusRelease: "kps" });
      }),
    ).toThrow(/m6i.large are not NVIDIA GPU families/);
  });
});

describe("Observability", () => {
  const receivers = { page: { name: "page", secretName: "am-page" }, ticket: { name: "ticket", secretName: "am-ticket", key: "webhook" } };
  const out = synth((stack) => new Observability(stack, "obs", { receivers, retention: "7d" }));
  const values = out.helmValues("kps");

  it("Prometheus keeps data for the configured retention on a volume", () => {
    expect(values.prometheus.prometheusSpec).toMatchObject({ retention: "7d", retentionSize: "45GB", ruleSelectorNilUsesHelmValues: true });
    expect(values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage).toBe("50Gi");
  });

  it("Grafana's admin password is generated and kept in a Secret the chart reads; the sidecar loads dashboards", () => {
    const secret = out.named("kubernetes_secret_v1", "grafana-admin");
    expect(secret.data["admin-password"]).toMatch(/^\$\{random_password\..*\.result\}$/);
    expect(values.grafana.admin).toEqual({ existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
    expect(values.grafana.sidecar.dashboards).toMatchObject({ enabled: true, label: "grafana_dashboard", labelValue: "1" });
    expect(JSON.stringify(values)).not.toMatch(/adminPassword/);
  });

  it("Alertmanager reads receiver URLs from mounted Secrets, never inline", () => {
    expect(values.alertmanager.alertmanagerSpec.secrets).toEqual(["am-page", "am-ticket"]);
    const config = JSON.stringify(values.alertmanager.config);
    expect(config).toContain("/etc/alertmanager/secrets/am-page/url");
    expect(config).toContain("/etc/alertmanager/secrets/am-ticket/webhook");
    expect(config).not.toMatch(/https?:\/\//);
  });

  it("platform rules ship as a PrometheusRule with the release label; Pushgateway is scraped", () => {
    const rules = out.customResources().filter((o) => o.kind === "PrometheusRule");
    expect(rules).toHaveLength(1);
    expect(rules[0].metadata.labels.release).toBe("kps");
    expect(crdErrors(rules)).toEqual([]);
    expect(out.helmValues("pushgateway").serviceMonitor).toMatchObject({ enabled: true, additionalLabels: { release: "kps" } });
  });

  it("pins both charts", () => {
    for (const r of out.resources("helm_release").filter((r) => r.repository)) expect(r.version).toMatch(EXACT_VERSION);
  });

  it.each([
    [{ retention: "two weeks" }, /retention "two weeks" must be a Prometheus duration/],
    [{ receivers: { page: { name: "x", secretName: "a" }, ticket: { name: "x", secretName: "b" } } }, /page and ticket need distinct names/],
    [{ prometheusReplicas: 0 }, /prometheusReplicas must be a positive integer, got 0/],
  ])("rejects %p", (override, message) => {
    expect(() => synth((stack) => new Observability(stack, "o", { receivers, ...override }))).toThrow(message);
  });
});

describe("ModelRegistry", () => {
  const irsa = { oidcProviderArn: "arn:aws:iam::1:oidc-provider/x", oidcIssuer: "oidc.eks.example/id/ABC" };
  const aws: ModelRegistryProps = {
    namePrefix: "prod",
    database: { kind: "rds", region: "eu-west-1", vpcId: "vpc-1", subnetIds: ["s-1", "s-2"], allowedCidr: "10.30.0.0/16" },
    artifacts: { kind: "s3", bucketName: "prod-artifacts", region: "eu-west-1" },
    irsa,
    consumerNamespaces: ["models"],
  };
  const out = synth((stack) => new ModelRegistry(stack, "registry", aws));
  const mlflow = out.named("kubernetes_deployment_v1", "mlflow").spec.template.spec.container[0];
  const dev = synth((stack) =>
    new ModelRegistry(stack, "r", { namePrefix: "dev", database: { kind: "cloudnative-pg" }, artifacts: { kind: "seaweedfs" }, consumerNamespaces: ["models"] }),
  );

  it("runs MLflow serving artifacts itself, with the backend URI from a Secret", () => {
    expect(mlflow.command).toEqual(["mlflow", "server"]);
    expect(mlflow.args).toEqual(expect.arrayContaining(["--serve-artifacts", "--artifacts-destination", "s3://prod-artifacts/artifacts"]));
    expect(mlflow.image).toBe(IMAGES.mlflow);
    expect(mlflow.env.find((e: Json) => e.name === "MLFLOW_BACKEND_STORE_URI").value_from.secret_key_ref).toEqual({ name: "mlflow-backend", key: "uri" });
  });

  it("bucket: no public access, owner-enforced, versioned, KMS-encrypted, TLS only", () => {
    expect(out.resources("aws_s3_bucket_public_access_block")[0]).toMatchObject({
      block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true,
    });
    expect(out.resources("aws_s3_bucket_ownership_controls")[0].rule.object_ownership).toBe("BucketOwnerEnforced");
    expect(out.resources("aws_s3_bucket_versioning")[0].versioning_configuration.status).toBe("Enabled");
    expect(out.resources("aws_s3_bucket_server_side_encryption_configuration")[0].rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    const policy = JSON.parse(out.resources("aws_s3_bucket_policy")[0].policy);
    expect(policy.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(out.resources("aws_s3_bucket_acl")).toHaveLength(0);
  });

  it("IRSA: only the mlflow service account may assume the role, which reaches only the artifacts prefix", () => {
    const role = out.named("aws_iam_role", "prod-mlflow");
    const trust = JSON.parse(role.assume_role_policy).Statement[0];
    expect(trust.Condition.StringEquals["oidc.eks.example/id/ABC:sub"]).toBe("system:serviceaccount:mlflow:mlflow");
    const policy = JSON.parse(out.resources("aws_iam_role_policy")[0].policy);
    const bucketArn = expect.stringMatching(/^\$\{aws_s3_bucket\.[^}]+\.arn\}$/);
    expect(policy.Statement).toEqual([
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn], Condition: { StringLike: { "s3:prefix": ["artifacts/*"] } } },
      { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource: [expect.stringMatching(/^\$\{aws_s3_bucket\.[^}]+\.arn\}\/artifacts\/\*$/)] },
    ]);
    expect(out.named("kubernetes_service_account_v1", "mlflow").metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/aws_iam_role/);
  });

  it("RDS: private, encrypted, a pinned CA, ingress only from the VPC, generated password in Secrets Manager", () => {
    const [db] = out.resources("aws_db_instance");
    expect(db).toMatchObject({ engine: "postgres", storage_encrypted: true, publicly_accessible: false, deletion_protection: true, ca_cert_identifier: "rds-ca-rsa2048-g1" });
    expect(db.password).toMatch(/^\$\{random_password\..*\.result\}$/);
    expect(out.resources("aws_secretsmanager_secret_version")[0].secret_string).toMatch(/random_password/);
    expect(out.resources("aws_security_group")[0].ingress).toBeUndefined();
    expect(out.resources("aws_vpc_security_group_ingress_rule").map((r) => [r.cidr_ipv4, r.from_port, r.to_port])).toEqual([["10.30.0.0/16", 5432, 5432]]);
  });

  it("the prediction log gets its own role and database per namespace, verified over TLS with the region's RDS CAs", () => {
    const url = out.named("kubernetes_secret_v1", "prediction-log").data.url as string;
    expect(url).toMatch(/^postgresql:\/\/prediction_log_models:\$\{random_password\.[^}]+\}@\$\{aws_db_instance\.[^}]+\.address\}:5432\/prediction_log_models\?sslmode=verify-full&sslrootcert=\/etc\/modelport\/postgres-ca\/ca\.pem$/);
    const job = out.named("kubernetes_job_v1", "create-prediction-log-models").spec.template.spec;
    expect(job.container[0].command).toEqual(["psql", "-v", "ON_ERROR_STOP=1", "-v", "owner=prediction_log_models", "-f", "/sql/owner.sql", "$(ADMIN_URL)"]);
    expect(job.container[0].env.map((e: Json) => e.value_from.secret_key_ref)).toEqual([
      { name: "postgres-admin", key: "url" },
      { name: "prediction-log-models-password", key: "password" },
    ]);
    const ca = out.resources("kubernetes_config_map_v1").filter((c) => c.metadata.name === "postgres-ca");
    expect(ca.map((c) => c.metadata.namespace).sort()).toEqual(["mlflow", "models"]);
    expect(ca[0].data["ca.pem"]).toBe(rdsCaBundle("eu-west-1"));
  });

  it("in an existing cluster: CloudNativePG with a managed role, its Database and pg_hba, schema-valid", () => {
    const [cluster, database] = dev.customResources();
    expect(cluster).toMatchObject({ kind: "Cluster", spec: { imageName: IMAGES.postgres, bootstrap: { initdb: { database: "mlflow", owner: "mlflow" } } } });
    expect(cluster.spec.managed.roles).toEqual([
      { name: "prediction_log_models", ensure: "present", login: true, passwordSecret: { name: expect.stringMatching(/kubernetes_secret_v1\..*metadata\[0\]\.name/) } },
    ]);
    expect(cluster.spec.postgresql.pg_hba).toEqual(["hostssl prediction_log_models prediction_log_models all scram-sha-256", "host all prediction_log_models all reject"]);
    expect(database).toMatchObject({ kind: "Database", spec: { name: "prediction_log_models", owner: "prediction_log_models", cluster: { name: "mlflow-db" } } });
    expect(crdErrors(dev.customResources())).toEqual([]);
    expect(dev.named("kubernetes_secret_v1", "prediction-log").data.url).toMatch(/@mlflow-db-rw\.mlflow\.svc\.cluster\.local:5432\/prediction_log_models\?sslmode=require$/);
  });

  it("in an existing cluster: SeaweedFS, MLflow with its own identity, the drift job with its own", () => {
    const seaweed = dev.named("kubernetes_deployment_v1", "seaweedfs").spec.template.spec.container[0];
    expect(seaweed.image).toBe(IMAGES.seaweedfs);
    expect(IMAGES.seaweedfs).toMatch(/:\d+\.\d+$/);
    const env = dev.named("kubernetes_deployment_v1", "mlflow").spec.template.spec.container[0].env;
    expect(env.find((e: Json) => e.name === "MLFLOW_S3_ENDPOINT_URL").value).toBe("http://seaweedfs.mlflow.svc.cluster.local:8333");
    expect(env.find((e: Json) => e.name === "AWS_ACCESS_KEY_ID").value_from.secret_key_ref.name).toBe("artifact-store-mlflow");
    const config = JSON.parse(dev.named("kubernetes_secret_v1", "seaweedfs-s3-config").data["s3.json"]);
    expect(config.identities.map((i: Json) => [i.name, i.actions])).toEqual([
      ["mlflow.mlflow", ["List:modelport", "Read:modelport/artifacts/*", "Write:modelport"]],
      ["models.drift", ["Read:modelport/datasets/*", "Write:modelport/drift-reports/*"]],
      // The batch scorer's own identity: its input prefix to read, its output prefix to write, nothing else.
      ["models.batch-scoring", ["Read:modelport/batch-scoring/input/*", "Write:modelport/batch-scoring/output/*"]],
    ]);
    expect(dev.named("kubernetes_secret_v1", "artifact-store-drift").metadata.namespace).toBe("models");
  });

  it("refuses the S3 store without IRSA (no static keys)", () => {
    expect(() => synth((stack) => new ModelRegistry(stack, "r", { ...aws, irsa: undefined }))).toThrow(/needs `irsa`/);
  });

  it("refuses a region it has no RDS CA bundle for, saying where to get one", () => {
    const far = { ...aws, database: { ...(aws.database as RdsDatabase), region: "ap-south-2" } };
    expect(() => synth((stack) => new ModelRegistry(stack, "r", far))).toThrow(/no RDS CA bundle for ap-south-2: save https:\/\/truststore\.pki\.rds\.amazonaws\.com\/ap-south-2\/ap-south-2-bundle\.pem/);
  });
});

describe("ServiceMesh", () => {
  const out = synth((stack) => new ServiceMesh(stack, "mesh", { modelNamespaces: ["models"], hosts: ["*.models.example.com"] }));

  it("installs base, istiod and the gateway at one pinned Istio version", () => {
    const charts = out.resources("helm_release").filter((r) => r.repository);
    expect(charts.map((r) => [r.chart, r.version]).sort()).toEqual([["base", "1.29.2"], ["gateway", "1.29.2"], ["istiod", "1.29.2"]]);
  });

  it("model namespaces get sidecar injection and STRICT mTLS; the Gateway and PeerAuthentication are schema-valid", () => {
    expect(out.named("kubernetes_namespace_v1", "models").metadata.labels["istio-injection"]).toBe("enabled");
    const objects = out.customResources();
    const pa = objects.find((o) => o.kind === "PeerAuthentication")!;
    expect(pa).toMatchObject({ metadata: { namespace: "models" }, spec: { mtls: { mode: "STRICT" } } });
    expect(objects.find((o) => o.kind === "Gateway")!.spec.servers[0].hosts).toEqual(["*.models.example.com"]);
    expect(crdErrors(objects)).toEqual([]);
  });

  it("rejects an empty namespace list", () => {
    expect(() => synth((stack) => new ServiceMesh(stack, "m", { modelNamespaces: [], hosts: ["x"] }))).toThrow(/modelNamespaces must list/);
  });
});
