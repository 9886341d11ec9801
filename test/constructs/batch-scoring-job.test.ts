import "cdktf/lib/testing/adapters/jest";
import { BATCH_SCORING_INPUT_PREFIX, BATCH_SCORING_OUTPUT_PREFIX, BatchScoringJob, BatchScoringJobProps } from "../../constructs/batch-scoring-job";
import { REGISTRY_SECRETS } from "../../constructs/model-registry";
import { ModelDeployment } from "../../constructs/model-deployment";
import { ENV } from "../../service/src/contract";
import { parseScoringArgs } from "../../service/src/scoring/cli";
import { Json, NETWORK, PLATFORM, synth } from "./support/harness";

const base: BatchScoringJobProps = {
  name: "flight-delay",
  namespace: "models",
  image: "ghcr.io/modelport/modelport-service:0.1.0",
  modelUri: "models:/flight-delay/7",
  trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
  input: "s3://lake/flights/2001-06/",
  output: "s3://lake/scored/2001-06/part-{shard}.parquet",
  shards: 8,
  parallelism: 4,
  resources: { requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "4", memory: "4Gi" } },
  aws: { region: "eu-west-1", irsa: { oidcProviderArn: "arn:oidc", oidcIssuer: "oidc.example/id/X" }, roleName: "prod-fd-score" },
  egress: [NETWORK.registry, { cidr: "0.0.0.0/0", port: 443 }],
};

