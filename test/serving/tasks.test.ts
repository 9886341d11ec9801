// Every task and signature kind through the real app and real ONNX Runtime sessions: what /predict, /predict/batch
// and V2 answer, the task's metrics, and the model contract's refusals at load (naming the output and the fix).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelportApp } from "../../service/src/app";
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import { metricValue, startTestApp } from "../support/service-app";
import {
  FLIGHT,
  MULTICLASS_LABELS,
  perColumnProbabilities,
  regressionValue,
  sklearnBinaryPositive,
  sklearnMulticlassProbabilities,
  writeEmbeddingModel,
  writeLogitsClassifier,
  writeMulticlassPerColumn,
  writeRegressionPerColumn,
  writeRegressionTensorSignature,
  writeSequenceOutputModel,
  writeSklearnBinary,
  writeSklearnMulticlass,
} from "../support/onnx-models";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tasks-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const post = (app: ModelportApp, url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: JSON.stringify(payload), headers: { "content-type": "application/json" } });

async function serve(modelDir: string, env: Record<string, string> = {}): Promise<ModelportApp> {
  const app = await startTestApp({ [ENV.modelUri]: modelDir, ...env });
  if (!app.models.current) throw new Error(`did not load: ${JSON.stringify(app.models.state())}`);
  return app;
}

const v2Columns = (rows: { distance: number; hour: number }[]) => ({
  inputs: [
    { name: "distance", shape: [rows.length, 1], datatype: "FP64", data: rows.map((r) => r.distance) },
    { name: "hour", shape: [rows.length, 1], datatype: "INT64", data: rows.map((r) => r.hour) },
  ],
});
const v2Features = (rows: { distance: number; hour: number }[], name = "float_input") => ({
  inputs: [{ name, shape: [rows.length, 2], datatype: "FP32", data: rows.flatMap((r) => [r.distance, r.hour]) }],
});
const ROWS = [FLIGHT, { distance: 300, hour: 6 }, { distance: 2500, hour: 22 }];

describe("binary, skl2onnx layout: [N, 2] input fed from columns, output_label + output_probability", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeSklearnBinary(join(dir, "sk-binary")))));
  afterAll(() => app.close());

  it("answers /predict in the binary shape with P(positive) from output_probability and the version's threshold", async () => {
    const body = (await post(app, ROUTES.predict, FLIGHT)).json();
    expect(Object.keys(body).sort()).toEqual(["fallback", "label", "model", "prediction_id", "probability", "threshold", "variant", "version"]);
    expect(body.probability).toBeCloseTo(sklearnBinaryPositive(FLIGHT), 5);
    expect(body.threshold).toBe(0.4);
    expect(body.label).toBe(body.probability >= 0.4 ? 1 : 0);
    expect((await app.inject(ROUTES.model)).json()).toMatchObject({ task: "binary", task_source: "rule", classes: [0, 1], tabular: true });
    expect(await metricValue(app, METRICS.modelInfo, { model: "sk-binary", task: "binary" })).toBe(1);
    expect(await metricValue(app, METRICS.modelBaselineHitRate, { model: "sk-binary" })).toBe(0.66);
  });

  it("answers V2 with the graph's outputs, the label output carrying the thresholded decision", async () => {
    const rows = [{ distance: 600, hour: 11 }, ...ROWS];
    const out = (await post(app, "/v2/models/sk-binary/infer", v2Features(rows))).json();
    const [label, probability] = out.outputs;
    expect(label).toMatchObject({ name: "output_label", datatype: "INT64", shape: [4] });
    expect(probability).toMatchObject({ name: "output_probability", datatype: "FP32", shape: [4, 2] });
    rows.forEach((r, i) => {
      const p = sklearnBinaryPositive(r);
      expect(probability.data[2 * i + 1]).toBeCloseTo(p, 5);
      expect(label.data[i]).toBe(p >= 0.4 ? 1 : 0);
    });
  });
});

