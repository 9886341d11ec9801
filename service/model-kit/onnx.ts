/**
 * Just enough of an ONNX graph builder on top of onnx-proto (the ONNX 1.10 protobuf schema) to write the
 * demo models from TypeScript, plus the input contract every Modelport model follows: one graph input per
 * signature column, named as the column, shape [-1, 1], element type from the MLflow column type.
 */
import { onnx } from "onnx-proto";
import type { ColumnSpec, ColumnType } from "../src/model/mlmodel";

/** IR version 8 = ONNX 1.10, the newest onnx-proto can write; onnxruntime 1.30 reads it. */
export const IR_VERSION = 8;
export const ONNX_OPSET = 15;
/** ai.onnx.ml 2 has LabelEncoder with float values and TreeEnsembleClassifier (since 1). */
export const ONNX_ML_OPSET = 2;
export const ML_DOMAIN = "ai.onnx.ml";

export const TensorType = onnx.TensorProto.DataType;

/** ONNX element type for each MLflow column type (the service builds its input tensors the same way). */
export const ONNX_TYPE_FOR_COLUMN: Readonly<Record<Exclude<ColumnType, "binary" | "datetime">, onnx.TensorProto.DataType>> = {
  boolean: TensorType.BOOL,
  integer: TensorType.INT32,
  long: TensorType.INT64,
  float: TensorType.FLOAT,
  double: TensorType.DOUBLE,
  string: TensorType.STRING,
};

/** Plain numbers and number arrays are INT(S); floats are wrapped so 0.0 cannot turn into an int. */
export type AttributeValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | { readonly float: number }
  | { readonly floats: ArrayLike<number> }
  | { readonly tensor: onnx.ITensorProto };

/** Accumulates nodes and initializers, then encodes the model. */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private usesMl = false;

  constructor(private readonly name: string) {}

  /** A graph input for a signature column: [-1, 1] of the column's element type. */
  columnInput(column: ColumnSpec): string {
    const type = ONNX_TYPE_FOR_COLUMN[column.type as keyof typeof ONNX_TYPE_FOR_COLUMN];
    if (type === undefined) throw new Error(`column "${column.name}": MLflow type ${column.type} has no ONNX input mapping`);
    this.inputs.push(valueInfo(column.name, type, [-1, 1]));
    return column.name;
  }

  output(name: string, type: onnx.TensorProto.DataType, shape: readonly number[]): void {
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** A float32 constant; `ints` for an int64 one. */
  constant(name: string, dims: readonly number[], values: ArrayLike<number>, type: "float" | "int64" = "float"): string {
    this.initializers.push(
      type === "float"
        ? { name, dims: [...dims], dataType: TensorType.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) }
        : { name, dims: [...dims], dataType: TensorType.INT64, int64Data: Array.from(values) },
    );
    return name;
  }

  /** Adds a node; returns its output names. Attribute types follow the JS values (see AttributeValue). */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Record<string, AttributeValue> = {}, domain = ""): readonly string[] {
    if (domain === ML_DOMAIN) this.usesMl = true;
    this.nodes.push({
      opType,
      domain,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  encode(docString: string): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: IR_VERSION,
      producerName: "modelport-model-kit",
      producerVersion: "1",
      docString,
      opsetImport: [{ domain: "", version: ONNX_OPSET }, ...(this.usesMl ? [{ domain: ML_DOMAIN, version: ONNX_ML_OPSET }] : [])],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function valueInfo(name: string, elemType: onnx.TensorProto.DataType, shape: readonly number[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((size) => (size < 0 ? { dimParam: "N" } : { dimValue: size })) } } },
  };
}

const Attr = onnx.AttributeProto.AttributeType;
const utf8 = (value: string) => new TextEncoder().encode(value);

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; wrap floats as { float }`);
    return { name, type: Attr.INT, i: value };
  }
  if (typeof value === "string") return { name, type: Attr.STRING, s: utf8(value) };
  if (isArray(value)) {
    if (value.length > 0 && typeof value[0] === "string") return { name, type: Attr.STRINGS, strings: (value as readonly string[]).map(utf8) };
    return { name, type: Attr.INTS, ints: [...(value as readonly number[])] };
  }
  if ("float" in value) return { name, type: Attr.FLOAT, f: value.float };
  if ("floats" in value) return { name, type: Attr.FLOATS, floats: Array.from(value.floats) };
  return { name, type: Attr.TENSOR, t: value.tensor };
}

// Array.isArray does not narrow readonly arrays out of a union.
function isArray(value: AttributeValue): value is readonly number[] | readonly string[] {
  return Array.isArray(value);
}
