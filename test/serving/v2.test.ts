import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import fc from "fast-check";
import { Registry } from "prom-client";
import { ROUTES } from "../../service/src/contract";
import { createServiceMetrics } from "../../service/src/metrics/service-metrics";
import { ModelManager, type LoadedModel } from "../../service/src/model/model-manager";
import { ScoringRejectedError, type FeatureRecord } from "../../service/src/model/types";
import { WorkerPoolScorer } from "../../service/src/model/worker-pool";
import { LocalModelSource } from "../../service/src/registry/local-source";
import type { Prediction } from "../../service/src/routes/predict";
import { V2_DATATYPES } from "../../service/src/v2/codec";
import { v2Routes } from "../../service/src/v2/routes";
import { fixtureProbability, writeFixtureModel } from "./fixture-model";

/**
 * The V2 plugin over a real model manager and ONNX session; predict scores like /predict does, minus logging.
 * The session runs in a worker thread: under jest's vm realm an in-thread session's output tensors fail
 * onnxruntime-common's `instanceof Float32Array` check.
 */
async function v2App(modelDir: string, load = true): Promise<{ app: FastifyInstance; models: ModelManager }> {
  const app = Fastify({ logger: false });
  const models = new ModelManager({
    uri: modelDir,
    variant: "stable",
    source: new LocalModelSource(modelDir),
    createScorer: (pkg) => WorkerPoolScorer.create(pkg, { workers: 1 }),
    pollIntervalMs: 3_600_000,
    baselineMetric: "accuracy",
    metrics: createServiceMetrics(new Registry()),
    log: app.log,
  });
  const predict = async (model: LoadedModel, records: readonly FeatureRecord[]): Promise<Prediction[]> => {
    if (records[0]!.origin === "OVERLOAD") throw new ScoringRejectedError("queue_full", "queue is full");
    const probabilities = await model.scorer.score(records);
    return Array.from(probabilities, (probability) => ({
      prediction_id: randomUUID(),
      probability,
      label: probability >= model.threshold ? 1 : 0,
      fallback: false,
    }));
  };
  await app.register(v2Routes, { models, ready: () => true, maxBatchRecords: 100, predict });
  await app.ready();
  if (load) await models.checkNow();
  if (load && !models.current) throw new Error(`fixture model did not load: ${JSON.stringify(models.state())}`);
  return { app, models };
}

let dir: string;
let modelDir: string;
let app: FastifyInstance;
let models: ModelManager;
let name: string;
let version: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "v2-"));
  modelDir = await writeFixtureModel(join(dir, "fixture-model"));
  ({ app, models } = await v2App(modelDir));
  ({ name, version } = models.current!.identity);
});

afterAll(async () => {
  await app.close();
  await models.stop();
  await rm(dir, { recursive: true, force: true });
});

