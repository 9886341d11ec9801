import { IAspect, TerraformResource } from "cdktf";
import { IConstruct } from "constructs";
import { parse } from "yaml";
import { EXACT_VERSION } from "./versions";

/** Resource types whose pods run containers, and whether they are long-running (and so need probes). */
const WORKLOADS: Record<string, { probes: boolean }> = {
  kubernetes_deployment_v1: { probes: true },
  kubernetes_deployment: { probes: true },
  kubernetes_stateful_set_v1: { probes: true },
  kubernetes_daemon_set_v1: { probes: true },
  kubernetes_pod_v1: { probes: true },
  kubernetes_job_v1: { probes: false },
  kubernetes_cron_job_v1: { probes: false },
};
const SECRET_TYPES = new Set(["kubernetes_secret_v1", "kubernetes_secret"]);
/** Names that announce a secret value. */
const SECRETISH = /(pass(word)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential)/i;
/** Secret keys that may hold a literal (an account name is not a secret). */
const NOT_SECRET_KEYS = /(^|[-_])(user(name)?|login)$/i;

type Json = Record<string, unknown>;

/**
 * Platform policies as a cdktf Aspect: synth fails (with the construct path and resource name in the message)
 * when a container lacks CPU/memory requests and limits, liveness/readiness probes (long-running workloads),
 * runAsNonRoot or a read-only root filesystem; when a remote Helm chart has no exact version; or when a
 * secret-looking value (env var, Secret data, Helm value, database password) is a literal instead of a
 * reference to a generated or stored secret. Add with `Aspects.of(stack).add(new PlatformPolicies())`.
 */
export class PlatformPolicies implements IAspect {
  visit(node: IConstruct): void {
    if (!TerraformResource.isTerraformResource(node)) return;
    const resource = node as TerraformResource;
    const type = resource.terraformResourceType;
    const relevant = type in WORKLOADS || SECRET_TYPES.has(type) || type === "helm_release" || type === "aws_db_instance" ||
      type === "aws_secretsmanager_secret_version";
    if (!relevant) return;
    const synthesized = resource.toTerraform() as { resource?: Record<string, Record<string, Json>> };
    const raw = Object.values(synthesized.resource?.[type] ?? {})[0];
    if (!raw) return;
    // Unresolved references stay as "${TfToken[...]}" strings, which is all isLiteral() needs to tell them apart.
    const attrs = raw;
    const violations = checkResource(type, attrs);
    if (violations.length === 0) return;
    const name = resourceName(type, attrs);
    resource.node.addValidation({ validate: () => violations.map((v) => `policy violation in ${type} "${name}": ${v}`) });
  }
}

/** All violations of one synthesized resource (Terraform JSON attributes, tokens resolved). */
export function checkResource(type: string, attrs: Json): string[] {
  const out: string[] = [];
  if (type in WORKLOADS) out.push(...checkWorkload(attrs, WORKLOADS[type].probes));
  if (SECRET_TYPES.has(type)) {
    for (const field of ["data", "binary_data", "string_data"]) {
      for (const [key, value] of Object.entries(one(attrs[field]) ?? {})) {
        if (isLiteral(value) && !NOT_SECRET_KEYS.test(key)) {
          out.push(`Secret key "${key}" is a literal; generate it (random_password) or reference a stored secret`);
        }
      }
    }
  }
  if (type === "helm_release") out.push(...checkHelmRelease(attrs));
  if (type === "aws_db_instance" && isLiteral(attrs.password)) {
    out.push("password is a literal; use a generated password (random_password) or manage_master_user_password");
  }
  if (type === "aws_secretsmanager_secret_version" && isLiteral(attrs.secret_string)) {
    out.push("secret_string is a literal; build it from generated values");
  }
  return out;
}

