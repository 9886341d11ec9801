/**
 * Open Inference Protocol (KServe V2) REST codec: an inference request's tensors -> the records the /predict
 * path scores, and predictions -> the model's output tensors. Every way a body can be wrong is a V2RequestError
 * naming the input and what to change; nothing here trusts the body's shape.
 *
 * Modelport models take one [-1, 1] tensor per signature column, so a request carries, per input, n values
 * (shape [n] or [n, 1]) and all inputs agree on n. Numeric inputs accept any numeric datatype whose values
 * fit the column (INT64 data for a double column is fine, FP64 data for a long column is not).
 */
import type { ColumnSpec, ColumnType } from "../model/mlmodel";
import type { FeatureRecord, TensorMetadata } from "../model/types";

export const V2_DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
] as const;
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

/** The model as the codec sees it: signature columns and ONNX graph outputs. */
export interface V2ModelView {
  readonly inputs: readonly ColumnSpec[];
  readonly outputs: readonly TensorMetadata[];
}

export interface DecodedInferRequest {
  /** The request's id, when it brought one. */
  readonly id?: string;
  readonly records: FeatureRecord[];
  /** Output tensors to return, in order. */
  readonly outputs: readonly string[];
}

/** Tensors this service can produce from a scored probability (the model contract's outputs). */
export const LABEL_OUTPUT = "label";
export const PROBABILITIES_OUTPUT = "probabilities";
const PRODUCIBLE_OUTPUTS = [LABEL_OUTPUT, PROBABILITIES_OUTPUT];

