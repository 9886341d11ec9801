/**
 * The Open Inference Protocol's gRPC definitions, loaded from the vendored open_inference_grpc.proto beside this
 * file (build.mjs copies it into dist/). The service and every client (tests, the benchmark's load generator)
 * load it with the same options, so both sides agree on how messages look in JavaScript:
 * field names as in the .proto (snake_case), 64-bit integers as numbers (JSON's range, as the REST protocol has),
 * bytes as Buffers, absent fields as their defaults (messages as null), and a oneof's chosen field named in
 * `parameter_choice`.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PROTO_FILE = join(__dirname, "open_inference_grpc.proto");

export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

let loaded: grpc.ServiceDefinition | undefined;

/** inference.GRPCInferenceService's method definitions (paths, serializers), loaded once. */
export function inferenceServiceDefinition(): grpc.ServiceDefinition {
  if (!loaded) {
    const definition = protoLoader.loadSync(PROTO_FILE, PROTO_LOADER_OPTIONS);
    const service = definition["inference.GRPCInferenceService"];
    if (!service || "format" in service) throw new Error(`${PROTO_FILE} defines no service inference.GRPCInferenceService`);
    loaded = service as grpc.ServiceDefinition;
  }
  return loaded;
}

// --- the messages as the loader produces them (only the fields the service reads or writes) -------------------

export interface InferParameter {
  readonly bool_param?: boolean;
  readonly int64_param?: number;
  readonly string_param?: string;
  readonly double_param?: number;
  readonly uint64_param?: number;
  readonly parameter_choice?: "bool_param" | "int64_param" | "string_param" | "double_param" | "uint64_param";
}

export interface InferTensorContents {
  readonly bool_contents?: readonly boolean[];
  readonly int_contents?: readonly number[];
  readonly int64_contents?: readonly (number | string)[];
  readonly uint_contents?: readonly number[];
  readonly uint64_contents?: readonly (number | string)[];
  readonly fp32_contents?: readonly number[];
  readonly fp64_contents?: readonly number[];
  readonly bytes_contents?: readonly Uint8Array[];
}

export interface InferInputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters?: Readonly<Record<string, InferParameter>>;
  readonly contents?: InferTensorContents | null;
}

export interface ModelInferRequest {
  readonly model_name: string;
  readonly model_version?: string;
  readonly id?: string;
  readonly parameters?: Readonly<Record<string, InferParameter>>;
  readonly inputs: readonly InferInputTensor[];
  readonly outputs?: readonly { readonly name: string; readonly parameters?: Readonly<Record<string, InferParameter>> }[];
  readonly raw_input_contents?: readonly Uint8Array[];
}

export interface InferOutputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters?: Readonly<Record<string, InferParameter>>;
  readonly contents?: InferTensorContents | null;
}

export interface ModelInferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly outputs: readonly InferOutputTensor[];
  readonly raw_output_contents: readonly Uint8Array[];
}

export interface ModelMetadataResponse {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly { readonly name: string; readonly datatype: string; readonly shape: readonly number[] }[];
  readonly outputs: readonly { readonly name: string; readonly datatype: string; readonly shape: readonly number[] }[];
  readonly properties: Readonly<Record<string, string>>;
}
