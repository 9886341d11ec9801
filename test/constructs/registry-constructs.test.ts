// The small constructs ModelRegistry is composed of, through their grant-style surface: what each grant adds, and
// nothing more; plus the hardened pod spec they all build their workloads from.
import "cdktf/lib/testing/adapters/jest";
import { ArtifactGrantee } from "../../constructs/artifact-store";
import { IrsaRole } from "../../constructs/irsa-role";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../../constructs/kube";
import { S3ArtifactBucket } from "../../constructs/s3-artifact-bucket";
import { SeaweedFsArtifactStore } from "../../constructs/seaweedfs-artifact-store";
import { hardenedPodSpec } from "../../constructs/workload";
import { Json, synth } from "./support/harness";

const irsa = { oidcProviderArn: "arn:aws:iam::1:oidc-provider/x", oidcIssuer: "oidc.eks.example/id/ABC" };
const policyOf = (out: ReturnType<typeof synth>) => JSON.parse(out.resources("aws_iam_role_policy")[0]!.policy).Statement as Json[];

describe("IrsaRole", () => {
  it("without statements: a role and no policy; statements added later land in one policy", () => {
    const bare = synth((stack) => new IrsaRole(stack, "r", { irsa, roleName: "bare", namespace: "ns", serviceAccount: "sa" }));
    expect(bare.resources("aws_iam_role_policy")).toEqual([]);
    const granted = synth((stack) => {
      const role = new IrsaRole(stack, "r", { irsa, roleName: "later", namespace: "ns", serviceAccount: "sa" });
      role.addToPolicy({ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/x"] });
      role.addToPolicy({ actions: ["s3:PutObject"], resources: ["arn:aws:s3:::b/y"] });
    });
    expect(policyOf(granted).map((s) => s.Action)).toEqual([["s3:GetObject"], ["s3:PutObject"]]);
  });

  it("refuses wildcard actions", () => {
    expect(() =>
      synth((stack) => new IrsaRole(stack, "r", { irsa, roleName: "w", namespace: "n", serviceAccount: "s", statements: [{ actions: ["s3:*"], resources: ["*"] }] })),
    ).toThrow(/wildcard actions \(s3:\*\) are not least privilege/);
  });
});

describe("S3ArtifactBucket grants", () => {
  const withRole = (build: (bucket: S3ArtifactBucket, grantee: ArtifactGrantee) => void) =>
    synth((stack) => {
      const bucket = new S3ArtifactBucket(stack, "b", { bucketName: "reports-bucket" });
      const role = new IrsaRole(stack, "r", { irsa, roleName: "consumer", namespace: "models", serviceAccount: "job" });
      build(bucket, { name: "job", namespace: "models", role });
    });

  it("grantRead gets the matching objects only; grantWrite puts them only", () => {
    const out = withRole((bucket, g) => {
      bucket.grantRead(g, "datasets/*");
      bucket.grantWrite(g, "reports/*");
    });
    expect(policyOf(out).map((s) => [s.Action, s.Resource[0].replace(/\$\{[^}]+\}/, "ARN")])).toEqual([
      [["s3:GetObject"], "ARN/datasets/*"],
      [["s3:PutObject"], "ARN/reports/*"],
    ]);
  });

  it("on a bucket another stack created (fromBucketName), by its ARN", () => {
    const out = synth((stack) => {
      const role = new IrsaRole(stack, "r", { irsa, roleName: "c", namespace: "models", serviceAccount: "job" });
      S3ArtifactBucket.fromBucketName("platform-bucket").grantRead({ name: "job", namespace: "models", role }, "datasets/ref.parquet");
    });
    expect(policyOf(out)).toEqual([{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::platform-bucket/datasets/ref.parquet"] }]);
    expect(out.resources("aws_s3_bucket")).toEqual([]);
  });

  it("refuses a grantee without an IRSA role, and a key pattern that is not a prefix or a key", () => {
    expect(() => S3ArtifactBucket.fromBucketName("b").grantRead({ name: "x", namespace: "n" })).toThrow(/n\/x has no IRSA role to grant to/);
    expect(() => withRole((bucket, g) => bucket.grantRead(g, "data*sets"))).toThrow(/key pattern "data\*sets" must be "\*", a prefix/);
  });
});

describe("SeaweedFsArtifactStore", () => {
  const build = (grants: (store: SeaweedFsArtifactStore) => void) =>
    synth((stack) => grants(new SeaweedFsArtifactStore(stack, "s", { namespace: "store" })));
  const identities = (out: ReturnType<typeof synth>) => JSON.parse(out.named("kubernetes_secret_v1", "seaweedfs-s3-config").data["s3.json"]).identities as Json[];
  const digest = (out: ReturnType<typeof synth>) =>
    out.named("kubernetes_deployment_v1", "seaweedfs").spec.template.metadata.annotations["modelport.io/s3-identities"];

  it("one identity per consumer, with its own keys in a Secret of its namespace and only the actions granted", () => {
    const out = build((store) => {
      expect(store.grantRead({ name: "reader", namespace: "a" }, "datasets/*").secretName).toBe("artifact-store-reader");
      store.grantWrite({ name: "writer", namespace: "b" }, "reports/*");
      store.grantRead({ name: "writer", namespace: "b" }, "reports/*");
    });
    expect(identities(out).map((i) => [i.name, i.actions])).toEqual([
      ["a.reader", ["Read:modelport/datasets/*"]],
      ["b.writer", ["Read:modelport/reports/*", "Write:modelport/reports/*"]],
    ]);
    const secrets = out.resources("kubernetes_secret_v1").filter((s) => s.data?.AWS_ACCESS_KEY_ID);
    expect(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort()).toEqual(["a/artifact-store-reader", "b/artifact-store-writer"]);
    expect(new Set(secrets.map((s) => s.data.AWS_ACCESS_KEY_ID)).size).toBe(2);
  });

  it("a change of grants rolls the server (it reads s3.json at start)", () => {
    const one = build((store) => store.grantRead({ name: "r", namespace: "a" }));
    const two = build((store) => store.grantReadWrite({ name: "r", namespace: "a" }));
    expect(digest(one)).toMatch(/^[0-9a-f]{16}$/);
    expect(digest(one)).not.toBe(digest(two));
  });

  it("the Service exposes the master's gRPC port that weed shell dials; both encryption flags are on", () => {
    const out = build(() => undefined);
    expect(out.named("kubernetes_service_v1", "seaweedfs").spec.port.map((p: Json) => [p.name, p.port])).toEqual([
      ["s3", 8333],
      ["master", 9333],
      ["master-grpc", 19333],
    ]);
    expect(out.named("kubernetes_deployment_v1", "seaweedfs").spec.template.spec.container[0].args).toEqual(
      expect.arrayContaining(["-filer.encryptVolumeData", "-s3.encryptVolumeData"]),
    );
  });
});

describe("hardenedPodSpec", () => {
  const container = { name: "app", image: "img:1", resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } } };
  const probe = { httpGet: { path: "/healthz", port: "8080" } };

  it("restricted pod and container security contexts, no token, a size-limited /tmp", () => {
    const spec = hardenedPodSpec("batch", { containers: [container] });
    expect(spec.securityContext).toEqual(restrictedPodSecurityContext());
    expect((spec.container as Json[])[0].securityContext).toEqual(restrictedContainerSecurityContext());
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.volume).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    expect(spec.restartPolicy).toBe("OnFailure");
  });

  it("runs as the given user, and mounts ConfigMaps read-only", () => {
    const spec = hardenedPodSpec("batch", {
      runAsUser: 26,
      containers: [{ ...container, mounts: [{ volume: { name: "ca", configMap: { name: "postgres-ca" } }, mountPath: "/etc/ca" }] }],
    });
    expect(spec.securityContext).toMatchObject({ fsGroup: "26" });
    expect((spec.container as Json[])[0].volumeMount).toContainEqual({ name: "ca", mountPath: "/etc/ca", readOnly: true });
  });

  it("refuses a long-running container without probes, and resources whose request exceeds the limit", () => {
    expect(() => hardenedPodSpec("service", { containers: [container] })).toThrow(/container "app" of a long-running workload needs liveness and readiness probes/);
    expect(hardenedPodSpec("service", { containers: [{ ...container, probes: { liveness: probe, readiness: probe } }] }).restartPolicy).toBe("Always");
    const greedy = { ...container, resources: { requests: { cpu: "2", memory: "64Mi" }, limits: { cpu: "1", memory: "64Mi" } } };
    expect(() => hardenedPodSpec("batch", { containers: [greedy] })).toThrow(/CPU request 2 exceeds its limit 1/);
  });
});