describe("multiclass, string classes from the classifier node, [N, 2] input in the stored feature order", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeSklearnMulticlass(join(dir, "sk-multi")))));
  afterAll(() => app.close());

  it("answers /predict with the label, its probability, every class's probability and, on request, the top k", async () => {
    const response = await post(app, `${ROUTES.predict}?top_k=2`, FLIGHT);
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    const body = response.json();
    const expected = sklearnMulticlassProbabilities(FLIGHT);
    const best = expected.indexOf(Math.max(...expected));
    expect(body).toMatchObject({ label: MULTICLASS_LABELS[best], fallback: false, model: "sk-multi", variant: "stable" });
    expect(body.probability).toBeCloseTo(expected[best]!, 5);
    MULTICLASS_LABELS.forEach((c, k) => expect(body.probabilities[c]).toBeCloseTo(expected[k]!, 5));
    expect(body.top_k).toHaveLength(2);
    expect(body.top_k[0]).toEqual({ label: MULTICLASS_LABELS[best], probability: body.probability });
    expect(body.top_k[0].probability).toBeGreaterThanOrEqual(body.top_k[1].probability);
    expect(body).not.toHaveProperty("threshold");
  });

  it("scores a batch in order, identically to one by one, and counts per-class answers", async () => {
    const before = await metricValue(app, METRICS.predictionsTotal, { model: "sk-multi", outcome: "predicted" });
    const batch = (await post(app, ROUTES.predictBatch, ROWS)).json();
    expect(batch).toMatchObject({ model: "sk-multi", classes: [...MULTICLASS_LABELS] });
    for (let i = 0; i < ROWS.length; i++) {
      const expected = sklearnMulticlassProbabilities(ROWS[i]!);
      expect(batch.predictions[i].label).toBe(MULTICLASS_LABELS[expected.indexOf(Math.max(...expected))]);
      expect(batch.predictions[i].top_k).toBeUndefined();
    }
    expect((await metricValue(app, METRICS.predictionsTotal, { model: "sk-multi", outcome: "predicted" }))! - before!).toBe(3);
    let perClass = 0;
    for (const c of MULTICLASS_LABELS) perClass += (await metricValue(app, METRICS.predictionClassTotal, { model: "sk-multi", class: c })) ?? 0;
    expect(perClass).toBe((await metricValue(app, METRICS.predictionsTotal, { model: "sk-multi", outcome: "predicted" }))!);
  });

  it("refuses a top_k that is not 1..K with 400 naming it, before scoring", async () => {
    const before = await metricValue(app, METRICS.predictionsTotal, { model: "sk-multi", outcome: "predicted" });
    for (const k of ["0", "4", "two", "1.5"]) {
      const response = await post(app, `${ROUTES.predict}?top_k=${k}`, FLIGHT);
      expect(response.statusCode).toBe(400);
      expect(response.json().fields).toEqual([{ field: "querystring.top_k", problem: expect.stringMatching(/integer from 1 to 3/) }]);
    }
    expect(await metricValue(app, METRICS.predictionsTotal, { model: "sk-multi", outcome: "predicted" })).toBe(before);
  });

  it("answers V2 with the graph's tensors: string labels, probabilities [N, 3], columns in feature order", async () => {
    const out = (await post(app, "/v2/models/sk-multi/infer", v2Features(ROWS))).json();
    expect(out.outputs.map((o: { name: string; datatype: string }) => [o.name, o.datatype])).toEqual([
      ["output_label", "BYTES"],
      ["output_probability", "FP32"],
    ]);
    ROWS.forEach((r, i) => {
      const expected = sklearnMulticlassProbabilities(r);
      expected.forEach((p, k) => expect(out.outputs[1].data[3 * i + k]).toBeCloseTo(p, 5));
      expect(out.outputs[0].data[i]).toBe(MULTICLASS_LABELS[expected.indexOf(Math.max(...expected))]);
    });
    // The feature spec holds for tensor rows too: hour is column 1 of float_input.
    const bad = await post(app, "/v2/models/sk-multi/infer", v2Features([{ distance: 10, hour: 30 }]));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/column "hour" of input "float_input" row 0: must be <= 23/);
  });
});

