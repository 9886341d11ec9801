/**
 * Open Inference Protocol (KServe V2) codec, independent of the transport: an inference request's JSON ->
 * graph-input tensors checked against the model's graph (names, datatypes, ranks, static dims, one batch size),
 * and output tensors -> the protocol's JSON. `decodeTensor` is the per-tensor core a gRPC front end can call with
 * the values it read from `contents`. Every way a request can be wrong is a V2RequestError naming the input and
 * what to change; nothing here trusts the body's shape, recurses on it, or stringifies it whole.
 */
import {
  FLOAT16_MAX,
  FLOAT_TYPES,
  INTEGER_RANGES,
  V2_DATATYPE,
  allocate,
  fromHalf,
  setElement,
  toJsonValues,
  type GraphTensor,
  type HostTensor,
  type TensorMap,
  type TensorType,
} from "../model/tensors";

export const V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"] as const;
export type V2Datatype = (typeof V2_DATATYPES)[number];

/** Scalar parameter values, as the protocol allows them. */
export type V2Parameters = Record<string, string | number | boolean>;

export interface V2Tensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: string;
  readonly parameters?: V2Parameters;
  readonly data: readonly unknown[];
}

export interface V2InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: V2Parameters;
  readonly outputs: readonly V2Tensor[];
}

/** A client mistake: answered 400 with {"error": message}. */
export class V2RequestError extends Error {
  override readonly name = "V2RequestError";
  readonly statusCode = 400;
}

/** The model as the codec sees it: its graph's inputs and outputs, and whether dimension 0 is a batch axis. */
export interface V2ModelView {
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
  /** Every input's dimension 0 is the batch: inputs must agree on it, and it is at most `maxRows`. */
  readonly batchAxis: boolean;
}

export interface DecodeLimits {
  /** Most rows along the batch axis (MAX_BATCH_RECORDS). */
  readonly maxRows: number;
  /** Most elements in one input tensor. @default 16 Mi */
  readonly maxElements?: number;
}

export interface DecodedInferRequest {
  /** The request's id, when it brought one. */
  readonly id?: string;
  /** Graph inputs, converted to the graph's element types. */
  readonly tensors: TensorMap;
  /** Rows along the batch axis; 1 for a model without one (a request is then one prediction). */
  readonly rows: number;
  /** Requests with the same key may be concatenated along dimension 0 (undefined: never coalesced). */
  readonly key?: string;
  /** Output tensors to return, in order. */
  readonly outputs: readonly string[];
}

const DEFAULT_MAX_ELEMENTS = 16 * 1024 * 1024;
const INTEGER_DATATYPES: readonly string[] = ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"];
const FLOAT_DATATYPES: readonly string[] = ["FP16", "FP32", "FP64"];
/** Request datatype -> the element type whose range its values must fit. */
export const DATATYPE_TYPES: Record<V2Datatype, TensorType> = Object.fromEntries(
  Object.entries(V2_DATATYPE).map(([type, datatype]) => [datatype, type as TensorType]),
) as Record<V2Datatype, TensorType>;

/**
 * Checks an inference request body against the model and turns its inputs into graph tensors. `rawInputs` (gRPC's
 * raw_input_contents) holds the data of inputs[i] as bytes instead of its `data`, one entry per input.
 */
