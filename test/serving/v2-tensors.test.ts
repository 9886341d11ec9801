// The Open Inference Protocol on tensor models, through the real app and real ONNX Runtime sessions: every
// datatype the protocol has, a dynamic sequence length, requests coalesced along dimension 0 only with requests of
// the same shape, a graph without a batch axis, metadata that lists exactly what infer returns, and generated
// tensors (wrong datatype, shape/data mismatch, wrong rank, a batch over the limit, oversize) answered 4xx.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { ModelportApp } from "../../service/src/app";
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import { V2_DATATYPES } from "../../service/src/v2/codec";
import { metricValue as metricValueOf, startTestApp } from "../support/service-app";
import {
  EMBEDDING_DIM,
  VOCABULARY,
  meanEmbedding,
  writeDtypeZoo,
  writeEmbeddingModel,
  writeRegressionPerColumn,
  writeSklearnMulticlass,
  writeStaticShapeModel,
  ZOO_TYPES,
} from "../support/onnx-models";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "v2-tensors-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function serve(modelDir: string, env: Record<string, string> = {}): Promise<ModelportApp> {
  const app = await startTestApp({ [ENV.modelUri]: modelDir, [ENV.maxBatchRecords]: "100", ...env });
  if (!app.models.current) throw new Error(`did not load: ${JSON.stringify(app.models.state())}`);
  return app;
}

const infer = (app: ModelportApp, model: string, body: unknown) =>
  app.inject({ method: "POST", url: `/v2/models/${model}/infer`, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

async function batchSizes(app: ModelportApp, model: string): Promise<{ count: number; sum: number }> {
  const values = (await app.metricsRegistry.getSingleMetric(METRICS.inferenceBatchSize)!.get()).values as { metricName?: string; labels: Record<string, unknown>; value: number }[];
  const at = (suffix: string) => values.find((v) => v.metricName === `${METRICS.inferenceBatchSize}${suffix}` && v.labels.model === model)?.value ?? 0;
  return { count: at("_count"), sum: at("_sum") };
}

/** Values every datatype round-trips exactly through its element type. */
const ZOO_VALUES: Record<keyof typeof ZOO_TYPES, unknown[]> = {
  fp16: [0.5, -2, 65504, 0.0999755859375],
  fp32: [1.5, -3.25, 1e-3, 123456],
  fp64: [Math.PI, -1e300, 5e-324, 0.1],
  int8: [-128, 127, 0, -1],
  int16: [-32768, 32767, 1, -2],
  int32: [-2147483648, 2147483647, 7, -7],
  int64: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0, 42],
  uint8: [0, 255, 1, 128],
  uint16: [0, 65535, 2, 300],
  uint32: [0, 4294967295, 3, 70000],
  uint64: [0, Number.MAX_SAFE_INTEGER, 4, 5],
  bool: [true, false, false, true],
  bytes: ["", "ünïcode", "a,b", "x".repeat(100)],
};
const ZOO_DATATYPES: Record<keyof typeof ZOO_TYPES, string> = {
  fp16: "FP16",
  fp32: "FP32",
  fp64: "FP64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  bool: "BOOL",
  bytes: "BYTES",
};
const zooNames = Object.keys(ZOO_TYPES) as (keyof typeof ZOO_TYPES)[];

describe("every datatype (an Identity per element type)", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeDtypeZoo(join(dir, "zoo")))));
  afterAll(() => app.close());

  it("round-trips FP16/32/64, INT8..64, UINT8..64, BOOL and BYTES, nested or flat, in the graph's datatypes", async () => {
    const body = {
      inputs: zooNames.map((n, i) => ({
        name: `x_${n}`,
        shape: [2, 2],
        datatype: ZOO_DATATYPES[n],
        // Alternate flat and nested row-major data.
        data: i % 2 === 0 ? ZOO_VALUES[n] : [ZOO_VALUES[n].slice(0, 2), ZOO_VALUES[n].slice(2)],
      })),
    };
    const response = await infer(app, "zoo", body);
    expect(response.statusCode).toBe(200);
    const outputs = response.json().outputs as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
    expect(outputs.map((o) => o.name)).toEqual(zooNames.map((n) => `y_${n}`));
    for (const n of zooNames) {
      const out = outputs.find((o) => o.name === `y_${n}`)!;
      expect({ n, datatype: out.datatype, shape: out.shape }).toEqual({ n, datatype: ZOO_DATATYPES[n], shape: [2, 2] });
      if (n === "fp32") out.data.forEach((v, i) => expect(v).toBeCloseTo(ZOO_VALUES.fp32[i] as number, 3));
      else expect({ n, data: out.data }).toEqual({ n, data: ZOO_VALUES[n] });
    }
  });

  it("takes any integer datatype for a numeric input and any float datatype for a float one, in the input's type", async () => {
    const response = await infer(app, "zoo", {
      inputs: zooNames.map((n) => {
        if (n === "fp64") return { name: "x_fp64", shape: [1, 2], datatype: "INT8", data: [1, -2] };
        // 0.1 has no float16: it comes back as the nearest one.
        if (n === "fp16") return { name: "x_fp16", shape: [1, 2], datatype: "FP64", data: [0.1, 2] };
        if (n === "int64") return { name: "x_int64", shape: [1, 2], datatype: "UINT8", data: [200, 3] };
        return { name: `x_${n}`, shape: [1, 2], datatype: ZOO_DATATYPES[n], data: ZOO_VALUES[n].slice(0, 2) };
      }),
      outputs: [{ name: "y_fp64" }, { name: "y_fp16" }, { name: "y_int64" }],
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().outputs).toEqual([
      { name: "y_fp64", datatype: "FP64", shape: [1, 2], data: [1, -2] },
      { name: "y_fp16", datatype: "FP16", shape: [1, 2], data: [0.0999755859375, 2] },
      { name: "y_int64", datatype: "INT64", shape: [1, 2], data: [200, 3] },
    ]);
  });

  it.each([
    ["BOOL for a numeric input", "fp32", { datatype: "BOOL", data: [true, false] }, /"x_fp32" is FP32 in the model: send FP32 \(or another float or integer datatype\), not BOOL/],
    ["FP32 for an integer input", "int32", { datatype: "FP32", data: [1, 2] }, /"x_int32" is INT32 in the model: send INT32 \(or another integer datatype\), not FP32/],
    ["BYTES for a bool input", "bool", { datatype: "BYTES", data: ["true", "false"] }, /"x_bool" is BOOL in the model: send BOOL, not BYTES/],
    ["numbers for a BYTES input", "bytes", { datatype: "INT32", data: [1, 2] }, /"x_bytes" is BYTES in the model: send BYTES, not INT32/],
    ["a value beyond the model's integer type", "uint8", { datatype: "INT32", data: [300, 1] }, /element 0: 300 is not an UINT8 \(the model's type\) value/],
    ["a negative unsigned value", "uint64", { datatype: "UINT64", data: [-1, 1] }, /element 0: -1 is not a UINT64 value/],
    ["a value beyond FP16's range", "fp16", { datatype: "FP32", data: [70000, 1] }, /element 0: 70000 is beyond FP16's range/],
    ["strings in a BOOL tensor", "bool", { datatype: "BOOL", data: ["true", false] }, /element 0: BOOL data must be true or false, got "true"/],
  ])("refuses %s with 400 naming the input", async (_what, n, tensor, message) => {
    const inputs = zooNames.map((z) => (z === n ? { name: `x_${z}`, shape: [1, 2], ...tensor } : { name: `x_${z}`, shape: [1, 2], datatype: ZOO_DATATYPES[z], data: ZOO_VALUES[z].slice(0, 2) }));
    const response = await infer(app, "zoo", { inputs });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: expect.stringMatching(message) });
  });
});

