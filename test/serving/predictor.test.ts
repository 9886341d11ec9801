// The transport-free scoring API (what the routes, the shadow and later batch scoring share) over real model
// managers and sessions: the task-generic prediction-log entry of every task, the fallback where a task has one,
// and the shadow scoring records or tensors with its own task.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { Registry } from "prom-client";
import type { PredictionLogEntry } from "../../service/src/contract";
import { createServiceMetrics, type ServiceMetrics } from "../../service/src/metrics/service-metrics";
import { ModelManager, type LoadedModel } from "../../service/src/model/model-manager";
import { OnnxScorer } from "../../service/src/model/onnx-scorer";
import { createPredictor } from "../../service/src/model/predictor";
import { createShadow } from "../../service/src/model/shadow";
import { ScoringRejectedError } from "../../service/src/model/types";
import { LocalModelSource } from "../../service/src/registry/local-source";
import {
  FLIGHT,
  MULTICLASS_LABELS,
  regressionValue,
  sklearnBinaryPositive,
  writeEmbeddingModel,
  writeRegressionPerColumn,
  writeSklearnBinary,
  writeSklearnMulticlass,
} from "../support/onnx-models";

let dir: string;
const managers: ModelManager[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "predictor-"));
});
afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** A loaded version; `overloaded` makes every run refuse as a full batcher would. */
async function load(modelDir: string, metrics: ServiceMetrics, options: { overloaded?: boolean; variant?: "stable" | "shadow" } = {}) {
  const models = new ModelManager({
    uri: modelDir,
    variant: options.variant ?? "stable",
    source: new LocalModelSource(modelDir),
    createScorer: async (model) => {
      const inner = await OnnxScorer.load(model);
      let warm = false;
      const refuse = () => Promise.reject(new ScoringRejectedError("queue_full", "queue is full"));
      return {
        score: (records) => (options.overloaded && warm ? refuse() : inner.score(records).finally(() => (warm = true))),
        run: (request) => (options.overloaded && warm ? refuse() : inner.run(request)),
        close: () => inner.close(),
      };
    },
    pollIntervalMs: 3_600_000,
    baselineMetric: "accuracy",
    fallback: { label: 1, probability: 0.9 },
    metrics,
    log: Fastify({ logger: false }).log,
  });
  managers.push(models);
  await models.checkNow();
  if (!models.current) throw new Error(`not loaded: ${JSON.stringify(models.state())}`);
  return { models, model: models.current as LoadedModel };
}

function setup() {
  const metrics = createServiceMetrics(new Registry());
  const entries: PredictionLogEntry[] = [];
  const predictor = createPredictor({ variant: "stable", metrics, requestTimeoutMs: 1000, recordPrediction: (e) => entries.push(e) });
  return { metrics, entries, predictor };
}

describe("prediction-log entries per task", () => {
  it("binary: P(positive), label 0/1, no value, the record as features", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeSklearnBinary(join(dir, "binary")), metrics);
    const [p] = await predictor.records(model, [FLIGHT], performance.now());
    expect(entries).toEqual([
      expect.objectContaining({ predictionId: p!.prediction_id, task: "binary", label: p!.label, value: null, features: FLIGHT, fallback: false, modelName: "binary" }),
    ]);
    expect(entries[0]!.probability).toBeCloseTo(sklearnBinaryPositive(FLIGHT), 5);
  });

  it("multiclass: the predicted class as the model names it and its probability", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeSklearnMulticlass(join(dir, "multiclass")), metrics);
    await predictor.records(model, [FLIGHT, { distance: 100, hour: 2 }], performance.now());
    expect(entries.map((e) => e.task)).toEqual(["multiclass", "multiclass"]);
    for (const e of entries) {
      expect(MULTICLASS_LABELS).toContain(e.label);
      expect(e.probability).toBeGreaterThan(1 / 3);
      expect(e.value).toBeNull();
    }
  });

  it("regression: the value, no probability or label; V2 rows of a column model log their columns", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeRegressionPerColumn(join(dir, "regression")), metrics);
    await predictor.records(model, [FLIGHT], performance.now());
    const tensors = { distance: { type: "float64" as const, dims: [1, 1], data: Float64Array.of(300) }, hour: { type: "int64" as const, dims: [1, 1], data: BigInt64Array.of(4n) } };
    await predictor.tensors(model, { tensors, rows: 1 }, ["variable"], performance.now(), [{ distance: 300, hour: 4 }]);
    expect(entries.map((e) => [e.task, e.probability, e.label])).toEqual([
      ["regression", null, null],
      ["regression", null, null],
    ]);
    expect(entries[0]!.value).toBeCloseTo(regressionValue(FLIGHT), 4);
    expect(entries[1]).toMatchObject({ features: { distance: 300, hour: 4 } });
    expect(entries[1]!.value).toBeCloseTo(regressionValue({ distance: 300, hour: 4 }), 4);
  });

  it("tensor: the L2 norm of each row of the first output as the value, no features (tensors are not logged)", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeEmbeddingModel(join(dir, "embedding")), metrics);
    const result = await predictor.tensors(model, { tensors: { input_ids: { type: "int64", dims: [2, 1], data: BigInt64Array.of(1n, 2n) } }, rows: 2 }, ["embedding"], performance.now());
    const embedding = result.tensors.embedding!.data as Float32Array;
    const norm = (row: number) => Math.hypot(...embedding.subarray(4 * row, 4 * row + 4));
    expect(entries.map((e) => e.task)).toEqual(["tensor", "tensor"]);
    entries.forEach((e, i) => {
      expect(e.value).toBeCloseTo(norm(i), 5);
      expect(e).toMatchObject({ probability: null, label: null, features: {} });
    });
  });
});