export function decodeInferRequest(body: unknown, model: V2ModelView, limits: DecodeLimits, rawInputs?: readonly Uint8Array[]): DecodedInferRequest {
  if (!isObject(body)) throw new V2RequestError('the inference request must be a JSON object with an "inputs" array');
  const id = body.id;
  if (id !== undefined && typeof id !== "string") throw new V2RequestError('"id" must be a string');
  checkParameters(body.parameters, '"parameters"');
  const inputNames = model.inputs.map((i) => i.name).join(", ");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw new V2RequestError(`"inputs" must be a non-empty array of tensors (the model takes ${inputNames})`);
  if (body.inputs.length > model.inputs.length) {
    throw new V2RequestError(`"inputs" holds ${body.inputs.length} tensors but the model takes ${model.inputs.length} (${inputNames})`);
  }
  if (rawInputs && rawInputs.length !== body.inputs.length) {
    throw new V2RequestError(`raw_input_contents holds ${rawInputs.length} entries for ${body.inputs.length} inputs: give one per input, in the order of "inputs"`);
  }
  const graphInputs = new Map(model.inputs.map((i) => [i.name, i]));
  const tensors: Record<string, HostTensor> = {};
  let rows: number | undefined;
  let rowsFrom = "";
  for (let index = 0; index < body.inputs.length; index++) {
    const input: unknown = body.inputs[index];
    const where = `inputs[${index}]`;
    if (!isObject(input)) throw new V2RequestError(`${where} must be an object with name, shape, datatype and data`);
    const name = input.name;
    if (typeof name !== "string") throw new V2RequestError(`${where}.name must be a string`);
    const graphInput = graphInputs.get(name);
    if (!graphInput) throw new V2RequestError(`${where} names ${preview(name)}, which is not a model input; inputs are ${inputNames}`);
    if (name in tensors) throw new V2RequestError(`input "${name}" is given twice`);
    checkParameters(input.parameters, `input "${name}" parameters`);
    const tensor = rawInputs
      ? decodeRawTensor(graphInput, input.datatype, input.shape, rawInputs[index]!, limits.maxElements)
      : decodeTensor(graphInput, input.datatype, input.shape, input.data, limits.maxElements);
    if (model.batchAxis) {
      const n = tensor.dims[0]!;
      if (rows !== undefined && n !== rows) {
        throw new V2RequestError(`input "${name}" has ${n} rows (dimension 0) but input "${rowsFrom}" has ${rows}: all inputs must have the same first dimension`);
      }
      rows = n;
      rowsFrom = name;
    }
    tensors[name] = tensor;
  }
  const missing = model.inputs.filter((i) => !(i.name in tensors)).map((i) => i.name);
  if (missing.length > 0) throw new V2RequestError(`missing input${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  if (model.batchAxis && rows! > limits.maxRows) {
    throw new V2RequestError(`a request holds 1 to ${limits.maxRows} rows along dimension 0 (MAX_BATCH_RECORDS); got ${rows}`);
  }
  const key = model.batchAxis ? model.inputs.map((i) => tensors[i.name]!.dims.slice(1).join(",")).join(";") : undefined;
  return { id, tensors, rows: model.batchAxis ? rows! : 1, key, outputs: requestedOutputs(body.outputs, model) };
}

/**
 * One input tensor from the protocol's fields: `datatype` compatible with the graph input's element type (any
 * integer datatype for a numeric input, any float datatype for a float one), `shape` the graph allows (its rank,
 * its static dimensions; [n] for an [N, 1] input), `data` row-major, flat or nested like the shape, every value of
 * the datatype and within the graph type's range.
 */
export function decodeTensor(input: GraphTensor, datatype: unknown, shape: unknown, data: unknown, maxElements = DEFAULT_MAX_ELEMENTS): HostTensor {
  const name = input.name;
  const { dims, count } = checkHeader(input, datatype, shape, maxElements);
  if (!Array.isArray(data)) throw new V2RequestError(`input "${name}" data must be an array (row-major, flat or nested like the shape)`);
  const values = flatten(data, dims.length, count, name);
  if (values.length !== count) {
    const held = values.length > count ? `more than ${count}` : String(values.length);
    throw new V2RequestError(`input "${name}" has shape [${dims.join(", ")}] (${count} values) but its data holds ${held}`);
  }
  const out = allocate(input.type, count);
  const requestType = DATATYPE_TYPES[datatype as V2Datatype];
  for (let i = 0; i < count; i++) setElement(out, input.type, i, checkValue(values[i], datatype as V2Datatype, requestType, input.type, name, i));
  return { type: input.type, dims, data: out };
}

/**
 * One input tensor from raw bytes (gRPC raw_input_contents): row-major, little-endian, no padding, `datatype`'s
 * element size each (BOOL one byte 0 or 1; BYTES each element a 4-byte little-endian length then its bytes, as
 * Triton and the KServe clients write them). Values are checked like typed data, so both forms accept the same
 * tensors; 64-bit integers keep their full range here.
 */
export function decodeRawTensor(input: GraphTensor, datatype: unknown, shape: unknown, bytes: Uint8Array, maxElements = DEFAULT_MAX_ELEMENTS): HostTensor {
  const { dims, count } = checkHeader(input, datatype, shape, maxElements);
  const type = datatype as V2Datatype;
  const name = input.name;
  if (type === "BYTES") return { type: input.type, dims, data: readByteStrings(bytes, count, name) };
  const size = RAW_SIZES[type];
  if (bytes.byteLength !== count * size) {
    throw new V2RequestError(`input "${name}" has shape [${dims.join(", ")}] (${count} ${type} values, ${count * size} bytes) but its raw contents hold ${bytes.byteLength} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = allocate(input.type, count);
  const requestType = DATATYPE_TYPES[type];
  const wide = input.type === "int64" || input.type === "uint64";
  for (let i = 0; i < count; i++) {
    const value = readRaw(view, type, i);
    if (typeof value === "bigint" && wide) {
      // Exact: no detour through a double.
      const signed = input.type === "int64";
      if (signed ? value > 0x7fffffffffffffffn : value < 0n) throw new V2RequestError(`input "${name}" element ${i}: ${value} is not an ${V2_DATATYPE[input.type]} value`);
      (out as BigInt64Array)[i] = value;
      continue;
    }
    const number = typeof value === "bigint" ? Number(value) : value;
    if (typeof value === "bigint" && !Number.isSafeInteger(number)) {
      throw new V2RequestError(`input "${name}" element ${i}: ${value} does not fit the model's ${V2_DATATYPE[input.type]}`);
    }
    setElement(out, input.type, i, checkValue(number, type, requestType, input.type, name, i));
  }
  return { type: input.type, dims, data: out };
}

/** Bytes per element of each fixed-size datatype in raw contents. */
const RAW_SIZES: Record<Exclude<V2Datatype, "BYTES">, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

function readRaw(view: DataView, type: Exclude<V2Datatype, "BYTES">, i: number): number | bigint | boolean {
  switch (type) {
    case "BOOL": {
      const byte = view.getUint8(i);
      if (byte > 1) throw new V2RequestError(`BOOL element ${i} is byte ${byte}: raw BOOL elements are one byte, 0 or 1`);
      return byte === 1;
    }
    case "UINT8":
      return view.getUint8(i);
    case "INT8":
      return view.getInt8(i);
    case "UINT16":
      return view.getUint16(2 * i, true);
    case "INT16":
      return view.getInt16(2 * i, true);
    case "FP16":
      return fromHalf(view.getUint16(2 * i, true));
    case "UINT32":
      return view.getUint32(4 * i, true);
    case "INT32":
      return view.getInt32(4 * i, true);
    case "FP32":
      return view.getFloat32(4 * i, true);
    case "UINT64":
      return view.getBigUint64(8 * i, true);
    case "INT64":
      return view.getBigInt64(8 * i, true);
    case "FP64":
      return view.getFloat64(8 * i, true);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** `count` length-prefixed strings filling `bytes` exactly. */
function readByteStrings(bytes: Uint8Array, count: number, name: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) throw new V2RequestError(`input "${name}" raw BYTES contents end after ${i} of ${count} elements (each is a 4-byte little-endian length, then the bytes)`);
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) throw new V2RequestError(`input "${name}" raw BYTES element ${i} says ${length} bytes but only ${bytes.byteLength - offset} remain`);
    try {
      out[i] = UTF8.decode(bytes.subarray(offset, offset + length));
    } catch {
      throw new V2RequestError(`input "${name}" BYTES element ${i} is not valid UTF-8 (the model's string inputs are text)`);
    }
    offset += length;
  }
  if (offset !== bytes.byteLength) throw new V2RequestError(`input "${name}" raw BYTES contents hold ${bytes.byteLength - offset} bytes past its ${count} elements`);
  return out;
}