describe("a dynamic sequence length (token ids [batch, sequence] -> embedding [batch, 4])", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeEmbeddingModel(join(dir, "embedder")), { [ENV.batchMaxSize]: "64" })));
  afterAll(() => app.close());

  const tokens = (batch: number[][]) => ({ inputs: [{ name: "input_ids", shape: [batch.length, batch[0]!.length], datatype: "INT64", data: batch }] });

  it("answers any sequence length, every output by default, the embedding the graph computes", async () => {
    for (const batch of [[[1]], [[1, 2, 3]], [[4, 5, 6, 7, 8, 9, 10, 11, 12]], [[1, 2], [3, 15]]]) {
      const response = await infer(app, "embedder", tokens(batch));
      expect(response.statusCode).toBe(200);
      const [embedding, sum] = response.json().outputs;
      expect(embedding).toMatchObject({ name: "embedding", datatype: "FP32", shape: [batch.length, EMBEDDING_DIM] });
      expect(sum).toEqual({ name: "token_sum", datatype: "INT64", shape: [batch.length], data: batch.map((row) => row.reduce((a, b) => a + b, 0)) });
      batch.forEach((row, i) => meanEmbedding(row).forEach((v, j) => expect(embedding.data[i * EMBEDDING_DIM + j]).toBeCloseTo(v, 5)));
    }
  });

  it("coalesces concurrent requests of the same shape along dimension 0, never mixing sequence lengths", async () => {
    const before = await batchSizes(app, "embedder");
    const requests = Array.from({ length: 30 }, (_, i) => [[i % VOCABULARY, (i + 1) % VOCABULARY, ...(i % 2 === 0 ? [] : [(i + 2) % VOCABULARY, 3])]]);
    const answers = await Promise.all(requests.map((batch) => infer(app, "embedder", tokens(batch))));
    answers.forEach((response, i) => {
      expect(response.statusCode).toBe(200);
      const embedding = response.json().outputs[0];
      expect(embedding.shape).toEqual([1, EMBEDDING_DIM]);
      meanEmbedding(requests[i]![0]!).forEach((v, j) => expect(embedding.data[j]).toBeCloseTo(v, 5));
    });
    const after = await batchSizes(app, "embedder");
    expect(after.sum - before.sum).toBe(30);
    // Two shapes (sequence 2 and 4): at least two runs, and far fewer than one per request.
    expect(after.count - before.count).toBeGreaterThanOrEqual(2);
    expect(after.count - before.count).toBeLessThan(30);
  });

  it("lists exactly what infer returns in its metadata, and selects outputs by name", async () => {
    const metadata = (await app.inject("/v2/models/embedder")).json();
    expect(metadata).toMatchObject({
      platform: "onnx_onnxv1",
      inputs: [{ name: "input_ids", datatype: "INT64", shape: [-1, -1] }],
      outputs: [
        { name: "embedding", datatype: "FP32", shape: [-1, EMBEDDING_DIM] },
        { name: "token_sum", datatype: "INT64", shape: [-1] },
      ],
    });
    const all = (await infer(app, "embedder", tokens([[1, 2]]))).json().outputs;
    expect(all.map((o: { name: string; datatype: string }) => ({ name: o.name, datatype: o.datatype }))).toEqual(metadata.outputs.map((o: { name: string; datatype: string }) => ({ name: o.name, datatype: o.datatype })));
    const one = (await infer(app, "embedder", { ...tokens([[1, 2]]), outputs: [{ name: "token_sum" }] })).json().outputs;
    expect(one).toEqual([{ name: "token_sum", datatype: "INT64", shape: [1], data: [3] }]);
  });
});

