// The Open Inference Protocol on the demo-shaped fixture model (one [N, 1] input per column), through the real
// app and a real ONNX Runtime session: metadata, health, every error shape, and generated bodies.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { ModelportApp } from "../../service/src/app";
import { ENV, ROUTES } from "../../service/src/contract";
import { OnnxScorer } from "../../service/src/model/onnx-scorer";
import { ScoringRejectedError } from "../../service/src/model/types";
import { V2_DATATYPES } from "../../service/src/v2/codec";
import { startTestApp } from "../support/service-app";
import { fixtureProbability, writeFixtureModel } from "./fixture-model";

let dir: string;
let modelDir: string;
let app: ModelportApp;
let name: string;
let version: string;

/** The real app; its scorer refuses (as an overloaded batcher does) any request whose origin is OVERLOAD. */
async function v2App(uri: string, waitReady = true): Promise<ModelportApp> {
  return startTestApp(
    { [ENV.modelUri]: uri, [ENV.maxBatchRecords]: "100" },
    {
      createScorer: async (model) => {
        const inner = await OnnxScorer.load(model);
        return {
          score: (records) => inner.score(records),
          run: (request) =>
            (request.tensors.origin?.data as string[] | undefined)?.[0] === "OVERLOAD"
              ? Promise.reject(new ScoringRejectedError("queue_full", "queue is full"))
              : inner.run(request),
          close: () => inner.close(),
        };
      },
    },
    waitReady,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "v2-"));
  modelDir = await writeFixtureModel(join(dir, "fixture-model"));
  app = await v2App(modelDir);
  ({ name, version } = app.models.current!.identity);
});