describe("overload per task", () => {
  it("binary answers the configured fallback, flagged, logged and counted", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeSklearnBinary(join(dir, "binary-overloaded")), metrics, { overloaded: true });
    const predictions = await predictor.records(model, [FLIGHT, FLIGHT], performance.now());
    expect(predictions.map((p) => [p.probability, p.label, p.fallback])).toEqual([
      [0.9, 1, true],
      [0.9, 1, true],
    ]);
    expect(entries.every((e) => e.fallback && e.task === "binary")).toBe(true);
    const v2 = await predictor.tensors(model, { tensors: { float_input: { type: "float32", dims: [1, 2], data: Float32Array.of(1, 2) } }, rows: 1 }, ["output_label", "output_probability"], performance.now());
    expect(Array.from(v2.tensors.output_probability!.data as Float32Array)).toEqual([Math.fround(0.1), Math.fround(0.9)]);
    expect(Array.from(v2.tensors.output_label!.data as BigInt64Array)).toEqual([1n]);
    expect((await metrics.fallbacks.get()).values.reduce((a, v) => a + v.value, 0)).toBe(3);
  });

  it("a task without a fallback (multiclass) is refused with ScoringRejectedError, counted in predictions_rejected_total", async () => {
    const { metrics, entries, predictor } = setup();
    const { model } = await load(await writeSklearnMulticlass(join(dir, "multiclass-overloaded")), metrics, { overloaded: true });
    await expect(predictor.records(model, [FLIGHT], performance.now())).rejects.toBeInstanceOf(ScoringRejectedError);
    expect(entries).toEqual([]);
    const rejected = (await metrics.rejected.get()).values;
    expect(rejected).toEqual([expect.objectContaining({ value: 1, labels: expect.objectContaining({ model: "multiclass-overloaded", reason: "queue_full" }) })]);
  });
});

describe("the shadow scores with its own task", () => {
  it("records through a multiclass challenger and tensors through an embedding one, logged with variant=shadow", async () => {
    const metrics = createServiceMetrics(new Registry());
    const entries: PredictionLogEntry[] = [];
    const challenger = await load(await writeSklearnMulticlass(join(dir, "challenger")), metrics, { variant: "shadow" });
    const shadow = createShadow({ models: challenger.models, sampleRate: 1, metrics, timeoutMs: 1000, recordPrediction: (e) => entries.push(e), log: Fastify({ logger: false }).log });
    shadow({ records: [FLIGHT] });
    const embedder = await load(await writeEmbeddingModel(join(dir, "embedding-challenger")), metrics, { variant: "shadow" });
    createShadow({ models: embedder.models, sampleRate: 1, metrics, timeoutMs: 1000, recordPrediction: (e) => entries.push(e), log: Fastify({ logger: false }).log })({
      tensors: { tensors: { input_ids: { type: "int64", dims: [1, 2], data: BigInt64Array.of(3n, 4n) } }, rows: 1, key: "2" },
    });
    for (let i = 0; i < 100 && entries.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(entries.map((e) => [e.variant, e.task, e.modelName]).sort()).toEqual([
      ["shadow", "multiclass", "challenger"],
      ["shadow", "tensor", "embedding-challenger"],
    ]);
    const predicted = (await metrics.predictions.get()).values.filter((v) => v.labels.variant === "shadow" && v.labels.outcome === "predicted");
    expect(predicted.reduce((a, v) => a + v.value, 0)).toBe(2);
  });
});
