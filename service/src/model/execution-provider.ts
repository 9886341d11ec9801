/**
 * Execution providers (EXECUTION_PROVIDER=cpu|cuda|tensorrt): the session options that ask onnxruntime for one,
 * and the check that it really ran the graph. onnxruntime-node's npm package ships the CPU build only; the CUDA
 * and TensorRT providers are shared libraries its installer downloads separately (the GPU image does). Two ways a
 * GPU request ends up on CPU, both refused here so the version is not ready and /readyz says why:
 *   - the provider cannot be created (libraries not installed, no driver, no GPU visible): session creation fails;
 *   - it is created but claims none of the graph's nodes (no kernel for them, e.g. ai.onnx.ml tree ensembles), so
 *     onnxruntime assigns every node to its CPU provider, saying so only in its own log. The warm-up run is
 *     profiled (onnxruntime's profile records the provider of every node it ran) to count nodes per provider.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import type { ExecutionProviderName } from "../contract";

export interface ExecutionProviderSettings {
  readonly name: ExecutionProviderName;
  /** GPU ordinal (cuda, tensorrt), among the GPUs the process sees. */
  readonly deviceId: number;
}

export const CPU_PROVIDER: ExecutionProviderSettings = { name: "cpu", deviceId: 0 };

/** What ran a version's graph, for /model, the V2 metadata and model_info{execution_provider}. */
export interface ExecutionProviderPlacement {
  readonly requested: ExecutionProviderName;
  /** The provider that ran the graph (the requested one: a load where it ran nothing is refused). */
  readonly used: ExecutionProviderName;
  /** GPU ordinal, for a GPU provider. */
  readonly deviceId?: number;
  /** Nodes of the verification run per onnxruntime provider name; absent on CPU, which is not profiled. */
  readonly nodes?: Readonly<Record<string, number>>;
}

/** The requested provider cannot serve this version: the load fails, and its message is /readyz's reason. */
export class ExecutionProviderError extends Error {
  override readonly name = "ExecutionProviderError";
}

/** onnxruntime's own provider names, as its profile and log spell them. */
export const ORT_PROVIDER_NAMES: Readonly<Record<ExecutionProviderName, string>> = {
  cpu: "CPUExecutionProvider",
  cuda: "CUDAExecutionProvider",
  tensorrt: "TensorrtExecutionProvider",
};

/**
 * Provider libraries onnxruntime-node's installer puts beside its binding (script/install-metadata.js, manifest
 * linux/x64:cuda12); onnxruntime dlopens them when a session asks for the provider.
 */
const PROVIDER_LIBRARIES: Readonly<Record<Exclude<ExecutionProviderName, "cpu">, readonly string[]>> = {
  cuda: ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"],
  tensorrt: ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_tensorrt.so"],
};
export const PROVIDER_INSTALL_COMMAND = "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install";

export function isGpuProvider(settings: ExecutionProviderSettings): boolean {
  return settings.name !== "cpu";
}

/** Session options that ask for the provider; a GPU provider's session is profiled until its first run. */
export function providerSessionOptions(settings: ExecutionProviderSettings, profileDir?: string): InferenceSession.SessionOptions {
  if (!isGpuProvider(settings)) return { executionProviders: ["cpu"] };
  // onnxruntime-node 1.30 forwards deviceId only (js/node/src/session_options_helper.cc); see config.ts.
  const provider = { name: settings.name, deviceId: settings.deviceId } as InferenceSession.ExecutionProviderConfig;
  return { executionProviders: [provider], ...(profileDir ? { enableProfiling: true, profileFilePrefix: join(profileDir, "verify") } : {}) };
}

/** A temp folder for a GPU session's verification profile (undefined on CPU). */
export async function profileDirFor(settings: ExecutionProviderSettings): Promise<string | undefined> {
  return isGpuProvider(settings) ? mkdtemp(join(tmpdir(), "modelport-ep-")) : undefined;
}

/** Why a session with a GPU provider could not be created, with what to do about it. */
export function providerUnavailable(settings: ExecutionProviderSettings, error: unknown): ExecutionProviderError {
  const name = settings.name as Exclude<ExecutionProviderName, "cpu">;
  const cause = (error as Error).message.split("\n")[0]!.trim();
  const dir = providerLibraryDir();
  const missing = PROVIDER_LIBRARIES[name].filter((file) => !existsSync(join(dir, file)));
  const why =
    missing.length > 0
      ? `onnxruntime-node's ${name} provider libraries are not installed (${missing.join(", ")} missing from ${dir}): serve from the GPU image (service/Dockerfile.gpu) or run ${PROVIDER_INSTALL_COMMAND}`
      : `the ${name} provider libraries are installed but did not load: CUDA 12 and cuDNN 9${name === "tensorrt" ? " and TensorRT 10" : ""} libraries, the NVIDIA driver or a GPU (device ${settings.deviceId}) are missing; check the pod's nvidia.com/gpu limit and NVIDIA_VISIBLE_DEVICES`;
  return new ExecutionProviderError(`EXECUTION_PROVIDER=${name} could not be used: ${why} (onnxruntime: ${cause}); not serving on CPU instead`);
}

/**
 * Ends the session's profiling after its first run and checks that the requested provider ran at least one node;
 * throws ExecutionProviderError when onnxruntime put every node on another provider. Removes the profile.
 */
export async function verifyPlacement(session: InferenceSession, settings: ExecutionProviderSettings, profileDir: string): Promise<ExecutionProviderPlacement> {
  try {
    session.endProfiling();
    const files = (await readdir(profileDir)).filter((f) => f.endsWith(".json"));
    if (files.length === 0) throw new ExecutionProviderError(`EXECUTION_PROVIDER=${settings.name}: onnxruntime wrote no profile, so the provider that ran the graph is unknown; not serving`);
    const events = JSON.parse(await readFile(join(profileDir, files[0]!), "utf8")) as unknown;
    return placementFromProfile(events, settings);
  } finally {
    await rm(profileDir, { recursive: true, force: true });
  }
}

/** Nodes per provider in an onnxruntime profile (Chrome trace events, `cat: "Node"`, `args.provider`), checked. */
export function placementFromProfile(events: unknown, settings: ExecutionProviderSettings): ExecutionProviderPlacement {
  const nodes: Record<string, number> = {};
  for (const event of Array.isArray(events) ? events : []) {
    const e = event as { cat?: unknown; args?: { provider?: unknown } };
    if (e.cat !== "Node" || typeof e.args?.provider !== "string") continue;
    nodes[e.args.provider] = (nodes[e.args.provider] ?? 0) + 1;
  }
  const wanted = ORT_PROVIDER_NAMES[settings.name];
  if (!nodes[wanted]) {
    const ran = Object.entries(nodes).map(([provider, n]) => `${n} on ${provider}`).join(", ") || "no nodes";
    throw new ExecutionProviderError(
      `EXECUTION_PROVIDER=${settings.name} was requested but onnxruntime ran none of the graph's nodes on ${wanted} (${ran}): the provider has no kernel for this graph's operators, so it would silently serve on CPU; serve this model with EXECUTION_PROVIDER=cpu`,
    );
  }
  return { requested: settings.name, used: settings.name, deviceId: settings.deviceId, nodes };
}

export function cpuPlacement(): ExecutionProviderPlacement {
  return { requested: "cpu", used: "cpu" };
}

/** Where onnxruntime-node's binding (and the provider libraries beside it) live for this platform. */
export function providerLibraryDir(): string {
  return join(dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
}
