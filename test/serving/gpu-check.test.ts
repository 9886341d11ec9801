// The GPU check (bench/gpu-check.sh + bench/gpu-check.ts). Without a GPU the script says so and exits 0, and the
// suite runs the check's own flow on CPU instead: both replicas on CPU agree and the bench rows come out; asked for
// CUDA here, the check fails with the CUDA replica's /readyz reason and still benches CPU. On a machine with an
// NVIDIA GPU the real check runs, briefly.
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { compareOutputs, runGpuCheck, type GpuCheckArgs } from "../../bench/gpu-check";
import { EMBEDDED_MODEL_DIR } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";

const run = promisify(execFile);
const root = projectRoot();
const hasGpu = (() => {
  try {
    execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let out: string;
beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), "gpu-check-"));
});
afterEach(() => rm(out, { recursive: true, force: true }));

const dryRun = (gpuProvider: GpuCheckArgs["gpuProvider"]): GpuCheckArgs => ({
  outDir: out,
  seconds: 0.3,
  concurrency: 4,
  gpuProvider,
  deviceId: 0,
  // The heavy model is built on demand (not committed); the demo model stands in for it here.
  heavyModel: join(root, EMBEDDED_MODEL_DIR),
});

(hasGpu ? it.skip : it)("skips cleanly on a machine without an NVIDIA GPU", async () => {
  const { stderr } = await run("bash", [join(root, "bench", "gpu-check.sh")], { cwd: root });
  expect(stderr).toContain("gpu-check: skipped: no NVIDIA GPU on this machine");
});

(hasGpu ? it.skip : it)("runs its flow with CPU on both sides: same outputs, bench rows for batching on and off", async () => {
  const results = await runGpuCheck(dryRun("cpu"), () => undefined);
  expect(results.passed).toBe(true);
  expect(results.models.map((m) => [m.gpuReady, m.mismatches])).toEqual([
    [true, []],
    [true, []],
  ]);
  expect(results.models.every((m) => m.requests > 0)).toBe(true);
  expect(results.bench.map((b) => [b.provider, b.batching])).toEqual([
    ["cpu", false],
    ["cpu", true],
    ["cpu", false],
    ["cpu", true],
  ]);
  for (const row of results.bench) expect([row.result.requests > 0, row.result.errors]).toEqual([true, {}]);
  expect(await readFile(join(out, "gpu-check.md"), "utf8")).toContain("| torch-token-embedding (tensor) | cpu | on |");
}, 240_000);

(hasGpu ? it.skip : it)("asked for CUDA without one, fails with the replica's own reason and benches nothing", async () => {
  const results = await runGpuCheck(dryRun("cuda"), () => undefined);
  expect(results.passed).toBe(false);
  for (const model of results.models) {
    expect(model.gpuReady).toBe(false);
    expect(model.gpuNotReadyReason).toContain("EXECUTION_PROVIDER=cuda could not be used");
  }
  expect(results.bench).toEqual([]);
  expect(await readFile(join(out, "gpu-check.md"), "utf8")).toContain("FAILED");
}, 240_000);

(hasGpu ? it : it.skip)("passes on this machine's GPU: CUDA replicas ready, outputs equal to CPU's, bench rows for both", async () => {
  const { stderr } = await run("bash", [join(root, "bench", "gpu-check.sh"), "--out", out, "--seconds", "2", "--concurrency", "32"], { cwd: root, timeout: 600_000 });
  const results = JSON.parse(await readFile(join(out, "gpu-check.json"), "utf8"));
  expect({ passed: results.passed, log: stderr }).toMatchObject({ passed: true });
}, 600_000);

describe("compareOutputs", () => {
  const fp = (data: number[]) => [{ name: "y", datatype: "FP32", shape: [data.length], data }];
  it("accepts float differences within atol + rtol * |cpu| and nothing more", () => {
    expect(compareOutputs(fp([1, 100, 0]), fp([1.0009, 100.09, 0.00009]))).toEqual([]);
    expect(compareOutputs(fp([1, 100]), fp([1.002, 100]))).toEqual([{ output: "y", index: 0, cpu: 1, gpu: 1.002 }]);
  });

  it("holds integers and strings to equality, and shapes to the same", () => {
    const labels = (data: unknown[]) => [{ name: "label", datatype: "INT64", shape: [data.length], data }];
    expect(compareOutputs(labels([0, 1]), labels([0, 1]))).toEqual([]);
    expect(compareOutputs(labels([0, 1]), labels([0, 0]))).toEqual([{ output: "label", index: 1, cpu: 1, gpu: 0 }]);
    expect(compareOutputs(labels([0, 1]), labels([0]))).toEqual([{ output: "label", index: -1, cpu: "INT64[2]", gpu: "INT64[1]" }]);
    expect(compareOutputs(labels([0]), [])).toEqual([{ output: "label", index: -1, cpu: "INT64[1]", gpu: "missing" }]);
  });
});
