import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { MicroBatcher } from "../../service/src/model/batcher";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { readModelContract, type ScorerModel } from "../../service/src/model/model-contract";
import { readOnnxGraph } from "../../service/src/model/onnx-graph";
import { WorkerPoolScorer } from "../../service/src/model/worker-pool";
import { embeddingRow, writeEmbeddingModel } from "../support/onnx-models";
import { ScoringRejectedError } from "../../service/src/model/types";
import { FIXTURE_RECORD, fixtureProbability, writeFixtureModel } from "./fixture-model";

let dir: string;
let pkg: ScorerModel;

/** What the model manager hands a scorer factory: the version's scorer model from its contract. */
async function scorerModel(modelDir: string): Promise<ScorerModel> {
  const read = await readModelPackage(modelDir);
  return readModelContract(read, await readOnnxGraph(read.onnxPath), {}).scorer;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "worker-pool-"));
  pkg = await scorerModel(await writeFixtureModel(join(dir, "model")));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("WorkerPoolScorer", () => {
  it("scores records in worker threads, in order, with the model's probabilities", async () => {
    const pool = await WorkerPoolScorer.create(pkg, { workers: 2 });
    try {
      expect(pool.size).toBe(2);
      expect(pool.io().inputs).toEqual([
        { name: "distance", datatype: "FP64", shape: [-1, 1] },
        { name: "hour", datatype: "INT64", shape: [-1, 1] },
        { name: "origin", datatype: "BYTES", shape: [-1, 1] },
      ]);
      expect(pool.io().outputs.map((o) => o.name)).toEqual(["label", "probabilities"]);
      const records = Array.from({ length: 50 }, (_, i) => ({ distance: 100 * i, hour: i % 24, origin: `O${i}` }));
      // The row output is the probabilities output, [P(negative), P(positive)] per record.
      const [all, one] = await Promise.all([pool.score(records), pool.score([FIXTURE_RECORD])]);
      records.forEach((r, i) => expect(all[2 * i + 1]).toBeCloseTo(fixtureProbability(r), 5));
      expect(one[1]).toBeCloseTo(fixtureProbability(FIXTURE_RECORD), 5);
    } finally {
      await pool.close();
    }
  });

  it("keeps the event loop free while a slow model runs, where an in-thread run would block it", async () => {
    const slow = await scorerModel(await writeFixtureModel(join(dir, "slow"), { hiddenLayers: 8, hiddenWidth: 512 }));
    const pool = await WorkerPoolScorer.create(slow, { workers: 1 });
    try {
      // Long runs (tens of ms), so a stall from another process on a loaded machine is not mistaken for one.
      const batch = Array.from({ length: 2048 }, () => FIXTURE_RECORD);
      const started = Date.now();
      await pool.score(batch);
      const runMs = Date.now() - started;
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      for (let i = 0; i < 3; i++) await pool.score(batch);
      delay.disable();
      // An in-thread run would stall the loop for the whole run, every run: here the loop never stalls that long,
      // and its 99th percentile stays far below a run.
      expect(runMs).toBeGreaterThan(20);
      expect(delay.max / 1e6).toBeLessThan(runMs);
      expect(delay.percentile(99) / 1e6).toBeLessThan(runMs / 4);
    } finally {
      await pool.close();
    }
  });

  it("replaces a worker that dies, failing only the runs it had in flight", async () => {
    const pool = await WorkerPoolScorer.create(pkg, { workers: 1 });
    try {
      const worker = (pool as unknown as { workers: { thread: { terminate(): Promise<number> } }[] }).workers[0];
      const inFlight = pool.score([FIXTURE_RECORD]);
      await worker.thread.terminate();
      await expect(inFlight).rejects.toThrow(/exited/);
      for (let i = 0; i < 100 && pool.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(pool.size).toBe(1);
      await expect(pool.score([FIXTURE_RECORD])).resolves.toHaveLength(2);
    } finally {
      await pool.close();
    }
  });

  it("with no live worker refuses with a retryable model_unavailable, and recovers even when restarts fail at first", async () => {
    // Issue 15: with zero live workers a request got a 500 (a TypeError in score) instead of a retryable 503, and
    // a replacement that failed to start was never retried, so the pool stayed empty for good.
    const own = await scorerModel(await writeFixtureModel(join(dir, "restart")));
    const pool = await WorkerPoolScorer.create(own, { workers: 1 });
    try {
      const worker = (pool as unknown as { workers: { thread: { terminate(): Promise<number> } }[] }).workers[0]!;
      await rename(own.onnxPath, `${own.onnxPath}.away`); // the replacement cannot load the model for now
      await worker.thread.terminate();
      await new Promise((resolve) => setTimeout(resolve, 300)); // a restart or two fail meanwhile
      expect(pool.size).toBe(0);
      const refused = await pool.score([FIXTURE_RECORD]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ScoringRejectedError);
      expect((refused as ScoringRejectedError).reason).toBe("model_unavailable");
      await rename(`${own.onnxPath}.away`, own.onnxPath);
      for (let i = 0; i < 200 && pool.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(pool.size).toBe(1);
      await expect(pool.score([FIXTURE_RECORD])).resolves.toHaveLength(2); // one record's [P(negative), P(positive)]
    } finally {
      await pool.close();
    }
  });

  it("refuses to start on a file that is not an ONNX model, naming the file", async () => {
    const bad = join(dir, "bad.onnx");
    await writeFile(bad, "not a model");
    await expect(WorkerPoolScorer.create({ ...pkg, onnxPath: bad }, { workers: 2 })).rejects.toThrow(/cannot load .*bad\.onnx/);
  });

  it("serves a MicroBatcher with one run slot per worker", async () => {
    const pool = await WorkerPoolScorer.create(pkg, { workers: 2 });
    const batcher = new MicroBatcher(pool, { concurrency: pool.size, maxBatchSize: 16 });
    const records = Array.from({ length: 40 }, (_, i) => ({ distance: 10 * i, hour: 3, origin: "SFO" }));
    const answers = await Promise.all(records.map((r) => batcher.score([r])));
    answers.forEach((a, i) => expect(a[1]).toBeCloseTo(fixtureProbability(records[i]!), 5));
    await batcher.close();
  });

  it("runs tensors in worker threads and hands every output back, buffers transferred", async () => {
    const pool = await WorkerPoolScorer.create(await scorerModel(await writeEmbeddingModel(join(dir, "embedding"))), { workers: 1 });
    try {
      const outputs = await pool.run({ tensors: { input_ids: { type: "int64", dims: [2, 2], data: BigInt64Array.from([1n, 3n, 2n, 2n]) } }, rows: 2 });
      expect(outputs.embedding!.dims).toEqual([2, 4]);
      expect(Array.from(outputs.embedding!.data as Float32Array).slice(4)).toEqual(embeddingRow(2).map((v) => expect.closeTo(v, 5)));
      expect(outputs.token_sum).toMatchObject({ type: "int64", dims: [2] });
      expect(Array.from(outputs.token_sum!.data as BigInt64Array)).toEqual([4n, 4n]);
    } finally {
      await pool.close();
    }
  });
});