/** Raw bytes of a tensor as the protocol lays them out (the inverse of decodeRawTensor), little-endian. */
export function encodeRawTensor(tensor: HostTensor): Uint8Array {
  const data = tensor.data;
  if (Array.isArray(data)) {
    const parts = data.map((s) => Buffer.from(s, "utf8"));
    const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.writeUInt32LE(part.length, offset);
      part.copy(out, offset + 4);
      offset += 4 + part.length;
    }
    return out;
  }
  // Typed arrays are in the host's byte order: little-endian on every platform onnxruntime-node ships for.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Output tensors as the protocol's JSON, in the order asked. */
export function encodeTensors(tensors: TensorMap, names: readonly string[]): V2Tensor[] {
  return names.map((name) => {
    const t = tensors[name]!;
    return { name, datatype: V2_DATATYPE[t.type], shape: t.dims, data: toJsonValues(t) };
  });
}

/** Graph tensors in the protocol's metadata terms: datatype names, -1 for every dynamic dimension. */
export function tensorMetadata(tensor: GraphTensor): { name: string; datatype: string; shape: number[] } {
  return { name: tensor.name, datatype: V2_DATATYPE[tensor.type], shape: tensor.dims.map((d) => (typeof d === "number" && d >= 0 ? d : -1)) };
}

