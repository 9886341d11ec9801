/**
 * The GPU check (run by bench/gpu-check.sh, which installs what it needs first): on a machine with an NVIDIA GPU,
 * the real service serves the heavy model (`npm run model:build -- --heavy`) and a tensor model (the torch
 * token-embedding fixture) on CUDA and on CPU, side by side:
 *   1. the CUDA replica becomes ready and reports CUDA as the provider that ran the graph (/model), or the check
 *      fails with its /readyz reason;
 *   2. CUDA and CPU answer the same requests with the same outputs within tolerance (floats: |gpu - cpu| <= atol +
 *      rtol * |cpu|; integers and strings exactly);
 *   3. batching on vs off, CPU vs GPU, in the same run: req/s and p99 of ModelInfer (gRPC, bench/grpc-load.ts) at
 *      `concurrency` calls in flight.
 * `--gpu-provider cpu` runs the same flow with CPU on both sides (a dry run for machines without a GPU: the test
 * suite does it). Writes gpu-check.json and gpu-check.md to --out and exits 1 when a check failed.
 *
 *   node dist/bench/gpu-check.js [--out DIR] [--seconds S] [--concurrency N] [--gpu-provider cuda|tensorrt|cpu]
 *                                [--device-id N] [--heavy-model DIR]
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { EXECUTION_PROVIDERS, ENV, GRPC_METHODS, HEAVY_MODEL_DIR, ROUTES, type ExecutionProviderName } from "../service/src/contract";
import { inferenceServiceDefinition } from "../service/src/grpc/proto";
import { projectRoot } from "../service/src/paths";
import { frameworkOutputs, TORCH_TOKEN_EMBEDDING_DIR } from "../test/support/fixture-models";
import { modelExampleTensors, typedRequest, type JsonTensor } from "../test/support/grpc-client";
import { startService, type RunningService } from "../test/support/service-process";
import { runGrpcLoad, type GrpcLoadResult } from "./grpc-load";

export interface GpuCheckArgs {
  readonly outDir: string;
  readonly seconds: number;
  readonly concurrency: number;
  readonly gpuProvider: ExecutionProviderName;
  readonly deviceId: number;
  readonly heavyModel: string;
}

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** float32 kernels differ between CPU and GPU (fused multiply-adds, reduction order, TF32 is off by default). */
export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-4, rtol: 1e-3 };

export interface OutputMismatch {
  readonly output: string;
  readonly index: number;
  readonly cpu: unknown;
  readonly gpu: unknown;
}

/** Where two answers differ beyond the tolerance (at most `limit` findings); [] when they agree. */
export function compareOutputs(cpu: readonly JsonTensor[], gpu: readonly JsonTensor[], tolerance: Tolerance = DEFAULT_TOLERANCE, limit = 10): OutputMismatch[] {
  const found: OutputMismatch[] = [];
  for (const expected of cpu) {
    const actual = gpu.find((t) => t.name === expected.name);
    if (!actual || actual.datatype !== expected.datatype || actual.shape.join() !== expected.shape.join() || actual.data.length !== expected.data.length) {
      found.push({ output: expected.name, index: -1, cpu: `${expected.datatype}[${expected.shape}]`, gpu: actual ? `${actual.datatype}[${actual.shape}]` : "missing" });
      continue;
    }
    const float = expected.datatype.startsWith("FP");
    for (let i = 0; i < expected.data.length && found.length < limit; i++) {
      const [c, g] = [expected.data[i], actual.data[i]];
      const close = float ? Math.abs((g as number) - (c as number)) <= tolerance.atol + tolerance.rtol * Math.abs(c as number) : c === g;
      if (!close) found.push({ output: expected.name, index: i, cpu: c, gpu: g });
    }
  }
  return found;
}

interface CheckedModel {
  readonly model: string;
  readonly gpuReady: boolean;
  /** /readyz reason when the GPU replica did not become ready. */
  readonly gpuNotReadyReason?: string;
  /** /model execution_provider of the GPU replica. */
  readonly gpuExecutionProvider?: unknown;
  readonly requests: number;
  readonly mismatches: OutputMismatch[];
}

interface BenchRow {
  readonly model: string;
  readonly provider: ExecutionProviderName;
  readonly batching: boolean;
  readonly result: GrpcLoadResult;
}

export interface GpuCheckResults {
  readonly startedAt: string;
  readonly args: GpuCheckArgs;
  readonly tolerance: Tolerance;
  readonly models: CheckedModel[];
  readonly bench: BenchRow[];
  readonly passed: boolean;
}