const INTEGER_RANGES: Partial<Record<V2Datatype, readonly [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const FLOAT_TYPES: readonly string[] = ["FP16", "FP32", "FP64"];

/** Which request datatypes can feed a column of each MLflow type. */
const ACCEPTED: Record<ColumnType, (datatype: V2Datatype) => boolean> = {
  boolean: (d) => d === "BOOL",
  integer: (d) => d in INTEGER_RANGES,
  long: (d) => d in INTEGER_RANGES,
  float: (d) => d in INTEGER_RANGES || FLOAT_TYPES.includes(d),
  double: (d) => d in INTEGER_RANGES || FLOAT_TYPES.includes(d),
  string: (d) => d === "BYTES",
  binary: (d) => d === "BYTES",
  datetime: (d) => d === "BYTES",
};
const EXPECTED: Record<ColumnType, string> = {
  boolean: "BOOL",
  integer: "an integer datatype (INT32, INT64, ...)",
  long: "an integer datatype (INT64, INT32, ...)",
  float: "a numeric datatype (FP32, FP64, INT64, ...)",
  double: "a numeric datatype (FP64, FP32, INT64, ...)",
  string: "BYTES",
  binary: "BYTES",
  datetime: "BYTES",
};

/** Checks an inference request body against the model and turns its tensors into records. */
export function decodeInferRequest(body: unknown, model: V2ModelView, maxRecords: number): DecodedInferRequest {
  if (!isObject(body)) throw new V2RequestError("the inference request must be a JSON object with an \"inputs\" array");
  const id = body.id;
  if (id !== undefined && typeof id !== "string") throw new V2RequestError("\"id\" must be a string");
  checkParameters(body.parameters, "\"parameters\"");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    throw new V2RequestError(`"inputs" must be a non-empty array of tensors (the model takes ${model.inputs.map((c) => c.name).join(", ")})`);
  }

  const columns = new Map(model.inputs.map((c) => [c.name, c]));
  const given = new Map<string, unknown[]>();
  let rows: number | undefined;
  body.inputs.forEach((input: unknown, index: number) => {
    const where = `inputs[${index}]`;
    if (!isObject(input)) throw new V2RequestError(`${where} must be an object with name, shape, datatype and data`);
    const { name, shape, datatype, data } = input;
    if (typeof name !== "string") throw new V2RequestError(`${where}.name must be a string`);
    const column = columns.get(name);
    if (!column) throw new V2RequestError(`${where} names "${name}", which is not a model input; inputs are ${[...columns.keys()].join(", ")}`);
    if (given.has(name)) throw new V2RequestError(`input "${name}" is given twice`);
    checkParameters(input.parameters, `input "${name}" parameters`);
    if (typeof datatype !== "string" || !(V2_DATATYPES as readonly string[]).includes(datatype)) {
      throw new V2RequestError(`input "${name}" has datatype ${JSON.stringify(datatype)}; expected one of ${V2_DATATYPES.join(", ")}`);
    }
    const type = datatype as V2Datatype;
    if (!ACCEPTED[column.type](type)) {
      throw new V2RequestError(`input "${name}" is a ${column.type} column: send ${EXPECTED[column.type]}, not ${type}`);
    }
    if (!Array.isArray(shape) || shape.length < 1 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new V2RequestError(`input "${name}" shape must be an array of non-negative integers like [n] or [n, 1], got ${JSON.stringify(shape)}`);
    }
    const n = shape[0] as number;
    const perRow = (shape as number[]).slice(1).reduce((a, b) => a * b, 1);
    if (perRow !== 1) throw new V2RequestError(`input "${name}" must hold one value per row (shape [n] or [n, 1]), got shape ${JSON.stringify(shape)}`);
    if (rows !== undefined && n !== rows) throw new V2RequestError(`input "${name}" has ${n} rows but earlier inputs have ${rows}: all inputs must have the same first dimension`);
    rows = n;
    if (!Array.isArray(data)) throw new V2RequestError(`input "${name}" data must be an array (row-major, flat or nested)`);
    const values = flatten(data, n, name);
    if (values.length !== n) {
      const held = values.length > n && values !== data ? `more than ${n}` : String(values.length);
      throw new V2RequestError(`input "${name}" has shape ${JSON.stringify(shape)} (${n} values) but its data holds ${held}`);
    }
    values.forEach((value, row) => checkValue(value, type, name, row));
    given.set(name, values);
  });

  const missing = model.inputs.filter((c) => c.required && !given.has(c.name)).map((c) => c.name);
  if (missing.length > 0) throw new V2RequestError(`missing required input${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  const n = rows ?? 0;
  if (n === 0 || n > maxRecords) throw new V2RequestError(`a request holds 1 to ${maxRecords} rows; got ${n}`);

  const records: FeatureRecord[] = new Array(n);
  for (let row = 0; row < n; row++) {
    const record: Record<string, unknown> = {};
    for (const [name, values] of given) record[name] = values[row];
    records[row] = record;
  }
  return { id, records, outputs: requestedOutputs(body.outputs, model) };
}

/** Predictions -> the requested output tensors, in the model's declared shapes and datatypes. */
export function encodeOutputs(outputs: readonly string[], predictions: readonly { probability: number; label: 0 | 1 }[]): V2Tensor[] {
  const n = predictions.length;
  return outputs.map((name) => {
    if (name === LABEL_OUTPUT) return { name, datatype: "INT64", shape: [n], data: predictions.map((p) => p.label) };
    const data = new Array<number>(n * 2);
    predictions.forEach((p, i) => {
      data[2 * i] = Math.fround(1 - p.probability);
      data[2 * i + 1] = p.probability;
    });
    return { name, datatype: "FP32", shape: [n, 2], data };
  });
}

function requestedOutputs(requested: unknown, model: V2ModelView): string[] {
  const producible = model.outputs.map((o) => o.name).filter((name) => PRODUCIBLE_OUTPUTS.includes(name));
  if (requested === undefined) return producible;
  if (!Array.isArray(requested)) throw new V2RequestError("\"outputs\" must be an array of {name}");
  const names = requested.map((output: unknown, index: number) => {
    if (!isObject(output) || typeof output.name !== "string") throw new V2RequestError(`outputs[${index}] must be an object with a string "name"`);
    checkParameters(output.parameters, `output "${output.name}" parameters`);
    if (!producible.includes(output.name)) {
      throw new V2RequestError(`output "${output.name}" is not served; available outputs are ${producible.join(", ")}`);
    }
    return output.name;
  });
  return [...new Set(names)];
}

function checkValue(value: unknown, datatype: V2Datatype, name: string, row: number): void {
  const bad = (what: string) => new V2RequestError(`input "${name}" row ${row}: ${what}`);
  if (datatype === "BOOL") {
    if (typeof value !== "boolean") throw bad(`BOOL data must be true or false, got ${preview(value)}`);
    return;
  }
  if (datatype === "BYTES") {
    if (typeof value !== "string") throw bad(`BYTES data must be strings, got ${preview(value)}`);
    return;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw bad(`${datatype} data must be numbers, got ${preview(value)}`);
  const range = INTEGER_RANGES[datatype];
  if (range && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
    throw bad(`${value} is not a ${datatype} (integers ${range[0]} to ${range[1]})`);
  }
}

/** Row-major data, flat or nested like the shape, as one flat list (refusing to descend absurdly deep). */
function flatten(data: unknown[], rows: number, name: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const flat: unknown[] = [];
  const walk = (items: unknown[], depth: number) => {
    if (depth > 8) throw new V2RequestError(`input "${name}" data is nested deeper than its shape`);
    for (const item of items) {
      if (Array.isArray(item)) walk(item, depth + 1);
      else flat.push(item);
      if (flat.length > rows) return;
    }
  };
  walk(data, 0);
  return flat;
}

function checkParameters(parameters: unknown, where: string): void {
  if (parameters === undefined) return;
  if (!isObject(parameters)) throw new V2RequestError(`${where} must be an object`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