/** The datatype and shape of an input checked against the graph input: its dims and element count. */
function checkHeader(input: GraphTensor, datatype: unknown, shape: unknown, maxElements: number): { dims: number[]; count: number } {
  const name = input.name;
  if (typeof datatype !== "string" || !(V2_DATATYPES as readonly string[]).includes(datatype)) {
    throw new V2RequestError(`input "${name}" has datatype ${preview(datatype)}; expected one of ${V2_DATATYPES.join(", ")}`);
  }
  if (!accepts(input.type, datatype)) {
    throw new V2RequestError(`input "${name}" is ${V2_DATATYPE[input.type]} in the model: send ${expected(input.type)}, not ${datatype}`);
  }
  const dims = checkShape(input, shape);
  let count = 1;
  for (const d of dims) count *= d;
  if (count > maxElements) throw new V2RequestError(`input "${name}" has shape [${dims.join(", ")}]: ${count} elements is more than the ${maxElements} allowed`);
  return { dims, count };
}

function accepts(type: TensorType, datatype: string): boolean {
  if (type === "bool") return datatype === "BOOL";
  if (type === "string") return datatype === "BYTES";
  if (FLOAT_TYPES.includes(type)) return FLOAT_DATATYPES.includes(datatype) || INTEGER_DATATYPES.includes(datatype);
  return INTEGER_DATATYPES.includes(datatype);
}

function expected(type: TensorType): string {
  if (type === "bool") return "BOOL";
  if (type === "string") return "BYTES";
  if (FLOAT_TYPES.includes(type)) return `${V2_DATATYPE[type]} (or another float or integer datatype)`;
  return `${V2_DATATYPE[type]} (or another integer datatype)`;
}