interface CheckModel {
  readonly label: string;
  readonly dir: string;
  /** Requests compared CPU vs GPU. */
  readonly requests: () => Promise<JsonTensor[][]>;
  /** The request the bench sends. */
  readonly benchRequest: () => Promise<JsonTensor[]>;
}

export function parseGpuCheckArgs(argv: readonly string[]): GpuCheckArgs {
  const root = projectRoot();
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const provider = (value("--gpu-provider") ?? "cuda") as ExecutionProviderName;
  if (!EXECUTION_PROVIDERS.includes(provider)) throw new Error(`--gpu-provider must be one of ${EXECUTION_PROVIDERS.join(", ")}`);
  return {
    outDir: resolve(value("--out") ?? join(root, "bench-results")),
    seconds: Number(value("--seconds") ?? 5),
    concurrency: Number(value("--concurrency") ?? 64),
    gpuProvider: provider,
    deviceId: Number(value("--device-id") ?? 0),
    heavyModel: resolve(value("--heavy-model") ?? join(root, HEAVY_MODEL_DIR)),
  };
}

export async function runGpuCheck(args: GpuCheckArgs, log: (line: string) => void = (l) => console.error(`gpu-check: ${l}`)): Promise<GpuCheckResults> {
  await mkdir(args.outDir, { recursive: true });
  const startedAt = new Date().toISOString();
  const models: CheckModel[] = [
    {
      label: "flight-delay-heavy (3 x 1024 MLP)",
      dir: args.heavyModel,
      requests: async () => [await modelExampleTensors(args.heavyModel)],
      benchRequest: () => modelExampleTensors(args.heavyModel, 1),
    },
    {
      label: "torch-token-embedding (tensor)",
      dir: TORCH_TOKEN_EMBEDDING_DIR,
      requests: async () => (await frameworkOutputs(TORCH_TOKEN_EMBEDDING_DIR)).cases.map((c) => [...c.inputs]),
      benchRequest: async () => [...(await frameworkOutputs(TORCH_TOKEN_EMBEDDING_DIR)).cases[0]!.inputs],
    },
  ];
  const env = (dir: string, provider: ExecutionProviderName, batching: boolean) => ({
    [ENV.modelUri]: dir,
    [ENV.logLevel]: "warn",
    [ENV.executionProvider]: provider,
    [ENV.executionProviderDeviceId]: String(args.deviceId),
    [ENV.batchMaxSize]: batching ? "64" : "1",
    [ENV.requestTimeoutMs]: "30000",
    [ENV.modelPollIntervalSeconds]: "3600",
  });

  const checked: CheckedModel[] = [];
  for (const model of models) {
    const cpu = await startService({ env: env(model.dir, "cpu", true), timeoutMs: 120_000 });
    const gpu = await startService({ env: env(model.dir, args.gpuProvider, true), waitReady: false });
    try {
      const ready = await waitReady(gpu, 180_000);
      if (!ready.ok) {
        log(`${model.label}: the ${args.gpuProvider} replica is not ready: ${ready.reason}`);
        checked.push({ model: model.label, gpuReady: false, gpuNotReadyReason: ready.reason, requests: 0, mismatches: [] });
        continue;
      }
      const placement = ((await (await fetch(gpu.url + ROUTES.model)).json()) as { execution_provider: unknown }).execution_provider;
      const mismatches: OutputMismatch[] = [];
      const requests = await model.requests();
      for (const inputs of requests) mismatches.push(...compareOutputs(await restInfer(cpu, inputs), await restInfer(gpu, inputs)));
      checked.push({ model: model.label, gpuReady: true, gpuExecutionProvider: placement, requests: requests.length, mismatches });
      log(`${model.label}: ${args.gpuProvider} ran ${JSON.stringify(placement)}; ${requests.length} requests, ${mismatches.length} outputs beyond tolerance`);
    } finally {
      await Promise.all([cpu.stop(), gpu.stop()]);
    }
  }

  const bench: BenchRow[] = [];
  // Without a usable GPU replica there is nothing to compare CPU with: the check has already failed, with why.
  const gpuUsable = checked.every((c) => c.gpuReady);
  for (const model of gpuUsable ? models : []) {
    const request = typedRequest("", await model.benchRequest());
    const providers = [...new Set<ExecutionProviderName>(["cpu", args.gpuProvider])];
    for (const provider of providers) {
      for (const batching of [false, true]) {
        const service = await startService({ env: env(model.dir, provider, batching), timeoutMs: 180_000 });
        try {
          const name = ((await (await fetch(service.url + ROUTES.readyz)).json()) as { model: string }).model;
          const bytes = inferenceServiceDefinition().ModelInfer!.requestSerialize({ ...request, model_name: name });
          const load = { address: service.grpcAddress, method: GRPC_METHODS.modelInfer, request: bytes, concurrency: args.concurrency };
          const result = await runGrpcLoad({ ...load, durationS: args.seconds, warmUpS: Math.min(1, args.seconds) });
          bench.push({ model: model.label, provider, batching, result });
          log(`${model.label} ${provider} batching ${batching ? "on" : "off"}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, errors ${JSON.stringify(result.errors)}`);
        } finally {
          await service.stop();
        }
      }
    }
  }

  const passed = gpuUsable && checked.every((c) => c.mismatches.length === 0) && bench.every((b) => Object.keys(b.result.errors).length === 0);
  const results: GpuCheckResults = { startedAt, args, tolerance: DEFAULT_TOLERANCE, models: checked, bench, passed };
  await writeFile(join(args.outDir, "gpu-check.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(args.outDir, "gpu-check.md"), renderGpuCheck(results));
  log(`${passed ? "passed" : "FAILED"}; results in ${join(args.outDir, "gpu-check.json")}`);
  return results;
}

export function renderGpuCheck(r: GpuCheckResults): string {
  const lines = [
    `# GPU check (${r.startedAt.slice(0, 10)}): ${r.passed ? "passed" : "FAILED"}`,
    "",
    `Provider under test: ${r.args.gpuProvider} (device ${r.args.deviceId}); outputs compared with CPU at atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol}.`,
    "",
    "| model | GPU replica | provider placement | requests compared | outputs beyond tolerance |",
    "|---|---|---|---:|---:|",
    ...r.models.map((m) => `| ${m.model} | ${m.gpuReady ? "ready" : `not ready: ${m.gpuNotReadyReason}`} | \`${JSON.stringify(m.gpuExecutionProvider ?? null)}\` | ${m.requests} | ${m.mismatches.length} |`),
    "",
    `ModelInfer over gRPC, ${r.args.concurrency} calls in flight, ${r.args.seconds} s each (bench/grpc-load.ts).`,
    "",
    "| model | provider | batching | req/s | p50 ms | p99 ms | errors |",
    "|---|---|---|---:|---:|---:|---|",
    ...r.bench.map((b) => `| ${b.model} | ${b.provider} | ${b.batching ? "on" : "off"} | ${b.result.rps.toFixed(0)} | ${b.result.p50Ms.toFixed(2)} | ${b.result.p99Ms.toFixed(2)} | ${JSON.stringify(b.result.errors)} |`),
    "",
  ];
  return lines.join("\n");
}

async function restInfer(service: RunningService, inputs: readonly JsonTensor[]): Promise<JsonTensor[]> {
  const name = ((await (await fetch(service.url + ROUTES.readyz)).json()) as { model: string }).model;
  const response = await fetch(`${service.url}/v2/models/${name}/infer`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs }) });
  if (!response.ok) throw new Error(`${service.url} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { outputs: JsonTensor[] }).outputs;
}

/** Ready, or the reason /readyz gives once the load has failed (a refused provider fails for good). */
async function waitReady(service: RunningService, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  const end = Date.now() + timeoutMs;
  let reason = "did not become ready in time";
  while (Date.now() < end) {
    const response = await fetch(service.url + ROUTES.readyz).catch(() => undefined);
    if (response?.ok) return { ok: true };
    const body = (await response?.json().catch(() => ({}))) as { reason?: string; reload?: { state?: string } } | undefined;
    if (body?.reason) reason = body.reason;
    if (body?.reload?.state === "failing") return { ok: false, reason };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { ok: false, reason };
}

if (require.main === module) {
  let args: GpuCheckArgs;
  try {
    args = parseGpuCheckArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`gpu-check: ${(error as Error).message}`);
    process.exit(2);
  }
  runGpuCheck(args).then(
    (results) => process.exit(results.passed ? 0 : 1),
    (error: Error) => {
      console.error(`gpu-check failed: ${error.stack ?? error.message}`);
      process.exit(1);
    },
  );
}