describe("a graph without a batch axis ([1, 3])", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeStaticShapeModel(join(dir, "static")))));
  afterAll(() => app.close());

  it("takes only its fixed shape, runs every request alone, and says so in /model", async () => {
    expect((await app.inject(ROUTES.model)).json()).toMatchObject({ task: "tensor", batch_axis: false });
    const before = await batchSizes(app, "static");
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => infer(app, "static", { inputs: [{ name: "x", shape: [1, 3], datatype: "FP32", data: [i, -i, 1] }] })));
    answers.forEach((a, i) => expect(a.json().outputs[0]).toEqual({ name: "y", datatype: "FP32", shape: [1, 3], data: [i, 0, 1] }));
    const after = await batchSizes(app, "static");
    expect(after.count - before.count).toBe(5);
    const wrong = await infer(app, "static", { inputs: [{ name: "x", shape: [2, 3], datatype: "FP32", data: [1, 2, 3, 4, 5, 6] }] });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatch(/dimension 0 is 2 but the model's is fixed at 1/);
  });
});

describe("metadata lists exactly what infer returns, for every task", () => {
  it.each([
    ["multiclass", (d: string) => writeSklearnMulticlass(d), { inputs: [{ name: "float_input", shape: [1, 2], datatype: "FP32", data: [1200, 17] }] }],
    ["regression", (d: string) => writeRegressionPerColumn(d), { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [10] }, { name: "hour", shape: [1], datatype: "INT64", data: [3] }] }],
  ])("%s", async (task, write, body) => {
    const app = await serve(await write(join(dir, `meta-${task}`)));
    try {
      const name = app.models.current!.identity.name;
      const metadata = (await app.inject(`/v2/models/${name}`)).json();
      const outputs = (await infer(app, name, body)).json().outputs as { name: string; datatype: string; shape: number[] }[];
      expect(outputs.map((o) => [o.name, o.datatype])).toEqual(metadata.outputs.map((o: { name: string; datatype: string }) => [o.name, o.datatype]));
      outputs.forEach((o, i) => o.shape.forEach((d, k) => expect([d, -1]).toContain(metadata.outputs[i].shape[k])));
    } finally {
      await app.close();
    }
  });
});

