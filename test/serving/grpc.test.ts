// The Open Inference Protocol over gRPC, through the real app on a real port and a real @grpc/grpc-js client built
// from the same vendored .proto: every RPC (answers equal to the REST protocol's), typed and raw contents, the
// protocol's status codes for each way a call can fail (with retry information when the batcher sheds), the
// caller's deadline honoured by the batcher, the request metrics with protocol="grpc", the shadow, messages over
// the size limit, generated requests that never crash the process, and a graceful stop that lets calls finish.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import fc from "fast-check";
import type { ModelportApp } from "../../service/src/app";
import { ENV, GRPC_METHODS, METRICS, ROUTES } from "../../service/src/contract";
import { MicroBatcher } from "../../service/src/model/batcher";
import type { LoadedModel } from "../../service/src/model/model-manager";
import { OnnxScorer } from "../../service/src/model/onnx-scorer";
import { V2_DATATYPES } from "../../service/src/v2/codec";
import { EMBEDDED_MODEL_PATH, metricValue, startTestApp } from "../support/service-app";
import { exampleTensors, inferenceClient, rawRequest, responseParameters, responseTensors, typedRequest, type InferenceClient, type JsonTensor } from "../support/grpc-client";

/** The served version's input example as REST tensors (what the model manager warmed it up with). */
const exampleInputs = (model: LoadedModel) => exampleTensors(model.package, model.contract);

async function served(app: ModelportApp): Promise<{ client: InferenceClient; model: LoadedModel }> {
  const port = await app.grpc.listen("127.0.0.1", 0);
  return { client: inferenceClient(`127.0.0.1:${port}`), model: app.models.current! };
}

