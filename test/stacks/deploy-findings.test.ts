// The deploy-time findings of the offline review (issue 14), one behaviour each, checked over the synthesized stacks
// against what the upstream components do: SeaweedFS's ports and flags, EKS's defaults, node-postgres and RDS TLS,
// the Pushgateway chart, and least privilege for every credential the stacks hand out.
import { parse } from "yaml";
import { CHARTS } from "../../constructs/versions";
import { ENVIRONMENTS, modelStackName, platformStackName } from "../../stacks";
import { Json, Synthesized, wrap } from "../constructs/support/harness";
import { chartFixture, helmMerge } from "./support/charts";
import { stackGraph } from "./support/dependencies";
import { synthAll } from "./support/synth";

const all = synthAll(Object.values(ENVIRONMENTS));
const stack = (name: string) => wrap(all.get(name)!);
const platform = (env: string) => stack(platformStackName(env));
const model = (env: string) => stack(modelStackName(env, "flight-delay"));
const AWS_ENVS = ["staging", "prod"];
const ALL_ENVS = ["dev", "staging", "prod"];

/** Pod specs of every Deployment, Job and CronJob, with the workload's name. */
function podSpecs(s: Synthesized): { name: string; namespace: string; spec: Json }[] {
  const of = (r: Json, spec: Json) => ({ name: r.metadata.name, namespace: r.metadata.namespace, spec });
  return [
    ...s.resources("kubernetes_deployment_v1").map((d) => of(d, d.spec.template.spec)),
    ...s.resources("kubernetes_job_v1").map((j) => of(j, j.spec.template.spec)),
    ...s.resources("kubernetes_cron_job_v1").map((c) => of(c, c.spec.job_template.spec.template.spec)),
  ];
}

/** A name given literally or as a reference to a resource's `metadata[0].name` in the same stack. */
function nameOf(s: Synthesized, value: string): string {
  const ref = /^\$\{([a-z0-9_]+)\.([^.]+)\.metadata\[0\]\.name\}$/.exec(value);
  return ref ? s.json.resource[ref[1]!][ref[2]!].metadata.name : value;
}

/** Secret names a container reads through env valueFrom. */
const secretRefs = (s: Synthesized, container: Json): string[] =>
  (container.env ?? [])
    .map((e: Json) => e.value_from?.secret_key_ref?.name)
    .filter((n: unknown): n is string => typeof n === "string")
    .map((n: string) => nameOf(s, n));