describe("multiclass, one input per column, integer classes from MLmodel metadata", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeMulticlassPerColumn(join(dir, "mc-columns")))));
  afterAll(() => app.close());

  it("names classes as the model does on /predict and in V2's label output (the graph writes the class index)", async () => {
    const expected = perColumnProbabilities(FLIGHT);
    const best = expected.indexOf(Math.max(...expected));
    const body = (await post(app, ROUTES.predict, FLIGHT)).json();
    expect(body.label).toBe([3, 5, 7][best]);
    expect(Object.keys(body.probabilities)).toEqual(["3", "5", "7"]);
    const v2 = (await post(app, "/v2/models/mc-columns/infer", v2Columns([FLIGHT]))).json();
    expect(v2.outputs[0]).toEqual({ name: "label", datatype: "INT64", shape: [1], data: [[3, 5, 7][best]] });
  });
});

describe("regression, one input per column, value buckets from the training distribution", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeRegressionPerColumn(join(dir, "reg-columns")))));
  afterAll(() => app.close());

  it("answers /predict and /predict/batch with the value, and V2 with `variable`", async () => {
    const body = (await post(app, ROUTES.predict, FLIGHT)).json();
    expect(Object.keys(body).sort()).toEqual(["fallback", "model", "prediction_id", "value", "variant", "version"]);
    expect(body.value).toBeCloseTo(regressionValue(FLIGHT), 4);
    const batch = (await post(app, ROUTES.predictBatch, ROWS)).json();
    ROWS.forEach((r, i) => expect(batch.predictions[i].value).toBeCloseTo(regressionValue(r), 4));
    const v2 = (await post(app, "/v2/models/reg-columns/infer", v2Columns(ROWS))).json();
    expect(v2.outputs[0]).toMatchObject({ name: "variable", datatype: "FP32", shape: [3, 1] });
    ROWS.forEach((r, i) => expect(v2.outputs[0].data[i]).toBeCloseTo(regressionValue(r), 4));
  });

  it("exports the value histogram in the model's own buckets, the baseline MAE and task=regression", async () => {
    const text = (await app.inject(ROUTES.metrics)).body;
    const le = [...text.matchAll(new RegExp(`${METRICS.predictionValue}_bucket\\{le="([^"]+)",model="reg-columns"`, "g"))].map((m) => m[1]);
    expect(le).toEqual(["-10", "0", "10", "20", "40", "80", "+Inf"]);
    expect(await metricValue(app, METRICS.modelBaselineMae, { model: "reg-columns" })).toBe(4.2);
    expect(await metricValue(app, METRICS.modelBaselineHitRate, { model: "reg-columns" })).toBeUndefined();
    expect(await metricValue(app, METRICS.modelInfo, { model: "reg-columns", task: "regression" })).toBe(1);
    expect(text).not.toMatch(new RegExp(`${METRICS.predictionProbability}_count\\{model="reg-columns"`));
    expect(await metricValue(app, METRICS.predictionsTotal, { model: "reg-columns", outcome: "predicted" })).toBeGreaterThan(0);
  });
});

describe("regression with a tensor-based signature ([-1, 2] float32) and a stored feature list", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeRegressionTensorSignature(join(dir, "reg-tensor")))));
  afterAll(() => app.close());

  it("answers /predict from named columns and V2 from the tensor, with the same value", async () => {
    const body = (await post(app, ROUTES.predict, FLIGHT)).json();
    expect(body.value).toBeCloseTo(regressionValue(FLIGHT), 3);
    const v2 = (await post(app, "/v2/models/reg-tensor/infer", v2Features([FLIGHT], "features"))).json();
    expect(v2.outputs).toEqual([{ name: "predictions", datatype: "FP32", shape: [1], data: [body.value] }]);
    expect((await app.inject(ROUTES.model)).json()).toMatchObject({ task: "regression", task_source: "metadata", inputs: [{ name: "distance", type: "float" }, { name: "hour", type: "float" }] });
    const unknown = await post(app, ROUTES.predict, { ...FLIGHT, features: [1, 2] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().fields).toContainEqual({ field: "features", problem: "is not a model input (unknown field)" });
  });
});