const restInfer = (app: ModelportApp, model: string, body: unknown) =>
  app.inject({ method: "POST", url: `/v2/models/${model}/infer`, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

async function grpcError(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("the call succeeded; expected an error status");
}

describe("inference.GRPCInferenceService on the demo model", () => {
  let app: ModelportApp;
  let client: InferenceClient;
  let model: LoadedModel;
  let inputs: JsonTensor[];
  let name: string;
  let version: string;

  beforeAll(async () => {
    app = await startTestApp({ [ENV.shadowModelUri]: EMBEDDED_MODEL_PATH });
    ({ client, model } = await served(app));
    inputs = exampleInputs(model);
    ({ name, version } = model.identity);
  });
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it("answers ServerLive, ServerReady and ModelReady (with and without the version)", async () => {
    expect(await client.serverLive()).toEqual({ live: true });
    expect(await client.serverReady()).toEqual({ ready: true });
    expect(await client.modelReady(name)).toEqual({ ready: true });
    expect(await client.modelReady(name, version)).toEqual({ ready: true });
  });

  it("answers ServerMetadata and ModelMetadata as the REST protocol does, the execution provider included", async () => {
    expect(await client.serverMetadata()).toEqual((await app.inject(ROUTES.v2.server)).json());
    const rest = (await app.inject(`/v2/models/${name}`)).json();
    expect(rest.properties).toEqual({ execution_provider: "cpu", task: "binary" });
    for (const v of ["", version]) expect(await client.modelMetadata(name, v)).toEqual(rest);
  });

  it("answers NOT_FOUND for another model or version, on every RPC that names one", async () => {
    for (const call of [client.modelReady("nope"), client.modelMetadata(name, "999"), client.modelInfer(typedRequest("nope", inputs))]) {
      const error = await grpcError(call);
      expect(error.code).toBe(grpc.status.NOT_FOUND);
      expect(error.details).toMatch(/unknown model "nope"|no version "999"/);
    }
    const error = await grpcError(client.modelInfer(typedRequest(name, inputs, { model_version: "999" })));
    expect(error.details).toContain(`serving version "${version}"`);
  });

  it("infers with typed and with raw contents, answering what REST answers (raw for raw)", async () => {
    const rest = await restInfer(app, name, { id: "r1", inputs });
    expect(rest.statusCode).toBe(200);
    const typed = await client.modelInfer(typedRequest(name, inputs, { id: "g1" }));
    const raw = await client.modelInfer(rawRequest(name, inputs));
    expect(typed.raw_output_contents).toEqual([]);
    expect(raw.raw_output_contents).toHaveLength(raw.outputs.length);
    for (const answer of [typed, raw]) {
      expect(answer.model_name).toBe(name);
      expect(answer.model_version).toBe(version);
      expect(responseTensors(answer)).toEqual(rest.json().outputs);
      const parameters = responseParameters(answer);
      expect(parameters.fallback).toBe(false);
      expect(String(parameters.prediction_ids).split(",")).toHaveLength(inputs[0]!.shape[0]!);
    }
    expect(typed.id).toBe("g1");
  });

  it("returns only the outputs asked for, in the order asked", async () => {
    const last = model.io.outputs[model.io.outputs.length - 1]!.name;
    const answer = await client.modelInfer(typedRequest(name, inputs, { outputs: [{ name: last }] }));
    expect(answer.outputs.map((o) => o.name)).toEqual([last]);
  });

  it("answers INVALID_ARGUMENT naming the input for each way the request is wrong", async () => {
    const [first, ...rest] = inputs;
    const cases: [Parameters<InferenceClient["modelInfer"]>[0], RegExp][] = [
      [typedRequest(name, [{ ...first!, datatype: "FP32" }, ...rest]), new RegExp(`input "${first!.name}" is ${first!.datatype} in the model`)],
      [typedRequest(name, [{ ...first!, shape: [first!.shape[0]! + 1, 1] }, ...rest]), new RegExp(`input "${first!.name}" has shape`)],
      [typedRequest(name, rest), /missing input/],
      [{ model_name: name, inputs: [{ name: first!.name, datatype: first!.datatype, shape: first!.shape, contents: { fp64_contents: [1] } }] }, /goes in contents\.|data is in contents\./],
      [{ ...rawRequest(name, inputs), inputs: typedRequest(name, inputs).inputs }, /raw_input_contents is set/],
      [{ ...rawRequest(name, inputs), raw_input_contents: rawRequest(name, inputs).raw_input_contents!.slice(1) }, /raw_input_contents holds/],
      [{ ...rawRequest(name, inputs), raw_input_contents: [Buffer.from([1, 2, 3]), ...rawRequest(name, inputs).raw_input_contents!.slice(1)] }, /raw contents hold 3 bytes|raw BYTES/],
      [{ model_name: name, inputs: [{ name: first!.name, datatype: "FP16", shape: first!.shape, contents: {} }] }, /FP16|is .* in the model/],
    ];
    for (const [request, message] of cases) {
      const error = await grpcError(client.modelInfer(request));
      expect([error.code, error.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(message)]);
    }
  });

  it("counts calls in the request metrics with protocol=grpc and the HTTP status of their code", async () => {
    const count = async (status: string) =>
      (await metricValue(app, METRICS.httpRequestsTotal, { route: GRPC_METHODS.modelInfer, status_code: status, protocol: "grpc" })) ?? 0;
    const [ok, bad] = [await count("200"), await count("400")];
    await client.modelInfer(typedRequest(name, inputs));
    await grpcError(client.modelInfer(typedRequest(name, inputs.slice(1))));
    expect(await count("200")).toBe(ok + 1);
    expect(await count("400")).toBe(bad + 1);
    expect(await metricValue(app, METRICS.httpRequestsTotal, { route: GRPC_METHODS.serverLive, protocol: "grpc", method: "POST" })).toBeGreaterThan(0);
    const text = (await app.inject(ROUTES.metrics)).body;
    expect(text).toContain(`${METRICS.httpRequestDurationSeconds}_count{method="POST",route="${GRPC_METHODS.modelInfer}",status_code="200",protocol="grpc"}`);
  });

  it("hands the call's work to the shadow after answering, as REST does", async () => {
    const shadowCount = async () =>
      ((await metricValue(app, METRICS.predictionsTotal, { variant: "shadow", outcome: "positive" })) ?? 0) +
      ((await metricValue(app, METRICS.predictionsTotal, { variant: "shadow", outcome: "negative" })) ?? 0);
    // The shadow's own manager loads in the background.
    for (let i = 0; i < 100 && (await metricValue(app, METRICS.modelLoaded, { variant: "shadow" })) !== 1; i++) await sleep(50);
    const before = await shadowCount();
    await client.modelInfer(rawRequest(name, inputs));
    for (let i = 0; i < 100 && (await shadowCount()) === before; i++) await sleep(20);
    expect(await shadowCount()).toBe(before + inputs[0]!.shape[0]!);
  });

  it("never crashes on generated requests: an answer or a protocol status, never INTERNAL", async () => {
    const allowed = [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND];
    const datatype = fc.oneof(fc.constantFrom(...V2_DATATYPES), fc.string({ maxLength: 6 }));
    const scalar = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 8 }));
    const contents = fc.record(
      {
        bool_contents: fc.array(fc.boolean(), { maxLength: 4 }),
        int_contents: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 4 }),
        int64_contents: fc.array(fc.maxSafeInteger(), { maxLength: 4 }),
        uint_contents: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 4 }),
        fp32_contents: fc.array(fc.float({ noNaN: false }), { maxLength: 4 }),
        fp64_contents: fc.array(fc.double(), { maxLength: 4 }),
        bytes_contents: fc.array(fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)), { maxLength: 4 }),
      },
      { requiredKeys: [] },
    );
    const input = fc.record({
      name: fc.oneof(fc.constantFrom(...inputs.map((i) => i.name)), fc.string({ maxLength: 5 })),
      datatype,
      shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constant(2 ** 40)), { maxLength: 4 }),
      contents: fc.option(contents, { nil: undefined }),
      parameters: fc.dictionary(fc.string({ maxLength: 4 }), scalar.map((v) => (typeof v === "boolean" ? { bool_param: v } : typeof v === "string" ? { string_param: v } : { double_param: v })), { maxKeys: 2 }),
    });
    const request = fc.record({
      model_name: fc.oneof(fc.constant(name), fc.string({ maxLength: 4 })),
      model_version: fc.oneof(fc.constant(""), fc.constant(version), fc.string({ maxLength: 3 })),
      id: fc.string({ maxLength: 8 }),
      inputs: fc.oneof(fc.array(input, { maxLength: inputs.length + 1 }), fc.constant(typedRequest(name, inputs).inputs!)),
      outputs: fc.array(fc.record({ name: fc.oneof(fc.constantFrom(...model.io.outputs.map((o) => o.name)), fc.string({ maxLength: 4 })) }), { maxLength: 3 }),
      raw_input_contents: fc.array(fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)), { maxLength: inputs.length + 1 }),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const code = await client.modelInfer(r).then(
          () => grpc.status.OK,
          (error: grpc.ServiceError) => error.code,
        );
        expect(allowed).toContain(code);
      }),
      { numRuns: 300 },
    );
    expect(await client.serverLive()).toEqual({ live: true });
  });

  it("survives bytes that are not a ModelInferRequest at all", async () => {
    const bytesClient = new grpc.Client(`127.0.0.1:${app.grpc.boundPort}`, grpc.credentials.createInsecure());
    const send = (bytes: Buffer) =>
      new Promise<number>((resolve) =>
        bytesClient.makeUnaryRequest(GRPC_METHODS.modelInfer, (b: Buffer) => b, (b: Buffer) => b, bytes, (error) => resolve(error ? error.code : grpc.status.OK)),
      );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.INTERNAL]).toContain(await send(Buffer.from(bytes)));
      }),
      { numRuns: 100 },
    );
    bytesClient.close();
    expect(await client.serverLive()).toEqual({ live: true });
  });
});