describe("BatchScoringJob", () => {
  const out = synth((stack) => new BatchScoringJob(stack, "score", base));
  const job = out.named("kubernetes_job_v1", "flight-delay-score");
  const pod = job.spec.template.spec;
  const c = pod.container[0];

  it("is an Indexed Job: one completion per shard, retried per index, failed at once on bad input (exit 2)", () => {
    expect(job.spec).toMatchObject({ completion_mode: "Indexed", completions: 8, parallelism: 4, backoff_limit_per_index: 2, active_deadline_seconds: 21600 });
    expect(job.spec.pod_failure_policy.rule).toEqual([{ action: "FailJob", on_exit_codes: { container_name: "score", operator: "In", values: [2] } }]);
    expect(job.wait_for_completion).toBe(false);
    expect(pod.restart_policy).toBe("Never");
  });

  it("runs the scoring CLI with the shard count; the index is the JOB_COMPLETION_INDEX Kubernetes sets in each pod", () => {
    expect(c.command).toEqual([
      "node", "dist/service/src/scoring/cli.js", "--model", "models:/flight-delay/7", "--input", "s3://lake/flights/2001-06/",
      "--output", "s3://lake/scored/2001-06/part-{shard}.parquet", "--shard-count", "8", "--workers", "4",
    ]);
    const env = Object.fromEntries(c.env.map((e: Json) => [e.name, e.value]));
    expect(env).toMatchObject({ [ENV.mlflowTrackingUri]: base.trackingUri, [ENV.awsRegion]: "eu-west-1", [ENV.modelCacheDir]: "/tmp/models" });
    // What the CLI makes of that command in pod 3: shard 3 of 8, its own output.
    const config = parseScoringArgs(c.command.slice(2), { [ENV.jobCompletionIndex]: "3", [ENV.mlflowTrackingUri]: base.trackingUri });
    expect(config).toMatchObject({ shard: { index: 3, count: 8 }, output: "s3://lake/scored/2001-06/part-00003.parquet", workers: 4 });
  });

  it("runs the restricted pod spec with the resources given, a writable /tmp and no mesh sidecar", () => {
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    expect(c.security_context).toMatchObject({ run_as_non_root: true, read_only_root_filesystem: true, allow_privilege_escalation: false, capabilities: { drop: ["ALL"] } });
    expect(c.resources).toEqual({ requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "4", memory: "4Gi" } });
    expect(c.volume_mount).toEqual([{ name: "tmp", mount_path: "/tmp" }]);
    expect(job.spec.template.metadata.annotations).toEqual({ "sidecar.istio.io/inject": "false" });
  });

  it("IRSA may read the input prefix and write (and abort uploads of) the shards' outputs, nothing else", () => {
    const policy = JSON.parse(out.resources("aws_iam_role_policy")[0].policy);
    expect(policy.Statement).toEqual([
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::lake/flights/2001-06/*"] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::lake"] },
      {
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: ["arn:aws:s3:::lake/scored/2001-06/part-*.parquet", "arn:aws:s3:::lake/scored/2001-06/part-*.rejects.parquet"],
      },
    ]);
    const sa = out.named("kubernetes_service_account_v1", "flight-delay-score");
    expect(sa.automount_service_account_token).toBe(false);
    expect(pod.automount_service_account_token).toBe(true);
    expect(JSON.parse(out.named("aws_iam_role", "prod-fd-score").assume_role_policy).Statement[0].Condition.StringEquals["oidc.example/id/X:sub"]).toBe(
      "system:serviceaccount:models:flight-delay-score",
    );
  });

  it("denies ingress and allows egress only to the registry, the object store and DNS", () => {
    const policy = out.named("kubernetes_network_policy_v1", "flight-delay-score").spec;
    expect(policy.policy_types).toEqual(["Ingress", "Egress"]);
    expect(policy.ingress ?? []).toEqual([]);
    expect(policy.egress.map((r: Json) => r.ports[0].port)).toEqual([String(NETWORK.registry.port), "443", "53", "53"]);
    expect(policy.pod_selector.match_labels).toEqual({ "app.kubernetes.io/name": "flight-delay", "app.kubernetes.io/component": "batch-scoring" });
  });

  it("with a schedule: a CronJob that never overlaps, running the same Indexed Job", () => {
    const cron = synth((stack) => new BatchScoringJob(stack, "s", { ...base, schedule: "0 3 * * *" })).named("kubernetes_cron_job_v1", "flight-delay-score").spec;
    expect(cron).toMatchObject({ schedule: "0 3 * * *", concurrency_policy: "Forbid", timezone: "Etc/UTC" });
    expect(cron.job_template.spec).toMatchObject({ completion_mode: "Indexed", completions: 8 });
  });

  it("in-cluster S3 (dev): endpoint and credentials from the Secret, no IRSA", () => {
    const dev = synth((stack) => new BatchScoringJob(stack, "d", { ...base, aws: undefined, s3Endpoint: { url: "http://seaweedfs.mlflow.svc.cluster.local:8333", credentialsSecret: "artifact-store-credentials" } }));
    const env = dev.named("kubernetes_job_v1", "flight-delay-score").spec.template.spec.container[0].env;
    const byName = Object.fromEntries(env.map((e: Json) => [e.name, e.value ?? e.value_from]));
    expect(byName[ENV.mlflowS3EndpointUrl]).toBe("http://seaweedfs.mlflow.svc.cluster.local:8333");
    expect(byName.AWS_ACCESS_KEY_ID).toEqual({ secret_key_ref: { name: "artifact-store-credentials", key: "AWS_ACCESS_KEY_ID" } });
    expect(dev.resources("aws_iam_role")).toEqual([]);
  });

  it.each([
    [{ output: "s3://lake/scored/all.parquet" }, /output "s3:\/\/lake\/scored\/all.parquet" must hold \{shard\} with 8 shards/],
    [{ output: "s3://lake/scored/part-{shard}.json" }, /must name a .parquet or .csv file/],
    [{ parallelism: 9 }, /parallelism 9 exceeds shards 8/],
    [{ shards: 0 }, /shards must be an integer >= 1, got 0/],
    [{ trackingUri: undefined }, /is a registry URI: give trackingUri/],
    [{ aws: undefined }, /is on S3: give `aws` \(IRSA\) or `s3Endpoint`/],
    [{ schedule: "nightly" }, /schedule "nightly" must be a 5-field cron/],
  ])("rejects %p", (override, message) => {
    expect(() => synth((stack) => new BatchScoringJob(stack, "s", { ...base, ...override }))).toThrow(message);
  });
});

describe("ModelDeployment's batchScoring option", () => {
  const platform = { ...PLATFORM, s3Endpoint: { ...PLATFORM.s3Endpoint, credentialsSecret: REGISTRY_SECRETS.driftArtifactCredentials } };
  const deployment = (batchScoring: { input: string; output: string; rejects?: string; shards?: number; schedule?: string }) =>
    synth((stack) =>
      new ModelDeployment(stack, "m", {
        model: "flight-delay",
        image: base.image,
        platform,
        hosts: ["flight-delay.models.example.com"],
        namePrefix: "modelport-dev",
        drift: { referenceUri: "s3://modelport/datasets/flight-delay/reference.parquet" },
        batchScoring,
      }),
    );

  test("the model's stable alias, the platform's registry, S3 and egress, and the scorer's own in-cluster identity", () => {
    const out = deployment({
      input: `s3://modelport/${BATCH_SCORING_INPUT_PREFIX}flights.parquet`,
      output: `s3://modelport/${BATCH_SCORING_OUTPUT_PREFIX}part-{shard}.parquet`,
      shards: 2,
      schedule: "0 3 * * *",
    });
    const cron = out.named("kubernetes_cron_job_v1", "flight-delay-score");
    const c = cron.spec.job_template.spec.template.spec.container[0];
    expect(c.command.slice(2, 4)).toEqual(["--model", "models:/flight-delay@champion"]);
    expect(out.named("kubernetes_network_policy_v1", "flight-delay-score").spec.egress.map((r: Json) => r.ports[0].port)).toEqual([String(NETWORK.registry.port), "8333", "53", "53"]);
    // Not the drift job's keys: the identity the registry grants batch-scoring/input read and batch-scoring/output write.
    const secrets = c.env.filter((e: Json) => e.value_from).map((e: Json) => e.value_from.secret_key_ref.name);
    expect(new Set(secrets)).toEqual(new Set([REGISTRY_SECRETS.batchScoringArtifactCredentials]));
  });

  test.each([
    [{ input: "s3://modelport/flights/x.parquet" }, /batchScoring.input "s3:\/\/modelport\/flights\/x.parquet" is out of reach .* use s3:\/\/modelport\/batch-scoring\/input\/<file>/],
    [{ input: `s3://modelport/${BATCH_SCORING_INPUT_PREFIX}` }, /a file: the identity may not list the bucket/],
    [{ output: "s3://modelport/scored/part-{shard}.parquet" }, /batchScoring.output .* use s3:\/\/modelport\/batch-scoring\/output\/<file>/],
    [{ rejects: `s3://modelport/${BATCH_SCORING_INPUT_PREFIX}rejects.parquet` }, /batchScoring.rejects/],
  ])("refuses, on an in-cluster store, %p", (override, message) => {
    const ok = { input: `s3://modelport/${BATCH_SCORING_INPUT_PREFIX}f.parquet`, output: `s3://modelport/${BATCH_SCORING_OUTPUT_PREFIX}out.parquet` };
    expect(() => deployment({ ...ok, ...override })).toThrow(message);
  });
});
