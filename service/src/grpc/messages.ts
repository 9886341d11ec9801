/**
 * gRPC messages <-> the V2 codec. A ModelInferRequest becomes the REST codec's request shape (each input's typed
 * `contents` field as its `data`), with `raw_input_contents` passed beside it, so both transports decode through
 * the same checks; an answer's tensors become typed `contents` or `raw_output_contents`. Only the contents field
 * of an input's datatype may hold its data (the protocol's table: INT8/16/32 in int_contents, UINT8/16/32 in
 * uint_contents, ...); FP16 has no typed field and always travels raw.
 */
import { V2_DATATYPE, type HostTensor } from "../model/tensors";
import { V2RequestError, encodeRawTensor, type V2Parameters } from "../v2/codec";
import type { V2InferAnswer } from "../v2/service";
import type { InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse } from "./proto";

type ContentsField = keyof InferTensorContents;

/** Which typed contents field carries each datatype (open_inference_grpc.proto, InferTensorContents). */
export const CONTENTS_FIELD: Readonly<Record<string, ContentsField | undefined>> = {
  BOOL: "bool_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
  FP16: undefined,
};

const CONTENTS_FIELDS: readonly ContentsField[] = [
  "bool_contents",
  "int_contents",
  "int64_contents",
  "uint_contents",
  "uint64_contents",
  "fp32_contents",
  "fp64_contents",
  "bytes_contents",
];

export interface DecodedGrpcRequest {
  /** The request in the REST codec's shape. */
  readonly body: unknown;
  readonly rawInputs?: readonly Uint8Array[];
  /** Whether the answer goes back as raw_output_contents (the request came raw). */
  readonly raw: boolean;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export function fromInferRequest(request: ModelInferRequest): DecodedGrpcRequest {
  const raw = (request.raw_input_contents ?? []).length > 0;
  const inputs = (request.inputs ?? []).map((input, index) => {
    const filled = filledFields(input.contents);
    if (raw && filled.length > 0) {
      throw new V2RequestError(`inputs[${index}] ("${input.name}") has contents.${filled[0]} while raw_input_contents is set: send every input's data one way (the protocol forbids both)`);
    }
    return {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      parameters: parameters(input.parameters),
      data: raw ? undefined : typedData(input.name, input.datatype, input.contents, filled),
    };
  });
  const body = {
    id: request.id || undefined,
    parameters: parameters(request.parameters),
    inputs,
    outputs: request.outputs && request.outputs.length > 0 ? request.outputs.map((o) => ({ name: o.name, parameters: parameters(o.parameters) })) : undefined,
  };
  return { body, rawInputs: raw ? request.raw_input_contents : undefined, raw };
}

/** The answer as a ModelInferResponse: raw when asked raw, or when an output has no typed field (FP16). */
export function toInferResponse(answer: V2InferAnswer, raw: boolean): ModelInferResponse {
  const tensors = answer.outputs.map((name) => [name, answer.tensors[name]!] as const);
  const asRaw = raw || tensors.some(([, t]) => CONTENTS_FIELD[V2_DATATYPE[t.type]] === undefined);
  return {
    model_name: answer.model_name,
    model_version: answer.model_version,
    id: answer.id,
    parameters: toParameters(answer.parameters),
    outputs: tensors.map(([name, t]) => ({
      name,
      datatype: V2_DATATYPE[t.type],
      shape: [...t.dims],
      ...(asRaw ? {} : { contents: typedContents(t) }),
    })),
    raw_output_contents: asRaw ? tensors.map(([, t]) => encodeRawTensor(t)) : [],
  };
}

export function toParameters(params: V2Parameters): Record<string, InferParameter> {
  const out: Record<string, InferParameter> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === "boolean") out[key] = { bool_param: value };
    else if (typeof value === "string") out[key] = { string_param: value };
    else out[key] = Number.isInteger(value) ? { int64_param: value } : { double_param: value };
  }
  return out;
}

/** The set member of each InferParameter, as the REST protocol's scalar parameters. */
function parameters(params: Readonly<Record<string, InferParameter>> | undefined): V2Parameters | undefined {
  if (!params) return undefined;
  const out: V2Parameters = {};
  for (const [key, p] of Object.entries(params)) {
    const choice = p.parameter_choice;
    const value = choice ? p[choice] : undefined;
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function filledFields(contents: InferTensorContents | null | undefined): ContentsField[] {
  if (!contents) return [];
  return CONTENTS_FIELDS.filter((field) => (contents[field]?.length ?? 0) > 0);
}

/** The values of the one contents field the datatype uses; any other filled field is a mistake named here. */
function typedData(name: string, datatype: string, contents: InferTensorContents | null | undefined, filled: readonly ContentsField[]): unknown[] | undefined {
  if (!(datatype in CONTENTS_FIELD)) return undefined; // the codec names the unknown datatype
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) throw new V2RequestError(`input "${name}" is ${datatype}, which has no typed contents field: send its data in raw_input_contents`);
  const stray = filled.find((f) => f !== field);
  if (stray) throw new V2RequestError(`input "${name}" is ${datatype} but its data is in contents.${stray}: ${datatype} data goes in contents.${field}`);
  if (filled.length === 0) throw new V2RequestError(`input "${name}" has no data: fill contents.${field} or send raw_input_contents`);
  const values = contents![field]!;
  if (field !== "bytes_contents") return values as unknown[];
  return (values as readonly Uint8Array[]).map((bytes, i) => {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new V2RequestError(`input "${name}" bytes_contents[${i}] is not valid UTF-8 (the model's string inputs are text)`);
    }
  });
}

function typedContents(tensor: HostTensor): InferTensorContents {
  const field = CONTENTS_FIELD[V2_DATATYPE[tensor.type]]!;
  const data = tensor.data;
  switch (field) {
    case "bool_contents":
      return { bool_contents: Array.from(data as Uint8Array, (b) => b === 1) };
    case "bytes_contents":
      return { bytes_contents: (data as string[]).map((s) => Buffer.from(s, "utf8")) };
    case "int64_contents":
    case "uint64_contents":
      // Decimal strings: protobuf's 64-bit fields take them exactly (a double would round past 2^53).
      return { [field]: Array.from(data as BigInt64Array, (v) => v.toString()) };
    default:
      return { [field]: Array.from(data as Float64Array) };
  }
}
