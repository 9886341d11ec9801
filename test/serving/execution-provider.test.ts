// Execution providers. On this CPU-only machine (onnxruntime-node's CUDA libraries not installed, no GPU) a
// replica asked for CUDA is live but never ready, and /readyz, /model, V2 and gRPC readiness say why, for the
// in-thread session and for worker threads alike; the real process does the same. The other way onnxruntime ends
// up on CPU (the provider loads but takes none of the graph's nodes) is caught from onnxruntime's own profile of
// the warm-up run: a real CPU session's profile, checked as if CUDA had been asked for, is refused. Options the
// binding would drop are refused at start.
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import type { ModelportApp } from "../../service/src/app";
import { ConfigError, loadConfig } from "../../service/src/config";
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import { ExecutionProviderError, placementFromProfile, providerLibraryDir, verifyPlacement } from "../../service/src/model/execution-provider";
import { OnnxScorer } from "../../service/src/model/onnx-scorer";
import { TORCH_MLP_DIR } from "../support/fixture-models";
import { inferenceClient } from "../support/grpc-client";
import { metricValue, startTestApp } from "../support/service-app";
import { startService } from "../support/service-process";

const CUDA_INSTALLED = existsSync(join(providerLibraryDir(), "libonnxruntime_providers_cuda.so"));
const onCpuOnlyMachine = CUDA_INSTALLED ? it.skip : it;

