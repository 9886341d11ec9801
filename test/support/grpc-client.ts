/**
 * A real gRPC client of inference.GRPCInferenceService, built with @grpc/grpc-js from the same vendored
 * open_inference_grpc.proto the service serves, plus conversions between the REST protocol's JSON tensors and the
 * gRPC messages (typed contents or raw bytes), so tests and the benchmark can send one request both ways and
 * compare the answers.
 */
import * as grpc from "@grpc/grpc-js";
import { DATATYPE_TYPES, decodeRawTensor, decodeTensor, encodeRawTensor, type V2Datatype } from "../../service/src/v2/codec";
import { CONTENTS_FIELD } from "../../service/src/grpc/messages";
import {
  inferenceServiceDefinition,
  type InferTensorContents,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
} from "../../service/src/grpc/proto";
import { readModelPackage, type ModelPackage } from "../../service/src/model/mlmodel";
import { readModelContract, type ModelContract } from "../../service/src/model/model-contract";
import { readOnnxGraph } from "../../service/src/model/onnx-graph";
import { V2_DATATYPE, sliceRows, toJsonValues } from "../../service/src/model/tensors";
import { warmUpExamples } from "../../service/src/model/warm-up";

/** A REST protocol tensor: what /v2/.../infer takes and answers. */
export interface JsonTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: readonly unknown[];
}

export interface CallOptions {
  /** Milliseconds from now: sent as the call's gRPC deadline. */
  readonly deadlineMs?: number;
  readonly metadata?: grpc.Metadata;
}

export interface InferenceClient {
  readonly raw: grpc.Client;
  serverLive(): Promise<{ live: boolean }>;
  serverReady(): Promise<{ ready: boolean }>;
  modelReady(name: string, version?: string): Promise<{ ready: boolean }>;
  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }>;
  modelMetadata(name: string, version?: string): Promise<ModelMetadataResponse>;
  modelInfer(request: Partial<ModelInferRequest>, options?: CallOptions): Promise<ModelInferResponse>;
  close(): void;
}

const ClientConstructor = grpc.makeGenericClientConstructor(inferenceServiceDefinition(), "GRPCInferenceService");

export function inferenceClient(address: string, channelOptions: grpc.ChannelOptions = {}): InferenceClient {
  const client = new ClientConstructor(address, grpc.credentials.createInsecure(), channelOptions);
  const call = <Res>(method: string, request: unknown, options: CallOptions = {}) =>
    new Promise<Res>((resolve, reject) => {
      const callOptions: grpc.CallOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
      const fn = (client as unknown as Record<string, Function>)[method]!.bind(client);
      fn(request, options.metadata ?? new grpc.Metadata(), callOptions, (error: grpc.ServiceError | null, response: Res) => (error ? reject(error) : resolve(response)));
    });
  return {
    raw: client,
    serverLive: () => call("ServerLive", {}),
    serverReady: () => call("ServerReady", {}),
    modelReady: (name, version = "") => call("ModelReady", { name, version }),
    serverMetadata: () => call("ServerMetadata", {}),
    modelMetadata: (name, version = "") => call("ModelMetadata", { name, version }),
    modelInfer: (request, options) => call("ModelInfer", request, options),
    close: () => client.close(),
  };
}

/** The REST request's inputs as gRPC input tensors with typed contents (FP16 cannot be typed: use rawRequest). */
export function typedRequest(model: string, inputs: readonly JsonTensor[], extra: Partial<ModelInferRequest> = {}): Partial<ModelInferRequest> {
  return {
    model_name: model,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, contents: typedContents(t) })),
    ...extra,
  };
}

/** The REST request's inputs as gRPC input tensors with their data in raw_input_contents. */
export function rawRequest(model: string, inputs: readonly JsonTensor[], extra: Partial<ModelInferRequest> = {}): Partial<ModelInferRequest> {
  return {
    model_name: model,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: inputs.map(rawBytes),
    ...extra,
  };
}

export function typedContents(t: JsonTensor): InferTensorContents {
  const field = CONTENTS_FIELD[t.datatype];
  if (!field) throw new Error(`${t.datatype} has no typed contents field`);
  if (field === "bytes_contents") return { bytes_contents: t.data.map((s) => Buffer.from(String(s), "utf8")) };
  return { [field]: [...t.data] } as InferTensorContents;
}

/** Row-major little-endian bytes of a JSON tensor (BYTES length-prefixed), through the service's own codec. */
export function rawBytes(t: JsonTensor): Uint8Array {
  const type = DATATYPE_TYPES[t.datatype as V2Datatype];
  if (!type) throw new Error(`unknown datatype ${t.datatype}`);
  return encodeRawTensor(decodeTensor({ name: t.name, type, dims: t.shape }, t.datatype, t.shape, t.data));
}

/** A response's outputs as REST JSON tensors, whichever way they came (typed contents or raw_output_contents). */
export function responseTensors(response: ModelInferResponse): JsonTensor[] {
  const raw = response.raw_output_contents ?? [];
  return response.outputs.map((o, i) => {
    const shape = o.shape.map(Number);
    if (raw.length > 0) {
      const type = DATATYPE_TYPES[o.datatype as V2Datatype];
      const tensor = decodeRawTensor({ name: o.name, type, dims: shape }, o.datatype, shape, raw[i]!, Number.MAX_SAFE_INTEGER);
      return { name: o.name, datatype: o.datatype, shape, data: toJsonValues(tensor) };
    }
    const field = CONTENTS_FIELD[o.datatype]!;
    const values = (o.contents?.[field] ?? []) as readonly unknown[];
    const data = field === "bytes_contents" ? values.map((b) => Buffer.from(b as Uint8Array).toString("utf8")) : values.map((v) => (typeof v === "string" ? Number(v) : v));
    return { name: o.name, datatype: o.datatype, shape, data };
  });
}

/** A response's parameters as scalars (the REST protocol's form). */
export function responseParameters(response: ModelInferResponse): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, p] of Object.entries(response.parameters ?? {})) {
    const choice = p.parameter_choice;
    if (choice && p[choice] !== undefined) out[key] = p[choice]!;
  }
  return out;
}

/**
 * A version's input example as REST tensors, exactly what the model manager warms it up with (its tensor example,
 * or its column example through its feeds), or the first `rows` rows of it.
 */
export function exampleTensors(pkg: ModelPackage, contract: ModelContract, rows?: number): JsonTensor[] {
  const { tensors } = warmUpExamples(pkg, contract).tensors;
  return contract.inputs.map((input) => {
    const all = tensors[input.name]!;
    const t = rows !== undefined && contract.batchAxis ? sliceRows(all, 0, Math.min(rows, all.dims[0]!)) : all;
    return { name: input.name, datatype: V2_DATATYPE[t.type], shape: t.dims, data: toJsonValues(t) };
  });
}

/** The input example of a model directory (read as the service reads it) as REST tensors. */
export async function modelExampleTensors(dir: string, rows?: number): Promise<JsonTensor[]> {
  const pkg = await readModelPackage(dir);
  return exampleTensors(pkg, readModelContract(pkg, await readOnnxGraph(pkg.onnxPath), {}), rows);
}