describe("a message over GRPC_MAX_MESSAGE_BYTES", () => {
  it("is refused with RESOURCE_EXHAUSTED, counted, and the next call is served", async () => {
    const app = await startTestApp({ [ENV.grpcMaxMessageBytes]: "4096" });
    const { client, model } = await served(app);
    try {
      const inputs = exampleInputs(model);
      const big = inputs.map((t) => (t.datatype === "BYTES" ? { ...t, data: t.data.map(() => "x".repeat(5000)) } : t));
      const error = await grpcError(client.modelInfer(typedRequest(model.identity.name, big)));
      expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(error.details).toMatch(/larger than max/);
      expect((await client.modelInfer(typedRequest(model.identity.name, inputs))).outputs.length).toBeGreaterThan(0);
      // Refused by the transport before the service saw it: counted as closed without an answer.
      expect(await metricValue(app, METRICS.httpRequestsTotal, { route: GRPC_METHODS.modelInfer, status_code: "499", protocol: "grpc" })).toBe(1);
    } finally {
      client.close();
      await app.close();
    }
  });
});

/**
 * The real batcher (one run at a time, room for twice the example's rows: the warm-up's doubled run) in front of
 * a session made slow: enough to make it shed, to put a caller's deadline out of reach, and to have a call in
 * flight when the app stops.
 */
async function slowApp(env: Record<string, string> = {}, runMs = 300): Promise<ModelportApp> {
  return startTestApp(
    { [ENV.requestTimeoutMs]: "5000", ...env },
    {
      createScorer: async (model, _version, warmUp) => {
        const inner = await OnnxScorer.load(model);
        const slow = { score: inner.score.bind(inner), run: async (request: Parameters<OnnxScorer["run"]>[0]) => (await sleep(runMs), inner.run(request)), close: () => inner.close() };
        const batcher = new MicroBatcher(slow, { maxBatchSize: 1, maxQueue: 2 * warmUp.tensors.rows, timeoutMs: 5000 });
        return { score: (r, o) => batcher.score(r, o), run: (r, o) => batcher.run(r, o), close: () => batcher.close() };
      },
    },
  );
}