describe("bad tensors get a 4xx naming the problem, never a 5xx", () => {
  let app: ModelportApp;
  beforeAll(async () => (app = await serve(await writeEmbeddingModel(join(dir, "fuzzed")), { [ENV.bodyLimitBytes]: "65536" })));
  afterAll(() => app.close());

  it.each([
    ["a batch over the limit", { inputs: [{ name: "input_ids", shape: [101, 1], datatype: "INT64", data: Array.from({ length: 101 }, () => 1) }] }, /1 to 100 rows along dimension 0 \(MAX_BATCH_RECORDS\); got 101/],
    ["a shape far beyond the element cap", { inputs: [{ name: "input_ids", shape: [1, 2 ** 40], datatype: "INT64", data: [1] }] }, /elements is more than the \d+ allowed/],
    ["the wrong rank", { inputs: [{ name: "input_ids", shape: [3], datatype: "INT64", data: [1, 2, 3] }] }, /rank 1 \(shape \[3\]\) but the model's is \[-1, -1\] \(rank 2\)/],
    ["data shorter than the shape", { inputs: [{ name: "input_ids", shape: [2, 3], datatype: "INT64", data: [1, 2, 3] }] }, /\(6 values\) but its data holds 3/],
    ["data longer than the shape", { inputs: [{ name: "input_ids", shape: [1, 2], datatype: "INT64", data: [[1, 2, 3]] }] }, /\(2 values\) but its data holds more than 2/],
    ["data nested deeper than the shape", { inputs: [{ name: "input_ids", shape: [1, 1], datatype: "INT64", data: [[[1]]] }] }, /nested deeper than its shape \(rank 2\)/],
    // Data only the graph can judge: onnxruntime's own message.
    ["a token id past the vocabulary", { inputs: [{ name: "input_ids", shape: [1, 1], datatype: "INT64", data: [VOCABULARY + 5] }] }, /the model cannot run on these inputs: .*indices element out of data bounds/],
  ])("%s", async (_what, body, message) => {
    const response = await infer(app, "fuzzed", body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: expect.stringMatching(message) });
  });

  it("fails only the request whose data the graph refuses when it was coalesced with others", async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => ({ inputs: [{ name: "input_ids", shape: [1, 2], datatype: "INT64", data: [i === 5 ? VOCABULARY + 1 : i, 1] }] }));
    const answers = await Promise.all(bodies.map((b) => infer(app, "fuzzed", b)));
    expect(answers.map((a) => a.statusCode)).toEqual(bodies.map((_, i) => (i === 5 ? 400 : 200)));
    expect(await metricValueOf(app, METRICS.predictionsTotal, { model: "fuzzed", outcome: "error" })).toBe(0);
  });

  it("answers an oversize body with 413 {error}", async () => {
    const response = await infer(app, "fuzzed", { inputs: [{ name: "input_ids", shape: [1, 40000], datatype: "INT64", data: Array.from({ length: 40000 }, () => 1) }] });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: "request body is larger than the limit (BODY_LIMIT_BYTES)" });
  });

  it("property: generated tensors get 200 with consistent outputs or 400 {error}, never a 5xx", async () => {
    const value = fc.oneof(fc.integer({ min: -2, max: VOCABULARY - 1 }), fc.double({ noNaN: true }), fc.boolean(), fc.string({ maxLength: 3 }), fc.constant(null));
    const shape = fc.oneof(fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 2, maxLength: 2 }), fc.jsonValue({ maxDepth: 1 }));
    const data = fc.oneof(fc.array(value, { maxLength: 12 }), fc.array(fc.array(value, { maxLength: 4 }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }));
    const tensor = fc.record(
      { name: fc.constantFrom("input_ids", "ids", ""), shape, datatype: fc.oneof(fc.constantFrom(...V2_DATATYPES), fc.string({ maxLength: 5 })), data },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.record({ inputs: fc.array(tensor, { maxLength: 3 }), outputs: fc.option(fc.array(fc.record({ name: fc.constantFrom("embedding", "token_sum", "x") }), { maxLength: 3 }), { nil: undefined }) }, { requiredKeys: ["inputs"] }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    // Valid token ids keep the graph's own Gather in range: what is left to go wrong is the request's shape.
    const validIds = fc.array(fc.array(fc.integer({ min: 0, max: VOCABULARY - 1 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const response = await infer(app, "fuzzed", scrubIds(generated));
        expect([200, 400, 413]).toContain(response.statusCode);
        const answer = response.json();
        if (response.statusCode === 200) {
          for (const output of answer.outputs) expect(output.data).toHaveLength(output.shape.reduce((a: number, b: number) => a * b, 1));
        } else {
          expect(Object.keys(answer)).toEqual(["error"]);
        }
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(validIds, async (ids) => {
        const response = await infer(app, "fuzzed", { inputs: [{ name: "input_ids", shape: [ids.length, 3], datatype: "INT64", data: ids }] });
        expect(response.statusCode).toBe(200);
      }),
      { numRuns: 40 },
    );
  });
});

/** Integers outside the vocabulary would fail inside the graph (Gather): clamp them so only the request's shape varies. */
function scrubIds(body: unknown): unknown {
  const inputs = (body as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs)) return body;
  const clamp = (v: unknown): unknown => (Array.isArray(v) ? v.map(clamp) : typeof v === "number" && Number.isInteger(v) ? Math.min(VOCABULARY - 1, Math.max(0, v)) : v);
  return { ...(body as object), inputs: inputs.map((i) => (i && typeof i === "object" && "data" in i ? { ...i, data: clamp((i as { data: unknown }).data) } : i)) };
}