afterAll(async () => {
  await app.close();
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
  it("answers server metadata at /v2 and /v2/, liveness and readiness", async () => {
    for (const url of [ROUTES.v2.server, `${ROUTES.v2.server}/`]) {
      const meta = await app.inject(url);
      expect(meta.statusCode).toBe(200);
      expect(meta.json()).toEqual({ name: "modelport", version: expect.any(String), extensions: [] });
    }
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
        platform: "onnx_onnxv1",
        inputs: [
          { name: "distance", datatype: "FP64", shape: [-1, 1] },
          { name: "hour", datatype: "INT64", shape: [-1, 1] },
          { name: "origin", datatype: "BYTES", shape: [-1, 1] },
        ],
        outputs: [
          { name: "label", datatype: "INT64", shape: [-1] },
          { name: "probabilities", datatype: "FP32", shape: [-1, 2] },
        ],
        // Where the graph runs (EXECUTION_PROVIDER, default cpu), in the protocol's optional model properties.
        properties: { execution_provider: "cpu", task: "binary" },
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

  it("infers row-major tensors, echoes the id and returns every graph output in the declared shapes", async () => {
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
    ["BYTES for a numeric input", { inputs: [{ name: "distance", shape: [1], datatype: "BYTES", data: ["1"] }] }, /"distance" is FP64 in the model: send FP64 \(or another float or integer datatype\), not BYTES/],
    ["shape and data length that disagree", { inputs: [{ name: "distance", shape: [2, 1], datatype: "FP64", data: [1] }] }, /\(2 values\) but its data holds 1/],
    ["a tensor wider than the input", { inputs: [{ name: "distance", shape: [1, 2], datatype: "FP64", data: [1, 2] }] }, /dimension 1 is 2 but the model's is fixed at 1/],
    ["a tensor of the wrong rank", { inputs: [{ name: "distance", shape: [1, 1, 1], datatype: "FP64", data: [1] }] }, /rank 3 .* the model's is \[-1, 1\] \(rank 2\)/],
    ["non-numeric data in a numeric tensor", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: ["x"] }] }, /element 0: FP64 data must be finite numbers, got "x"/],
    ["a float datatype for an integer input", { inputs: [{ name: "hour", shape: [1], datatype: "FP64", data: [1.5] }] }, /"hour" is INT64 in the model: send INT64 \(or another integer datatype\), not FP64/],
    ["a fraction in an integer tensor", { inputs: [{ name: "hour", shape: [1], datatype: "INT64", data: [1.5] }] }, /element 0: 1.5 is not a INT64 value/],
    ["a value outside the feature spec", { ...validBody(), inputs: [...validBody().inputs.slice(0, 1), { name: "hour", shape: [2], datatype: "INT64", data: [8, 30] }, validBody().inputs[2]] }, /input "hour" row 1: .*23/],
    ["an out-of-range INT8", { inputs: [{ name: "hour", shape: [1], datatype: "INT8", data: [300] }] }, /300 is not a INT8 value/],
    ["a missing input", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [1] }] }, /missing inputs hour, origin/],
    ["inputs with different row counts", { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [1] }, { name: "hour", shape: [2], datatype: "INT64", data: [1, 2] }] }, /same first dimension/],
    ["an output the model does not have", { ...validBody(), outputs: [{ name: "logits" }] }, /output "logits" is not an output of the model; outputs are label, probabilities/],
    ["a non-string id", { ...validBody(), id: 7 }, /"id" must be a string/],
    ["a batch over the limit", validBody(Array.from({ length: 101 }, () => ({ distance: 1, hour: 1, origin: "A" }))), /1 to 100 rows along dimension 0 \(MAX_BATCH_RECORDS\); got 101/],
    ["a zero-size dimension", { inputs: [{ name: "distance", shape: [0, 1], datatype: "FP64", data: [] }] }, /shape must be a list of positive integers/],
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

  it("answers every 4xx under /v2 with a descriptive {error}: unknown path (404), wrong method (405), content type (415)", async () => {
    const unknown = await app.inject("/v2/no/such/route");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: expect.stringMatching(/no Open Inference Protocol route GET \/v2\/no\/such\/route/) });
    const wrongMethod = await app.inject({ method: "GET", url: `/v2/models/${name}/infer` });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe("POST");
    expect(wrongMethod.json()).toEqual({ error: expect.stringMatching(/method GET is not allowed on .*infer; use POST/) });
    const postMetadata = await app.inject({ method: "DELETE", url: `/v2/models/${name}` });
    expect(postMetadata.statusCode).toBe(405);
    expect(postMetadata.json().error).toMatch(/use GET/);
    const form = await app.inject({ method: "POST", url: `/v2/models/${name}/infer`, payload: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.statusCode).toBe(415);
    expect(form.json()).toEqual({ error: "unsupported content type: send application/json" });
  });

  it("answers deeply nested values with 400, not a 500 from a stack overflow while describing them", async () => {
    // Before: {"statusCode":500} (RangeError: Maximum call stack size exceeded in the error message's JSON.stringify).
    // 40k nested objects: deep enough to overflow a recursive describer, under BODY_MAX_KEYS (50k keys).
    let deep: unknown = 1;
    for (let i = 0; i < 40_000; i++) deep = { a: deep };
    let deepArray: unknown = [1];
    for (let i = 0; i < 100_000; i++) deepArray = [deepArray];
    for (const body of [
      { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [deep] }] },
      { inputs: [{ name: "distance", shape: [1], datatype: deep, data: [1] }] },
      { inputs: [{ name: "distance", shape: deepArray, datatype: "FP64", data: [1] }] },
      { inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: deepArray }] },
      { inputs: [{ name: deep, shape: [1], datatype: "FP64", data: [1] }] },
    ]) {
      const payload = serializeDeep(body);
      const response = await app.inject({ method: "POST", url: `/v2/models/${name}/infer`, payload, headers: { "content-type": "application/json" } });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: expect.any(String) });
    }
    // 100k nested objects are 100k keys: refused by the key budget before they are parsed.
    let deeper: unknown = 1;
    for (let i = 0; i < 100_000; i++) deeper = { a: deeper };
    const payload = serializeDeep({ inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [deeper] }] });
    const refused = await app.inject({ method: "POST", url: `/v2/models/${name}/infer`, payload, headers: { "content-type": "application/json" } });
    expect(refused.statusCode).toBe(413);
    expect(refused.json().error).toMatch(/BODY_MAX_KEYS/);
  });

  it("answers 503 with Retry-After and {error} when the model is overloaded (no fallback configured)", async () => {
    const response = await infer(validBody([{ distance: 1, hour: 1, origin: "OVERLOAD" }]));
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("1");
    expect(response.json()).toEqual({ error: "model overloaded (queue_full); retry later" });
  });

  it("is not ready (4xx) and refuses inference with 503 while no model is loaded", async () => {
    const empty = await v2App(join(dir, "missing-model"));
    try {
      expect((await empty.inject(ROUTES.v2.ready)).statusCode).toBe(400);
      expect((await empty.inject("/v2/models/any/ready")).json()).toEqual({ name: "any", ready: false });
      const response = await empty.inject({ method: "POST", url: "/v2/models/any/infer", payload: validBody(), headers: { "content-type": "application/json" } });
      expect(response.statusCode).toBe(503);
      expect(response.json().error).toMatch(/no model loaded yet/);
    } finally {
      await empty.close();
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

/** JSON.stringify recurses too: build deeply nested JSON text by hand. */
function serializeDeep(value: unknown): string {
  const parts: string[] = [];
  const closers: string[] = [];
  const stack: unknown[] = [value];
  // Iterative writer for the shapes used above: objects {a: ...}, arrays [...], and plain JSON leaves.
  const write = (v: unknown): void => {
    let current = v;
    for (;;) {
      if (Array.isArray(current) && current.length === 1 && (Array.isArray(current[0]) || isPlainNest(current[0]))) {
        parts.push("[");
        closers.push("]");
        current = current[0];
      } else if (isPlainNest(current)) {
        parts.push('{"a":');
        closers.push("}");
        current = (current as { a: unknown }).a;
      } else break;
    }
    parts.push(JSON.stringify(current));
    while (closers.length > 0) parts.push(closers.pop()!);
  };
  const top = stack[0] as { inputs: Record<string, unknown>[] };
  parts.push('{"inputs":[');
  top.inputs.forEach((input, i) => {
    if (i > 0) parts.push(",");
    parts.push("{");
    Object.entries(input).forEach(([key, v], j) => {
      if (j > 0) parts.push(",");
      parts.push(`${JSON.stringify(key)}:`);
      write(v);
    });
    parts.push("}");
  });
  parts.push("]}");
  return parts.join("");
}

function isPlainNest(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && "a" in v;
}
