// Every Deployment, Job and CronJob of every stack carries the hardened pod spec (constructs/workload.ts): Pod Security
// "restricted" on pod and containers, resources, probes where long-running, size-limited scratch, no token by default.
import { ENVIRONMENTS } from "../../stacks";
import { Json, wrap } from "../constructs/support/harness";
import { synthAll } from "./support/synth";

const all = synthAll(Object.values(ENVIRONMENTS));

interface Workload {
  what: string;
  spec: Json;
  longRunning: boolean;
  /** Annotations of the service account the pod runs as, when this stack creates it. */
  serviceAccount?: Json;
}

function workloads(json: Json): Workload[] {
  const s = wrap(json);
  const accounts = s.resources("kubernetes_service_account_v1");
  const accountOf = (spec: Json) => {
    const name = String(spec.service_account_name ?? "");
    const ref = /\$\{kubernetes_service_account_v1\.([^.]+)\./.exec(name);
    return ref ? json.resource.kubernetes_service_account_v1[ref[1]!] : accounts.find((a) => a.metadata.name === name);
  };
  const of = (what: string, spec: Json, longRunning: boolean): Workload => ({ what, spec, longRunning, serviceAccount: accountOf(spec) });
  return [
    ...s.resources("kubernetes_deployment_v1").map((d) => of(`Deployment ${d.metadata.name}`, d.spec.template.spec, true)),
    ...s.resources("kubernetes_job_v1").map((j) => of(`Job ${j.metadata.name}`, j.spec.template.spec, false)),
    ...s.resources("kubernetes_cron_job_v1").map((c) => of(`CronJob ${c.metadata.name}`, c.spec.job_template.spec.template.spec, false)),
  ];
}

const cases = [...all].flatMap(([stack, json]) => workloads(json).map((w) => [`${stack}: ${w.what}`, w] as const));

it("covers the workloads of every kind", () => {
  const kinds = new Set(cases.map(([name]) => name.split(": ")[1]!.split(" ")[0]));
  expect(kinds).toEqual(new Set(["Deployment", "Job", "CronJob"]));
  expect(cases.length).toBeGreaterThanOrEqual(15);
});

describe.each(cases)("%s", (_name, { spec, longRunning, serviceAccount }) => {
  it("is Pod Security restricted, pod and containers", () => {
    expect(spec.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    for (const c of spec.container) {
      expect(c.security_context).toMatchObject({
        run_as_non_root: true,
        read_only_root_filesystem: true,
        allow_privilege_escalation: false,
        capabilities: { drop: ["ALL"] },
        seccomp_profile: { type: "RuntimeDefault" },
      });
    }
  });

  it("has requests and limits, probes if long-running, and writes only to size-limited scratch or data volumes", () => {
    for (const c of spec.container) {
      expect(Object.keys(c.resources.requests)).toEqual(expect.arrayContaining(["cpu", "memory"]));
      expect(Object.keys(c.resources.limits)).toEqual(expect.arrayContaining(["cpu", "memory"]));
      if (longRunning) expect([c.liveness_probe, c.readiness_probe].every(Boolean)).toBe(true);
    }
    for (const v of spec.volume ?? []) if (v.empty_dir) expect(v.empty_dir.size_limit).toMatch(/^\d+(Mi|Gi)$/);
  });

  it("mounts a service-account token only with an IRSA role (the AWS SDK's web identity)", () => {
    const irsa = !!serviceAccount?.metadata?.annotations?.["eks.amazonaws.com/role-arn"];
    expect(spec.automount_service_account_token).toBe(irsa);
  });
});