/** The request's shape if the graph allows it; [n] for an [N, 1] input becomes [n, 1]. */
function checkShape(input: GraphTensor, shape: unknown): number[] {
  const graph = input.dims;
  const shown = `[${graph.map((d) => (typeof d === "number" && d >= 0 ? d : -1)).join(", ")}]`;
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new V2RequestError(`input "${input.name}" shape must be a list of positive integers like ${shown}, got ${preview(shape)}`);
  }
  const dims = shape.length + 1 === graph.length && graph[graph.length - 1] === 1 ? [...(shape as number[]), 1] : [...(shape as number[])];
  if (dims.length !== graph.length) {
    throw new V2RequestError(`input "${input.name}" has rank ${shape.length} (shape [${shape.join(", ")}]) but the model's is ${shown} (rank ${graph.length})`);
  }
  dims.forEach((d, k) => {
    const fixed = graph[k];
    if (typeof fixed === "number" && fixed >= 0 && fixed !== d) {
      throw new V2RequestError(`input "${input.name}" dimension ${k} is ${d} but the model's is fixed at ${fixed} (shape ${shown})`);
    }
  });
  return dims;
}

/** Row-major data, flat or nested up to the tensor's rank, as one flat list; stops as soon as it holds too many. */
function flatten(data: unknown[], rank: number, count: number, name: string): unknown[] {
  let nested = false;
  for (const item of data) if (Array.isArray(item)) nested = true;
  if (!nested) return data;
  const flat: unknown[] = [];
  const stack: { items: unknown[]; next: number }[] = [{ items: data, next: 0 }];
  while (stack.length > 0 && flat.length <= count) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (Array.isArray(item)) {
      if (stack.length >= rank) throw new V2RequestError(`input "${name}" data is nested deeper than its shape (rank ${rank})`);
      stack.push({ items: item, next: 0 });
    } else flat.push(item);
  }
  return flat;
}

function checkValue(value: unknown, datatype: V2Datatype, requestType: TensorType, graphType: TensorType, name: string, index: number): number | string | boolean {
  const bad = (what: string) => new V2RequestError(`input "${name}" element ${index}: ${what}`);
  if (datatype === "BOOL") {
    if (typeof value !== "boolean") throw bad(`BOOL data must be true or false, got ${preview(value)}`);
    return value;
  }
  if (datatype === "BYTES") {
    if (typeof value !== "string") throw bad(`BYTES data must be strings, got ${preview(value)}`);
    return value;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw bad(`${datatype} data must be finite numbers, got ${preview(value)}`);
  for (const type of [requestType, graphType]) {
    const range = INTEGER_RANGES[type];
    if (range && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
      throw bad(`${value} is not ${type === requestType ? `a ${datatype}` : `an ${V2_DATATYPE[type]} (the model's type)`} value (integers ${range[0]} to ${range[1]})`);
    }
    if (type === "float16" && Math.abs(value) > FLOAT16_MAX) throw bad(`${value} is beyond FP16's range (±${FLOAT16_MAX})`);
    if (type === "float32" && Math.abs(value) > 3.4028234663852886e38) throw bad(`${value} is beyond FP32's range`);
  }
  return value;
}

function requestedOutputs(requested: unknown, model: V2ModelView): string[] {
  const names = model.outputs.map((o) => o.name);
  if (requested === undefined) return names;
  if (!Array.isArray(requested)) throw new V2RequestError('"outputs" must be an array of {name}');
  const chosen = new Set<string>();
  for (let index = 0; index < requested.length; index++) {
    const output: unknown = requested[index];
    if (!isObject(output) || typeof output.name !== "string") throw new V2RequestError(`outputs[${index}] must be an object with a string "name"`);
    checkParameters(output.parameters, `output "${output.name}" parameters`);
    if (!names.includes(output.name)) throw new V2RequestError(`output ${preview(output.name)} is not an output of the model; outputs are ${names.join(", ")}`);
    chosen.add(output.name);
  }
  return [...chosen];
}

function checkParameters(parameters: unknown, where: string): void {
  if (parameters === undefined) return;
  if (!isObject(parameters)) throw new V2RequestError(`${where} must be an object`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short description of any value, never stringifying a nested one whole (deep nesting would overflow the stack). */
export function preview(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}
