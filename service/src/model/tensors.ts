/**
 * Host-side tensors: what the scorers, the batcher, the worker threads and the Open Inference Protocol codec pass
 * between them. Plain objects (element type, dims, a typed array or strings), so they cross a worker boundary by
 * structured clone with their buffers transferred, and nothing here depends on onnxruntime or on HTTP.
 */

/** Element types as onnxruntime names them. */
export const TENSOR_TYPES = [
  "float16",
  "float32",
  "float64",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "bool",
  "string",
] as const;
export type TensorType = (typeof TENSOR_TYPES)[number];

/** float16 travels as its IEEE half bits (Node 20 has no Float16Array); bool as 0/1 bytes, as onnxruntime does. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

export interface HostTensor {
  readonly type: TensorType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** Tensors by graph input or output name. */
export type TensorMap = Readonly<Record<string, HostTensor>>;

/** A graph input or output: element type and dims, a string (symbolic) or -1 for a dynamic dimension. */
export interface GraphTensor {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: readonly (number | string)[];
}

/** Open Inference Protocol datatypes, by element type. */
export const V2_DATATYPE: Record<TensorType, string> = {
  float16: "FP16",
  float32: "FP32",
  float64: "FP64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  bool: "BOOL",
  string: "BYTES",
};

/** ONNX TensorProto.DataType numbers (onnx.proto) -> element type; undefined for types Modelport cannot serve. */
export const ONNX_ELEMENT_TYPES: Readonly<Record<number, TensorType>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
};

export const FLOAT_TYPES: readonly TensorType[] = ["float16", "float32", "float64"];
export const INTEGER_TYPES: readonly TensorType[] = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"];

/** Inclusive ranges of the integer types as JSON numbers can carry them (64-bit types up to 2^53 - 1). */
export const INTEGER_RANGES: Readonly<Partial<Record<TensorType, readonly [number, number]>>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** An empty typed array (or string list) of `length` elements for the type. */
export function allocate(type: TensorType, length: number): TensorData {
  switch (type) {
    case "float16":
    case "uint16":
      return new Uint16Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    case "int8":
      return new Int8Array(length);
    case "int16":
      return new Int16Array(length);
    case "int32":
      return new Int32Array(length);
    case "int64":
      return new BigInt64Array(length);
    case "uint8":
    case "bool":
      return new Uint8Array(length);
    case "uint32":
      return new Uint32Array(length);
    case "uint64":
      return new BigUint64Array(length);
    case "string":
      return new Array<string>(length).fill("");
  }
}

/** Writes a JSON value (already checked to fit the type) into element `index`. */
export function setElement(data: TensorData, type: TensorType, index: number, value: number | string | boolean): void {
  switch (type) {
    case "string":
      (data as string[])[index] = String(value);
      return;
    case "bool":
      (data as Uint8Array)[index] = value === true || value === 1 ? 1 : 0;
      return;
    case "int64":
    case "uint64":
      (data as BigInt64Array)[index] = BigInt(typeof value === "number" ? Math.trunc(value) : value === true ? 1 : 0);
      return;
    case "float16":
      (data as Uint16Array)[index] = toHalf(Number(value));
      return;
    default:
      (data as Float64Array)[index] = Number(value);
  }
}

/** Element `index` as a JSON value: numbers (64-bit integers beyond 2^53 lose precision), booleans, strings. */
export function getElement(tensor: Pick<HostTensor, "type" | "data">, index: number): number | string | boolean {
  const value = tensor.data[index]!;
  switch (tensor.type) {
    case "string":
      return value as string;
    case "bool":
      return value === 1;
    case "int64":
    case "uint64":
      return Number(value as bigint);
    case "float16":
      return fromHalf(value as number);
    default:
      return value as number;
  }
}

/** The tensor's elements as JSON values, row-major (non-finite floats become null in JSON, as the client sees). */
export function toJsonValues(tensor: Pick<HostTensor, "type" | "data">): (number | string | boolean)[] {
  const { type, data } = tensor;
  if (type === "string") return (data as string[]).slice();
  if (type === "bool" || type === "int64" || type === "uint64" || type === "float16") {
    const out = new Array<number | string | boolean>(data.length);
    for (let i = 0; i < data.length; i++) out[i] = getElement(tensor, i);
    return out;
  }
  return Array.from(data as Float64Array);
}

/** Element `index` as a number (NaN for strings), for norms and task outputs. */
export function numberAt(tensor: Pick<HostTensor, "type" | "data">, index: number): number {
  const value = tensor.data[index]!;
  if (typeof value === "number") return tensor.type === "float16" ? fromHalf(value) : value;
  if (typeof value === "bigint") return Number(value);
  return Number.NaN;
}

export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) count *= d;
  return count;
}

/**
 * Concatenates tensors of the same type whose dims agree past dimension 0 (the caller keys them so), along
 * dimension 0. One tensor is returned as is.
 */
export function concatRows(parts: readonly HostTensor[]): HostTensor {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  let rows = 0;
  let length = 0;
  for (const part of parts) {
    rows += part.dims[0]!;
    length += part.data.length;
  }
  const data = allocate(first.type, length);
  let offset = 0;
  for (const part of parts) {
    if (Array.isArray(data)) for (let i = 0; i < part.data.length; i++) data[offset + i] = (part.data as string[])[i]!;
    else (data as Float64Array).set(part.data as Float64Array, offset);
    offset += part.data.length;
  }
  return { type: first.type, dims: [rows, ...first.dims.slice(1)], data };
}

/** Rows [start, end) of a tensor along dimension 0, sharing the buffer where the data is a typed array. */
export function sliceRows(tensor: HostTensor, start: number, end: number): HostTensor {
  const rows = tensor.dims[0]!;
  const perRow = rows === 0 ? 0 : tensor.data.length / rows;
  const data = Array.isArray(tensor.data)
    ? tensor.data.slice(start * perRow, end * perRow)
    : (tensor.data as Float64Array).subarray(start * perRow, end * perRow);
  return { type: tensor.type, dims: [end - start, ...tensor.dims.slice(1)], data };
}

/** IEEE 754 half precision bits of a number (round to nearest even), as onnxruntime stores float16. */
export function toHalf(value: number): number {
  FLOAT_VIEW[0] = value;
  const bits = INT_VIEW[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf or NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // overflow: Inf
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // underflow: signed zero
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Largest finite float16 (values beyond round to infinity). */
export const FLOAT16_MAX = 65504;

const FLOAT_VIEW = new Float32Array(1);
const INT_VIEW = new Uint32Array(FLOAT_VIEW.buffer);