describe("EXECUTION_PROVIDER=cuda on a machine without CUDA", () => {
  for (const workers of ["0", "1"]) {
    onCpuOnlyMachine(`is not ready, and says why (INFERENCE_WORKERS=${workers})`, async () => {
      const app: ModelportApp = await startTestApp({ [ENV.executionProvider]: "cuda", [ENV.inferenceWorkers]: workers });
      const client = inferenceClient(`127.0.0.1:${await app.grpc.listen("127.0.0.1", 0)}`);
      try {
        expect(app.models.current).toBeUndefined();
        expect((await app.inject(ROUTES.healthz)).statusCode).toBe(200);
        const ready = await app.inject(ROUTES.readyz);
        expect(ready.statusCode).toBe(503);
        const reason = ready.json().reason as string;
        expect(reason).toContain("EXECUTION_PROVIDER=cuda could not be used");
        expect(reason).toContain("libonnxruntime_providers_cuda.so");
        expect(reason).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12");
        expect(reason).toContain("not serving on CPU instead");
        expect(ready.json().reload).toMatchObject({ state: "failing", last_error: reason });
        expect((await app.inject(ROUTES.model)).statusCode).toBe(503);
        expect((await app.inject(ROUTES.v2.ready)).statusCode).toBe(400);
        expect(await client.serverReady()).toEqual({ ready: false });
        expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })).toBeGreaterThanOrEqual(1);
        expect(await metricValue(app, METRICS.modelLoaded, {})).toBe(0);
      } finally {
        client.close();
        await app.close();
      }
    });
  }

  onCpuOnlyMachine("keeps the real process live but unready, with the reason in /readyz", async () => {
    const service = await startService({ env: { [ENV.executionProvider]: "cuda" }, waitReady: false });
    try {
      let body: { reason?: string } = {};
      for (let i = 0; i < 100 && !body.reason?.includes("EXECUTION_PROVIDER"); i++) {
        const response = await fetch(service.url + ROUTES.readyz);
        expect(response.status).toBe(503);
        body = (await response.json()) as { reason?: string };
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(body.reason).toContain("EXECUTION_PROVIDER=cuda could not be used");
      expect((await fetch(service.url + ROUTES.healthz)).status).toBe(200);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it("serves on CPU by default, and /model and model_info say so", async () => {
    const app = await startTestApp({});
    try {
      expect((await app.inject(ROUTES.model)).json().execution_provider).toEqual({ requested: "cpu", used: "cpu", device_id: null, nodes: null });
      const id = app.models.current!.identity;
      expect(await metricValue(app, METRICS.modelInfo, { version: id.version, execution_provider: "cpu" })).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe("a GPU provider that runs none of the graph (onnxruntime assigning every node to CPU)", () => {
  /** A real onnxruntime profile of one run of the torch MLP on the CPU provider. */
  async function cpuProfiledSession(): Promise<{ session: ort.InferenceSession; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), "ep-profile-"));
    const session = await ort.InferenceSession.create(join(TORCH_MLP_DIR, "model.onnx"), { executionProviders: ["cpu"], enableProfiling: true, profileFilePrefix: join(dir, "p") });
    await session.run({ features: new ort.Tensor("float32", new Float32Array(16), [2, 8]) });
    return { session, dir };
  }

  it("is refused from the profile's node placements when CUDA was asked for", async () => {
    const { session, dir } = await cpuProfiledSession();
    try {
      const refusal = verifyPlacement(session, { name: "cuda", deviceId: 0 }, dir);
      await expect(refusal).rejects.toBeInstanceOf(ExecutionProviderError);
      await expect(refusal).rejects.toThrow(/ran none of the graph's nodes on CUDAExecutionProvider \(\d+ on CPUExecutionProvider\).*silently serve on CPU/);
      expect(existsSync(dir)).toBe(false);
    } finally {
      await session.release();
    }
  });

  it("is accepted, with nodes per provider, when the requested provider ran them", async () => {
    const { session, dir } = await cpuProfiledSession();
    try {
      // The same profile, read as the CPU provider's: every node counted under it.
      const placement = await verifyPlacement(session, { name: "cpu", deviceId: 0 }, dir);
      expect(placement.used).toBe("cpu");
      expect(placement.nodes!.CPUExecutionProvider).toBeGreaterThan(0);
    } finally {
      await session.release();
    }
    const mixed = [
      { cat: "Node", args: { provider: "CUDAExecutionProvider" } },
      { cat: "Node", args: { provider: "CPUExecutionProvider" } },
      { cat: "Session", args: {} },
    ];
    expect(placementFromProfile(mixed, { name: "cuda", deviceId: 1 })).toEqual({
      requested: "cuda",
      used: "cuda",
      deviceId: 1,
      nodes: { CUDAExecutionProvider: 1, CPUExecutionProvider: 1 },
    });
  });

  onCpuOnlyMachine("fails an OnnxScorer asked for CUDA at load, naming the missing libraries", async () => {
    const model = { onnxPath: join(TORCH_MLP_DIR, "model.onnx"), feeds: [] };
    const load = OnnxScorer.load(model, { provider: { name: "cuda", deviceId: 0 }, verifyWith: { tensors: {}, rows: 1 } });
    await expect(load).rejects.toThrow(/EXECUTION_PROVIDER=cuda could not be used: onnxruntime-node's cuda provider libraries are not installed/);
  });
});

describe("EXECUTION_PROVIDER settings", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it("reads the provider and device id; defaults to CPU, device 0", () => {
    expect(loadConfig({}).inference.executionProvider).toEqual({ name: "cpu", deviceId: 0 });
    expect(loadConfig({ [ENV.executionProvider]: "tensorrt", [ENV.executionProviderDeviceId]: "2" }).inference.executionProvider).toEqual({ name: "tensorrt", deviceId: 2 });
    expect(loadConfig({ [ENV.executionProvider]: "cuda", [ENV.executionProviderOptions]: "device_id=1" }).inference.executionProvider).toEqual({ name: "cuda", deviceId: 1 });
  });

  it("refuses a provider option the binding would silently drop, an unknown one, and a bad provider", () => {
    expect(problems({ [ENV.executionProvider]: "cuda", [ENV.executionProviderOptions]: "gpu_mem_limit=2147483648" })).toEqual([
      expect.stringMatching(/EXECUTION_PROVIDER_OPTIONS: gpu_mem_limit is a cuda provider option that onnxruntime-node 1.30 does not pass to onnxruntime .*device_id only.*ignored/),
    ]);
    expect(problems({ [ENV.executionProvider]: "cuda", [ENV.executionProviderOptions]: "warp_speed=9" })).toEqual([expect.stringContaining("warp_speed is not a cuda provider option")]);
    expect(problems({ [ENV.executionProvider]: "cuda", [ENV.executionProviderDeviceId]: "0", [ENV.executionProviderOptions]: "device_id=1" })).toEqual([expect.stringContaining("contradicts")]);
    expect(problems({ [ENV.executionProvider]: "rocm" })).toEqual([expect.stringContaining("EXECUTION_PROVIDER=rocm is not one of cpu, cuda, tensorrt")]);
  });

  it("needs a gRPC port of its own", () => {
    expect(problems({ [ENV.port]: "9000", [ENV.grpcPort]: "9000" })).toEqual([expect.stringContaining("gRPC needs a port of its own")]);
  });
});