function checkWorkload(attrs: Json, needsProbes: boolean): string[] {
  const out: string[] = [];
  const podSpecs = findAll(attrs, "container").map(({ parent }) => parent);
  for (const podSpec of podSpecs) {
    const podNonRoot = one(podSpec.security_context)?.run_as_non_root === true;
    for (const container of [...list(podSpec.container), ...list(podSpec.init_container)]) {
      const c = container as Json;
      const what = `container "${String(c.name)}"`;
      const resources = one(c.resources) ?? {};
      for (const kind of ["requests", "limits"] as const) {
        const r = one(resources[kind]) ?? {};
        const missing = ["cpu", "memory"].filter((k) => r[k] === undefined || r[k] === "");
        if (missing.length) out.push(`${what} has no ${kind} for ${missing.join(" and ")}`);
      }
      const isInit = list(podSpec.init_container).includes(container);
      if (needsProbes && !isInit) {
        for (const probe of ["liveness_probe", "readiness_probe"]) {
          if (!one(c[probe])) out.push(`${what} has no ${probe.replace("_", " ")}`);
        }
      }
      const sc = one(c.security_context) ?? {};
      const nonRoot = sc.run_as_non_root === true || (podNonRoot && sc.run_as_non_root !== false);
      if (!nonRoot) out.push(`${what} may run as root (set runAsNonRoot: true)`);
      if (sc.read_only_root_filesystem !== true) out.push(`${what} has a writable root filesystem (set readOnlyRootFilesystem: true, mount emptyDirs where it writes)`);
      for (const env of list(c.env)) {
        const e = env as Json;
        if (typeof e.name === "string" && SECRETISH.test(e.name) && isLiteral(e.value)) {
          out.push(`${what} env ${e.name} is a literal; use valueFrom.secretKeyRef`);
        }
      }
    }
  }
  return out;
}

function checkHelmRelease(attrs: Json): string[] {
  const out: string[] = [];
  const chart = String(attrs.chart ?? "");
  const local = chart.startsWith("./") || chart.startsWith("/");
  if (!local) {
    const version = attrs.version;
    if (typeof version !== "string" || !EXACT_VERSION.test(version)) {
      out.push(`chart ${chart} is not pinned to an exact version (got ${version === undefined ? "none" : JSON.stringify(version)})`);
    }
  }
  for (const doc of list(attrs.values)) {
    if (typeof doc !== "string") continue;
    for (const path of literalSecretPaths(parse(doc), "")) out.push(`Helm value ${path} is a literal secret; reference an existing Secret`);
  }
  for (const s of list(attrs.set_sensitive)) {
    const item = s as Json;
    if (isLiteral(item.value)) out.push(`set_sensitive ${String(item.name)} is a literal`);
  }
  return out;
}

function literalSecretPaths(value: unknown, path: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => literalSecretPaths(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => {
      const p = path ? `${path}.${k}` : k;
      // Keys that name where a secret lives (existingSecret, passwordKey, secretName...) are references.
      const reference = /^existing|(name|key|ref|file|secrets)$/i.test(k);
      if (typeof v === "string" && SECRETISH.test(k) && !reference && isLiteral(v)) return [p];
      return literalSecretPaths(v, p);
    });
  }
  return [];
}

/** A non-empty string with no Terraform reference in it. */
function isLiteral(value: unknown): boolean {
  return typeof value === "string" && value.length > 0 && !value.includes("${");
}

function one(value: unknown): Json | undefined {
  if (Array.isArray(value)) return value[0] as Json | undefined;
  return value && typeof value === "object" ? (value as Json) : undefined;
}

function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** Every object (with its parent) found under `key` anywhere in the tree. */
function findAll(tree: unknown, key: string, parent?: Json): { value: unknown; parent: Json }[] {
  if (Array.isArray(tree)) return tree.flatMap((t) => findAll(t, key, parent));
  if (!tree || typeof tree !== "object") return [];
  const obj = tree as Json;
  const here = key in obj ? [{ value: obj[key], parent: obj }] : [];
  return [...here, ...Object.entries(obj).filter(([k]) => k !== key).flatMap(([, v]) => findAll(v, key, obj))];
}

function resourceName(type: string, attrs: Json): string {
  const meta = one(attrs.metadata);
  return String(meta?.name ?? attrs.name ?? attrs.identifier ?? type);
}