describe("overload, deadlines and stopping", () => {
  it("answers UNAVAILABLE with retry pushback and google.rpc.RetryInfo when the batcher refuses, as REST answers 503", async () => {
    const app = await slowApp();
    const { client, model } = await served(app);
    try {
      const request = typedRequest(model.identity.name, exampleInputs(model));
      // One runs, two wait, the rest find the queue full.
      const calls = Array.from({ length: 6 }, () => client.modelInfer(request).then(() => undefined, (e: grpc.ServiceError) => e));
      const errors = (await Promise.all(calls)).filter((e): e is grpc.ServiceError => e !== undefined);
      expect(errors.length).toBeGreaterThan(0);
      const error = errors[0]!;
      expect(error.code).toBe(grpc.status.UNAVAILABLE);
      expect(error.details).toBe("model overloaded (queue_full); retry later");
      expect(error.metadata.get("grpc-retry-pushback-ms")).toEqual(["1000"]);
      const status = decodeStatus(error.metadata.get("grpc-status-details-bin")[0] as Buffer);
      expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, message: error.details });
      expect(status.details[0]!.type_url).toBe("type.googleapis.com/google.rpc.RetryInfo");
      expect(decodeRetryInfo(status.details[0]!.value)).toEqual({ retry_delay: { seconds: 1, nanos: 0 } });
      expect(await metricValue(app, METRICS.httpRequestsTotal, { route: GRPC_METHODS.modelInfer, status_code: "503", protocol: "grpc" })).toBe(errors.length);
      expect(await metricValue(app, METRICS.predictionsRejectedTotal, { reason: "queue_full" })).toBe(errors.length);
    } finally {
      client.close();
      await app.close();
    }
  });

  it("answers the configured fallback instead, flagged in the response parameters", async () => {
    const app = await slowApp({ [ENV.fallbackLabel]: "0" });
    const { client, model } = await served(app);
    try {
      const request = typedRequest(model.identity.name, exampleInputs(model));
      const answers = await Promise.all(Array.from({ length: 6 }, () => client.modelInfer(request)));
      expect(answers.map((a) => responseParameters(a).fallback)).toContain(true);
    } finally {
      client.close();
      await app.close();
    }
  });

  it("holds a call to its own gRPC deadline in the batcher: DEADLINE_EXCEEDED from the service, not a late answer", async () => {
    const app = await slowApp({}, 1500);
    const { client, model } = await served(app);
    try {
      const request = typedRequest(model.identity.name, exampleInputs(model));
      const busy = client.modelInfer(request);
      await sleep(50);
      // REQUEST_TIMEOUT_MS is 5 s; the caller allows 400 ms while the run ahead takes 1.5 s.
      const error = await grpcError(client.modelInfer(request, { deadlineMs: 400 }));
      expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      // Refused by the batcher (early, before the transport's own deadline fires, which would say "Deadline exceeded").
      expect(error.details).toMatch(/^the call's deadline cannot be met: model overloaded \((timeout|shed)\)/);
      await busy;
    } finally {
      client.close();
      await app.close();
    }
  });

  it("stops taking calls when the app closes but lets the call in flight answer", async () => {
    const app = await slowApp({}, 500);
    const { client, model } = await served(app);
    const request = typedRequest(model.identity.name, exampleInputs(model));
    const inFlight = client.modelInfer(request);
    await sleep(100);
    const closed = app.close();
    const answer = await inFlight;
    expect(answer.outputs.length).toBeGreaterThan(0);
    await closed;
    const error = await grpcError(client.modelInfer(request, { deadlineMs: 2000 }));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(error.code);
    client.close();
  });
});

// --- google.rpc.Status, decoded by protobuf itself (through proto-loader's deserializers) ---------------------

const STATUS_PROTO = `syntax = "proto3";
package check;
message Duration { int64 seconds = 1; int32 nanos = 2; }
message RetryInfo { Duration retry_delay = 1; }
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
service Decode { rpc Status(Status) returns (RetryInfo); }`;

let decoders: { status: (b: Buffer) => unknown; retryInfo: (b: Buffer) => unknown } | undefined;

function statusDecoders() {
  if (!decoders) {
    // Field numbers as google/rpc/status.proto, google/rpc/error_details.proto and google/protobuf say.
    const file = join(tmpdir(), `status-${process.pid}.proto`);
    writeFileSync(file, STATUS_PROTO);
    const definition = protoLoader.loadSync(file, { keepCase: true, longs: Number, defaults: true });
    const method = (definition["check.Decode"] as protoLoader.ServiceDefinition).Status!;
    decoders = { status: method.requestDeserialize, retryInfo: method.responseDeserialize };
  }
  return decoders;
}

function decodeStatus(bytes: Buffer): { code: number; message: string; details: { type_url: string; value: Buffer }[] } {
  return statusDecoders().status(bytes) as never;
}

function decodeRetryInfo(bytes: Buffer): unknown {
  return statusDecoders().retryInfo(bytes);
}
