/**
 * The one place pod specs are hardened: every Deployment, Job and CronJob the constructs create gets its pod spec from
 * `hardenedPodSpec`, so Pod Security "restricted" (non-root, read-only root filesystem, no privilege escalation, all
 * capabilities dropped, seccomp RuntimeDefault), resources, probes for long-running containers, writable scratch
 * directories as size-limited emptyDirs and no service-account token unless asked for are stated once, not per workload.
 * Shapes follow @cdktf/provider-kubernetes (camelCase of the Terraform schema).
 */
import type {
  DeploymentV1SpecTemplateSpec,
  DeploymentV1SpecTemplateSpecContainer,
  DeploymentV1SpecTemplateSpecContainerEnv,
  DeploymentV1SpecTemplateSpecContainerLivenessProbe,
  DeploymentV1SpecTemplateSpecVolume,
} from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { ContainerResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, validateResources } from "./kube";

/** Long-running workloads (Deployments) need liveness and readiness probes; batch ones (Jobs, CronJobs) run to completion. */
export type WorkloadKind = "service" | "batch";

export type PodSpec = DeploymentV1SpecTemplateSpec;
type ContainerSpec = DeploymentV1SpecTemplateSpecContainer;
type Probe = DeploymentV1SpecTemplateSpecContainerLivenessProbe;

/** One environment variable: a literal or a reference (secretKeyRef, fieldRef, ...). */
export type EnvVar = DeploymentV1SpecTemplateSpecContainerEnv;
type Volume = DeploymentV1SpecTemplateSpecVolume & { readonly name: string };

/** A writable directory on a read-only root filesystem: a size-limited emptyDir. */
export interface ScratchDir {
  /** Volume name (DNS label). */
  readonly name: string;
  readonly mountPath: string;
  /** e.g. "256Mi". */
  readonly sizeLimit: string;
}

/** A volume the pod mounts read-only or as data (ConfigMap, Secret, PVC), with where each container sees it. */
export interface VolumeMountSpec {
  readonly volume: Volume;
  readonly mountPath: string;
  /** @default true for ConfigMaps and Secrets, false otherwise */
  readonly readOnly?: boolean;
}

export interface ContainerOptions {
  readonly name: string;
  readonly image: string;
  /** @default the image's entrypoint */
  readonly command?: readonly string[];
  /** @default none */
  readonly args?: readonly string[];
  /** @default the image's */
  readonly workingDir?: string;
  /** @default none */
  readonly env?: readonly EnvVar[];
  /** @default none */
  readonly ports?: readonly { readonly name: string; readonly containerPort: number }[];
  readonly resources: ContainerResources;
  /** Extended resources requested and limited alike (e.g. `nvidia.com/gpu`). @default none */
  readonly extendedResources?: Readonly<Record<string, string>>;
  /** Required for `service` workloads. @default none */
  readonly probes?: { readonly startup?: Probe; readonly liveness: Probe; readonly readiness: Probe };
  /** @default a 64Mi /tmp */
  readonly scratch?: readonly ScratchDir[];
  /** @default none */
  readonly mounts?: readonly VolumeMountSpec[];
}

export interface HardenedPodOptions {
  readonly containers: readonly ContainerOptions[];
  /** UID (and GID, fsGroup) the pod runs as. @default 1000 */
  readonly runAsUser?: number;
  /** @default the namespace's default service account */
  readonly serviceAccountName?: string;
  /** Mount a service-account token (the AWS SDK needs one for IRSA). @default false */
  readonly automountServiceAccountToken?: boolean;
  /** @default "Always" for services, "OnFailure" for batch */
  readonly restartPolicy?: "Always" | "OnFailure" | "Never";
  /** @default Kubernetes' 30 */
  readonly terminationGracePeriodSeconds?: number;
  /** Node selection and spreading, passed through. @default none */
  readonly scheduling?: Pick<PodSpec, "nodeSelector" | "toleration" | "topologySpreadConstraint">;
}

const DEFAULT_SCRATCH: readonly ScratchDir[] = [{ name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" }];

/** A restricted pod spec; throws, naming the container, when a service container has no probes or bad resources. */
export function hardenedPodSpec(kind: WorkloadKind, options: HardenedPodOptions): PodSpec {
  if (options.containers.length === 0) throw new Error("hardenedPodSpec: a pod needs at least one container");
  const uid = options.runAsUser ?? 1000;
  const volumes = new Map<string, Volume>();
  const containers = options.containers.map((c) => {
    validateResources(`container "${c.name}" resources`, c.resources);
    if (kind === "service" && !c.probes) {
      throw new Error(`container "${c.name}" of a long-running workload needs liveness and readiness probes`);
    }
    const scratch = c.scratch ?? DEFAULT_SCRATCH;
    for (const s of scratch) volumes.set(s.name, { name: s.name, emptyDir: { sizeLimit: s.sizeLimit } });
    for (const m of c.mounts ?? []) volumes.set(m.volume.name, m.volume);
    const extended = { ...(c.extendedResources ?? {}) };
    const container: ContainerSpec = {
      name: c.name,
      image: c.image,
      ...(c.command && { command: [...c.command] }),
      ...(c.args && { args: [...c.args] }),
      ...(c.workingDir && { workingDir: c.workingDir }),
      ...(c.env?.length && { env: c.env.map((e) => ({ ...e })) }),
      ...(c.ports?.length && { port: c.ports.map((p) => ({ ...p })) }),
      resources: { requests: { ...c.resources.requests, ...extended }, limits: { ...c.resources.limits, ...extended } },
      securityContext: restrictedContainerSecurityContext(uid),
      ...(c.probes?.startup && { startupProbe: c.probes.startup }),
      ...(c.probes && { livenessProbe: c.probes.liveness, readinessProbe: c.probes.readiness }),
      volumeMount: [
        ...scratch.map((s) => ({ name: s.name, mountPath: s.mountPath })),
        ...(c.mounts ?? []).map((m) => ({ name: m.volume.name, mountPath: m.mountPath, readOnly: m.readOnly ?? isConfig(m.volume) })),
      ],
    };
    return container;
  });
  return {
    ...(options.serviceAccountName && { serviceAccountName: options.serviceAccountName }),
    automountServiceAccountToken: options.automountServiceAccountToken ?? false,
    restartPolicy: options.restartPolicy ?? (kind === "service" ? "Always" : "OnFailure"),
    ...(options.terminationGracePeriodSeconds !== undefined && { terminationGracePeriodSeconds: options.terminationGracePeriodSeconds }),
    securityContext: restrictedPodSecurityContext(uid),
    ...options.scheduling,
    container: containers,
    volume: [...volumes.values()],
  };
}

function isConfig(volume: Volume): boolean {
  return !!(volume.configMap || volume.secret);
}