/** `postgres(ql)://` URLs in the data of every Secret of a stack, by Secret name. */
function postgresUrls(s: Synthesized): { secret: string; namespace: string; url: string }[] {
  return s.resources("kubernetes_secret_v1").flatMap((secret) =>
    Object.values<string>(secret.data ?? {})
      .filter((v) => /^postgres(ql)?:\/\//.test(v))
      .map((url) => ({ secret: secret.metadata.name, namespace: secret.metadata.namespace, url })),
  );
}

/** The query parameters of a URL whose host and password may be Terraform references. */
const queryOf = (url: string) => new URLSearchParams(url.split("?")[1] ?? "");
const userOf = (url: string) => /^postgres(?:ql)?:\/\/([^:@]+)/.exec(url)?.[1];

describe("dev: SeaweedFS", () => {
  const dev = platform("dev");
  const server = () => dev.named("kubernetes_deployment_v1", "seaweedfs").spec.template.spec.container[0];

  it("the bucket Job's weed shell reaches the master's gRPC port through the seaweedfs Service", () => {
    const job = dev.named("kubernetes_job_v1", "seaweedfs-create-bucket").spec.template.spec.container[0];
    const master = /-master=([^\s"]+)/.exec(job.command.join(" "))![1];
    // SeaweedFS addresses are host:port[.grpcPort]; without the suffix gRPC is port + 10000 (pb.ServerAddress).
    const [, host, port, explicitGrpc] = /^([^:]+):(\d+)(?:\.(\d+))?$/.exec(master)!;
    const grpc = Number(explicitGrpc ?? Number(port) + 10000);
    expect(host.split(".")[0]).toBe("seaweedfs");
    const service = dev.named("kubernetes_service_v1", "seaweedfs");
    expect(service.spec.port.map((p: Json) => p.port)).toContain(grpc);
    // ...and the master listens there: `weed server` defaults master.port.grpc to master.port + 10000.
    const args: string[] = server().args;
    const masterPort = Number(args.find((a) => a.startsWith("-master.port="))!.split("=")[1]);
    const grpcArg = args.find((a) => a.startsWith("-master.port.grpc="));
    expect(grpcArg ? Number(grpcArg.split("=")[1]) : masterPort + 10000).toBe(grpc);
  });

  it("encrypts what arrives through the S3 gateway (-s3.encryptVolumeData, not only the filer's flag)", () => {
    expect(server().args).toContain("-s3.encryptVolumeData");
  });
});

describe.each(AWS_ENVS)("%s: EKS defaults", (env) => {
  const p = platform(env);
  const addon = (name: string) => p.resources("aws_eks_addon").find((a) => a.addon_name === name);

  it("PersistentVolumeClaims get an encrypted gp3 default StorageClass, created before the charts that claim volumes", () => {
    const classes = p.resources("kubernetes_storage_class_v1");
    const defaults = classes.filter((c) => c.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true");
    expect(defaults).toHaveLength(1);
    expect(defaults[0]).toMatchObject({ storage_provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true" } });
    const g = stackGraph(p.json);
    const node = (type: string, match: (r: Json) => boolean) => `${type}.${Object.entries<Json>(p.json.resource[type]).find(([, r]) => match(r))![0]}`;
    const storageClass = node("kubernetes_storage_class_v1", (c) => c.metadata.name === defaults[0].metadata.name);
    expect(g.dependsOn(storageClass, node("aws_eks_addon", (a) => a.addon_name === "aws-ebs-csi-driver"))).toBe(true);
    for (const release of ["kps", "pushgateway"]) expect(g.dependsOn(node("helm_release", (r) => r.name === release), storageClass)).toBe(true);
  });

  it("enforces NetworkPolicies: the vpc-cni add-on runs with enableNetworkPolicy", () => {
    const cni = addon("vpc-cni");
    expect(cni).toBeDefined();
    expect(JSON.parse(cni!.configuration_values)).toMatchObject({ enableNetworkPolicy: "true" });
  });
});

describe.each(AWS_ENVS)("%s: TLS to RDS", (env) => {
  const p = platform(env);

  it("every database URL verifies the server (sslmode=verify-full) against a CA file", () => {
    const urls = postgresUrls(p);
    expect(urls.length).toBeGreaterThan(0);
    for (const { secret, url } of urls) {
      expect([secret, queryOf(url).get("sslmode")]).toEqual([secret, "verify-full"]);
      expect(queryOf(url).get("sslrootcert")).toMatch(/^\/.+\.pem$/);
    }
  });

  it("every pod given a database URL mounts the CA file its sslrootcert names, from a ConfigMap of its namespace", () => {
    const urls = postgresUrls(p);
    const byName = new Map(urls.map((u) => [u.secret, u.url]));
    let checked = 0;
    // The platform creates the CA ConfigMaps, in its own namespaces and in the model namespaces.
    const configMaps = p.resources("kubernetes_config_map_v1");
    for (const s of [p, model(env)]) {
      for (const { name, namespace, spec } of podSpecs(s)) {
        for (const container of spec.container) {
          for (const ref of secretRefs(s, container).filter((r) => byName.has(r))) {
            const rootCert = queryOf(byName.get(ref)!).get("sslrootcert")!;
            const dir = rootCert.slice(0, rootCert.lastIndexOf("/"));
            const mount = (container.volume_mount ?? []).find((m: Json) => m.mount_path === dir);
            expect([name, ref, mount?.mount_path]).toEqual([name, ref, dir]);
            const volume = spec.volume.find((v: Json) => v.name === mount.name);
            const configMap = configMaps.find((c) => c.metadata.name === nameOf(s, volume.config_map?.name ?? "") && c.metadata.namespace === namespace);
            expect([name, Object.keys(configMap?.data ?? {})]).toEqual([name, [rootCert.slice(dir.length + 1)]]);
            checked++;
          }
        }
      }
    }
    // MLflow, the role bootstrap Job, stable, canary (and shadow) and the drift job.
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});

describe.each(ALL_ENVS)("%s: Pushgateway", (env) => {
  it("keeps pushed metrics on its persistent volume (--persistence.file under the volume's mount path)", () => {
    const chart = chartFixture(CHARTS.pushgateway.chart, CHARTS.pushgateway.version);
    const release = platform(env).resources("helm_release").find((r) => r.name === "pushgateway")!;
    const values = helmMerge(chart.values, parse(release.values[0])) as Json;
    expect(values.persistentVolume.enabled).toBe(true);
    const file = (values.extraArgs as string[]).find((a) => a.startsWith("--persistence.file="))?.split("=")[1];
    expect(file).toMatch(new RegExp(`^${values.persistentVolume.mountPath}/[^/]+$`));
  });
});

describe.each(ALL_ENVS)("%s: least privilege", (env) => {
  const p = platform(env);

  it("the prediction log connects as its own role with its own password, never as MLflow's database owner", () => {
    const urls = postgresUrls(p);
    const mlflow = urls.find((u) => u.secret === "mlflow-backend")!;
    const predictionLogs = urls.filter((u) => u.secret === "prediction-log");
    expect(predictionLogs.map((u) => u.namespace)).toEqual(["models"]);
    for (const log of predictionLogs) {
      expect(userOf(log.url)).not.toBe(userOf(mlflow.url));
      const password = (url: string) => /\$\{random_password\.([^.]+)\.result\}/.exec(url)?.[1];
      expect(password(log.url)).toBeDefined();
      expect(password(log.url)).not.toBe(password(mlflow.url));
    }
  });

  it("no IAM role can be assumed that grants nothing", () => {
    for (const s of [p, model(env)]) {
      const g = stackGraph(s.json);
      const roles = Object.keys(s.json.resource?.aws_iam_role ?? {}).map((id) => `aws_iam_role.${id}`);
      const grants = g.nodes.filter((n) => n.startsWith("aws_iam_role_policy"));
      const empty = roles.filter((role) => !grants.some((grant) => g.dependsOn(grant, role)));
      expect(empty).toEqual([]);
    }
  });
});

describe("dev: object-store credentials per consumer", () => {
  const dev = platform("dev");
  const credentials = dev
    .resources("kubernetes_secret_v1")
    .filter((s) => s.data?.AWS_ACCESS_KEY_ID)
    .map((s) => ({ namespace: s.metadata.namespace as string, name: s.metadata.name as string, key: s.data.AWS_ACCESS_KEY_ID as string }));

  it("each consumer has its own identity: no two namespaces share an access key", () => {
    expect(new Set(credentials.map((c) => c.key)).size).toBe(credentials.length);
  });

  it("the identities' actions are scoped to the bucket, the drift job's to its prefixes", () => {
    const config = JSON.parse(dev.named("kubernetes_secret_v1", "seaweedfs-s3-config").data["s3.json"]) as { identities: Json[] };
    for (const identity of config.identities) {
      for (const action of identity.actions as string[]) expect(action).toMatch(/^(Read|Write|List|Tagging):modelport(\/|$)/);
    }
    // Identities are named <namespace>.<consumer>.
    const drift = config.identities.find((i) => i.name === "models.drift")!;
    expect([...drift.actions].sort()).toEqual(["Read:modelport/datasets/*", "Write:modelport/drift-reports/*"]);
  });
});