describe("tensor model (token ids in, an embedding out)", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeEmbeddingModel(join(dir, "embedder")))));
  afterAll(() => app.close());

  it("answers /predict and /predict/batch with 400 pointing at V2", async () => {
    for (const url of [ROUTES.predict, ROUTES.predictBatch]) {
      const response = await post(app, url, url === ROUTES.predict ? { input_ids: [1, 2] } : [{ input_ids: [1, 2] }]);
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toMatch(/model "embedder" \(task tensor\) does not answer \/predict: .*POST \/v2\/models\/embedder\/infer/);
    }
  });

  it("exports the output norm per row and predictions_total{outcome=predicted}", async () => {
    const response = await post(app, "/v2/models/embedder/infer", { inputs: [{ name: "input_ids", shape: [2, 3], datatype: "INT64", data: [1, 2, 3, 4, 5, 6] }] });
    expect(response.statusCode).toBe(200);
    expect(response.json().parameters.prediction_ids.split(",")).toHaveLength(2);
    expect(await metricValue(app, METRICS.predictionsTotal, { model: "embedder", outcome: "predicted" })).toBe(2);
    const values = (await app.metricsRegistry.getSingleMetric(METRICS.predictionOutputNorm)!.get()).values as { metricName?: string; value: number }[];
    const norm = values.find((v) => v.metricName?.endsWith("_count"));
    expect(norm?.value).toBe(2);
    expect(await metricValue(app, METRICS.modelInfo, { model: "embedder", task: "tensor" })).toBe(1);
  });
});

describe("the model contract refuses at load what it cannot serve, naming the output and the fix", () => {
  it.each([
    ["a ZipMap output (skl2onnx's default)", (d: string) => writeSklearnMulticlass(d, { zipmap: true }), /output "output_probability" is seq\(map\(string,tensor\(float\)\)\).*zipmap=False/],
    ["a sequence output", (d: string) => writeSequenceOutputModel(d), /output "parts" is seq\(tensor\(float\)\): Modelport serves outputs that are tensors/],
    ["logits tagged multiclass", (d: string) => writeLogitsClassifier(d, "multiclass"), /outside \[0, 1\].*add a Softmax/],
    ["three classes tagged binary", (d: string) => writeLogitsClassifier(d, "binary"), /"logits" has 3 values per record; a binary classifier has 2.*modelport.task=multiclass/],
    ["a task that is not one", (d: string) => writeLogitsClassifier(d, "ranking"), /MLmodel metadata modelport.task="ranking" is not one of binary, multiclass, regression, tensor/],
    ["class labels that do not match the probabilities", (d: string) => writeMulticlassPerColumn(d, { classLabels: ["a", "b"] }), /names 2 classes \(a, b\) but probability output "probabilities" has 3 values/],
    ["class labels that are not labels", (d: string) => writeMulticlassPerColumn(d, { classLabels: [1, 1, 2] }), /modelport.class_labels must be a list of distinct class labels/],
    ["value buckets out of order", (d: string) => writeRegressionPerColumn(d, { buckets: [5, 1] }), /modelport.value_buckets must be a list of finite, strictly ascending numbers/],
    ["a feature list longer than the tensor", (d: string) => writeSklearnMulticlass(d, { featureOrder: ["distance", "hour", "hour2"] }), /names hour2, which are not signature columns/],
  ])("%s", async (_what, write, message) => {
    const name = `refused-${Math.random().toString(36).slice(2, 8)}`;
    const app = await startTestApp({ [ENV.modelUri]: await write(join(dir, name)) });
    try {
      expect(app.models.current).toBeUndefined();
      const ready = await app.inject(ROUTES.readyz);
      expect(ready.statusCode).toBe(503);
      expect(ready.json().reason).toMatch(message);
      expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })).toBe(1);
    } finally {
      await app.close();
    }
  });
});