const infer = (body: unknown, url = `/v2/models/${name}/infer`) =>
  app.inject({ method: "POST", url, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

const validBody = (rows = [{ distance: 500, hour: 8, origin: "SFO" }, { distance: 2500, hour: 22, origin: "JFK" }]) => ({
  id: "req-7",
  inputs: [
    { name: "distance", shape: [rows.length, 1], datatype: "FP64", data: rows.map((r) => r.distance) },
    { name: "hour", shape: [rows.length, 1], datatype: "INT64", data: rows.map((r) => r.hour) },
    { name: "origin", shape: [rows.length, 1], datatype: "BYTES", data: rows.map((r) => r.origin) },
  ],
});

describe("Open Inference Protocol routes", () => {
  it("answers server metadata, liveness and readiness", async () => {
    const meta = (await app.inject(ROUTES.v2.server)).json();
    expect(meta).toEqual({ name: "modelport", version: expect.any(String), extensions: [] });
    expect((await app.inject(ROUTES.v2.live)).json()).toEqual({ live: true });
    const ready = await app.inject(ROUTES.v2.ready);
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
  });

  it("describes the model from its ONNX inputs and outputs, with or without the version", async () => {
    for (const url of [`/v2/models/${name}`, `/v2/models/${name}/versions/${version}`]) {
      const response = await app.inject(url);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        name,
        versions: [version],
        platform: "onnxruntime_onnx",
        inputs: [
          { name: "distance", datatype: "FP64", shape: [-1, 1] },
          { name: "hour", datatype: "INT64", shape: [-1, 1] },
          { name: "origin", datatype: "BYTES", shape: [-1, 1] },
        ],
        outputs: [
          { name: "label", datatype: "INT64", shape: [-1] },
          { name: "probabilities", datatype: "FP32", shape: [-1, 2] },
        ],
      });
    }
    expect((await app.inject(`/v2/models/${name}/ready`)).json()).toEqual({ name, ready: true });
    expect((await app.inject(`/v2/models/${name}/versions/${version}/ready`)).statusCode).toBe(200);
  });

  it("answers 404 with {error} for an unknown model or version", async () => {
    for (const url of ["/v2/models/nope", `/v2/models/${name}/versions/999`, "/v2/models/nope/ready", `/v2/models/${name}/versions/999/ready`]) {
      const response = await app.inject(url);
      expect(response.statusCode).toBe(404);
      expect(response.json().error).toMatch(/unknown model "nope"|no version "999"/);
    }
    const response = await infer(validBody(), `/v2/models/${name}/versions/999/infer`);
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toContain(`serving version "${version}"`);
  });

  it("infers row-major tensors, echoes the id and returns label and probabilities in the declared shapes", async () => {
    const rows = [
      { distance: 500, hour: 8, origin: "SFO" },
      { distance: 2500, hour: 22, origin: "JFK" },
    ];
    const response = await infer(validBody(rows), `/v2/models/${name}/versions/${version}/infer`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ model_name: name, model_version: version, id: "req-7", parameters: { fallback: false } });
    // One prediction id per row, as a scalar string (OIP parameter values are string, number or boolean).
    const ids = (body.parameters.prediction_ids as string).split(",");
    expect(ids).toHaveLength(rows.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(rows.length);
    const [label, probabilities] = body.outputs;
    expect(label).toMatchObject({ name: "label", datatype: "INT64", shape: [2] });
    expect(probabilities).toMatchObject({ name: "probabilities", datatype: "FP32", shape: [2, 2] });
    rows.forEach((r, i) => {
      const p = fixtureProbability(r);
      expect(probabilities.data[2 * i + 1]).toBeCloseTo(p, 5);
      expect(probabilities.data[2 * i]).toBeCloseTo(1 - p, 5);
      expect(label.data[i]).toBe(p >= 0.5 ? 1 : 0);
    });
  });

  it("accepts shape [n], nested data, any numeric datatype for a double column, and requested outputs only", async () => {
    const body = {
      inputs: [
        { name: "distance", shape: [2], datatype: "INT32", data: [500, 2500] },
        { name: "hour", shape: [2, 1], datatype: "INT64", data: [[8], [22]] },
        { name: "origin", shape: [2, 1], datatype: "BYTES", data: ["SFO", "JFK"], parameters: { content_type: "str" } },
      ],
      outputs: [{ name: "probabilities" }],
    };
    const response = await infer(body);
    expect(response.statusCode).toBe(200);
    const out = response.json();
    expect(out.id).toEqual(expect.any(String));
    expect(out.outputs.map((o: { name: string }) => o.name)).toEqual(["probabilities"]);
    expect(out.outputs[0].data[1]).toBeCloseTo(fixtureProbability({ distance: 500, hour: 8 }), 5);
  });

  it.each([
    ["a body that is not an object", [1, 2], /JSON object/],
    ["no inputs", { inputs: [] }, /non-empty array/],
    ["an unknown input name", { inputs: [{ name: "dist", shape: [1], datatype: "FP64", data: [1] }] }, /"dist", which is not a model input/],
    ["an unknown datatype", { inputs: [{ name: "distance", shape: [1], datatype: "FLOAT", data: [1] }] }, /datatype "FLOAT"; expected one of/],
    ["BYTES for a numeric column", { inputs: [{ name: "distance", shape: [1], datatype: "BYTES", data: ["1"] }] }, /double column: send a numeric datatype/],
    ["shape and data length that disagree", { inputs: [{ name: "distance", shape: [2, 1], datatype: "FP64", data: [1] }] }, /\(2 values\) but its data holds 1/],
    ["a tensor wider than one value per row", { inputs: [{ name: "distance", shape: [1, 2], datatype: "FP64", data: [1, 2] }] }, /one value per row/],
    ["non-numeric data in a numeric tensor", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: ["x"] }] }, /row 0: FP64 data must be numbers, got "x"/],
    ["a float datatype for a long column", { inputs: [{ name: "hour", shape: [1], datatype: "FP64", data: [1.5] }] }, /"hour" is a long column: send an integer datatype/],
    ["a fraction in an integer tensor", { inputs: [{ name: "hour", shape: [1], datatype: "INT64", data: [1.5] }] }, /row 0: 1.5 is not a INT64/],
    ["a value outside the feature spec", { ...validBody(), inputs: [...validBody().inputs.slice(0, 1), { name: "hour", shape: [2], datatype: "INT64", data: [8, 30] }, validBody().inputs[2]] }, /input "hour" row 1: .*23/],
    ["an out-of-range INT8", { inputs: [{ name: "hour", shape: [1], datatype: "INT8", data: [300] }] }, /300 is not a INT8/],
    ["a missing required input", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [1] }] }, /missing required inputs hour, origin/],
    ["inputs with different row counts", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [1] }, { name: "hour", shape: [2], datatype: "INT64", data: [1, 2] }] }, /same first dimension/],
    ["an output the model does not have", { ...validBody(), outputs: [{ name: "logits" }] }, /output "logits" is not served/],
    ["a non-string id", { ...validBody(), id: 7 }, /"id" must be a string/],
    ["too many rows", validBody(Array.from({ length: 101 }, () => ({ distance: 1, hour: 1, origin: "A" }))), /1 to 100 rows; got 101/],
  ])("refuses %s with 400 and an {error} naming the problem", async (_what, body, message) => {
    const response = await infer(body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: expect.stringMatching(message) });
  });

  it("answers malformed JSON with 400 {error}", async () => {
    const response = await app.inject({ method: "POST", url: `/v2/models/${name}/infer`, payload: "{nope", headers: { "content-type": "application/json" } });
    expect(response.statusCode).toBe(400);
    expect(typeof response.json().error).toBe("string");
  });

  it("answers 503 with Retry-After and {error} when the model is overloaded", async () => {
    const response = await infer(validBody([{ distance: 1, hour: 1, origin: "OVERLOAD" }]));
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("1");
    expect(response.json()).toEqual({ error: "model overloaded (queue_full); retry later" });
  });

  it("is not ready (4xx) and refuses inference with 503 while no model is loaded", async () => {
    const empty = await v2App(join(dir, "missing-model"), false);
    try {
      expect((await empty.app.inject(ROUTES.v2.ready)).statusCode).toBe(400);
      expect((await empty.app.inject("/v2/models/any/ready")).json()).toEqual({ name: "any", ready: false });
      const response = await empty.app.inject({ method: "POST", url: "/v2/models/any/infer", payload: validBody(), headers: { "content-type": "application/json" } });
      expect(response.statusCode).toBe(503);
      expect(response.json().error).toMatch(/no model loaded yet/);
    } finally {
      await empty.app.close();
    }
  });

  it("never answers 500 to generated bodies: 200 with consistent outputs, or 400 with an {error}", async () => {
    const names = fc.constantFrom("distance", "hour", "origin", "other", "");
    const datatype = fc.oneof(fc.constantFrom(...V2_DATATYPES), fc.string({ maxLength: 6 }));
    const scalar = fc.oneof(fc.integer({ min: -1000, max: 5000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null));
    const tensor = fc.record(
      {
        name: names,
        shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
        datatype,
        data: fc.oneof(fc.array(scalar, { maxLength: 4 }), fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
        parameters: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 4 }), scalar, { maxKeys: 2 }), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.record(
        {
          id: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
          inputs: fc.oneof(fc.array(tensor, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
          outputs: fc.oneof(fc.array(fc.record({ name: fc.constantFrom("label", "probabilities", "x") }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
          parameters: fc.jsonValue({ maxDepth: 1 }),
        },
        { requiredKeys: ["inputs"] },
      ),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const response = await infer(generated);
        expect([200, 400]).toContain(response.statusCode);
        const answer = response.json();
        if (response.statusCode === 400) {
          expect(Object.keys(answer)).toEqual(["error"]);
          expect(answer.error.length).toBeGreaterThan(0);
        } else {
          for (const output of answer.outputs) expect(output.data).toHaveLength(output.shape.reduce((a: number, b: number) => a * b, 1));
        }
      }),
      { numRuns: 300 },
    );
    // Valid bodies must pass too, or the property above proves little.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ distance: fc.double({ min: 0, max: 5000, noNaN: true }), hour: fc.integer({ min: 0, max: 23 }), origin: fc.string({ maxLength: 4 }) }), { minLength: 1, maxLength: 5 }),
        async (rows) => {
          const response = await infer(validBody(rows));
          expect(response.statusCode).toBe(200);
        },
      ),
      { numRuns: 50 },
    );
  });
});
