/**
 * Kubernetes building blocks shared by the workload constructs: the restricted security context, resource
 * shapes and name validation. Shapes follow @cdktf/provider-kubernetes (camelCase of the Terraform schema).
 */

/** CPU and memory for one container. Quantities in Kubernetes notation ("250m", "512Mi"). */
export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Pod Security Standards "restricted": non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp. */
export function restrictedContainerSecurityContext(runAsUser = 1000) {
  return {
    runAsNonRoot: true,
    runAsUser: String(runAsUser),
    runAsGroup: String(runAsUser),
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function restrictedPodSecurityContext(fsGroup = 1000) {
  return { runAsNonRoot: true, fsGroup: String(fsGroup), seccompProfile: { type: "RuntimeDefault" } };
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws unless `value` is a DNS-1123 label of at most `max` characters (names of Services, namespaces...). */
export function validateDnsLabel(what: string, value: string, max = 63): void {
  if (!DNS_1123_LABEL.test(value) || value.length > max) {
    throw new Error(`${what} "${value}" must be lowercase letters, digits and '-', start and end alphanumeric, at most ${max} characters`);
  }
}

const CPU = /^(\d+(\.\d+)?)(m?)$/;
const MEMORY = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const MEMORY_UNITS: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

function cpuCores(what: string, q: string): number {
  const m = CPU.exec(q);
  if (!m) throw new Error(`${what}: CPU quantity "${q}" is not valid (e.g. "500m" or "2")`);
  return Number(m[1]) / (m[3] ? 1000 : 1);
}
/** Bytes of a memory or storage quantity ("512Mi", "1Gi", "2G"). */
export function quantityBytes(what: string, q: string): number {
  return memoryBytes(what, q);
}

function memoryBytes(what: string, q: string): number {
  const m = MEMORY.exec(q);
  if (!m) throw new Error(`${what}: memory quantity "${q}" is not valid (e.g. "512Mi" or "2Gi")`);
  return Number(m[1]) * MEMORY_UNITS[m[3] ?? ""];
}

/** Throws when a quantity is malformed or a request exceeds its limit. */
export function validateResources(what: string, r: ContainerResources): void {
  if (cpuCores(what, r.requests.cpu) > cpuCores(what, r.limits.cpu)) {
    throw new Error(`${what}: CPU request ${r.requests.cpu} exceeds its limit ${r.limits.cpu}`);
  }
  if (memoryBytes(what, r.requests.memory) > memoryBytes(what, r.limits.memory)) {
    throw new Error(`${what}: memory request ${r.requests.memory} exceeds its limit ${r.limits.memory}`);
  }
}

/** Recommended labels (app.kubernetes.io/*) plus the platform's own. */
export function appLabels(name: string, component: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "modelport",
    "app.kubernetes.io/managed-by": "cdktf",
    ...extra,
  };
}
