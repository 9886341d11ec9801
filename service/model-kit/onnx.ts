/**
 * Just enough of an ONNX graph builder on top of onnx-proto (the ONNX 1.10 protobuf schema) to write the
 * demo models from TypeScript, the input contract the model kit's tabular models follow (one graph input per
 * signature column, named as the column, shape [-1, 1], element type from the MLflow column type), and the
 * ai.onnx.ml tree-ensemble attributes for the GBDTs of gbdt.ts.
 */
import { onnx } from "onnx-proto";
import type { ColumnSpec, ColumnType } from "../src/model/mlmodel";
import type { GbdtModel, TreeNode } from "./gbdt";

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

/**
 * Attributes of ai.onnx.ml TreeEnsembleClassifier for a logistic or softmax GBDT, without ZipMap: outputs
 * `label` [N] (the argmax class label) and `probabilities` [N, K].
 *
 * Logistic (binary): one weight per leaf for class id 0, two labels, LOGISTIC post-transform, so
 * probabilities = [1 - sigmoid(sum), sigmoid(sum)]. Softmax: tree t votes for class t mod K, SOFTMAX.
 */
export function treeEnsembleClassifierAttributes(model: GbdtModel, classLabels: readonly number[] | readonly string[]): Record<string, AttributeValue> {
  const expected = model.objective === "logistic" ? 2 : model.objective === "softmax" ? model.baseScores.length : undefined;
  if (expected === undefined) throw new Error(`TreeEnsembleClassifier: a ${model.objective} model is not a classifier`);
  if (classLabels.length !== expected) throw new Error(`TreeEnsembleClassifier: ${classLabels.length} class labels for a model with ${expected} classes`);
  const { nodes, leaves } = treeEnsembleNodes(model);
  return {
    ...nodes,
    class_treeids: leaves.treeIds,
    class_nodeids: leaves.nodeIds,
    class_ids: leaves.outputIds,
    class_weights: { floats: leaves.weights },
    ...(typeof classLabels[0] === "string" ? { classlabels_strings: classLabels as readonly string[] } : { classlabels_int64s: classLabels as readonly number[] }),
    post_transform: model.objective === "logistic" ? "LOGISTIC" : "SOFTMAX",
  };
}

/** Attributes of ai.onnx.ml TreeEnsembleRegressor for a squared-error GBDT: one target, summed leaves, output [N, 1]. */
export function treeEnsembleRegressorAttributes(model: GbdtModel): Record<string, AttributeValue> {
  if (model.objective !== "squared_error") throw new Error(`TreeEnsembleRegressor: a ${model.objective} model is not a regressor`);
  const { nodes, leaves } = treeEnsembleNodes(model);
  return {
    ...nodes,
    target_treeids: leaves.treeIds,
    target_nodeids: leaves.nodeIds,
    target_ids: leaves.outputIds,
    target_weights: { floats: leaves.weights },
    n_targets: 1,
    aggregate_function: "SUM",
    post_transform: "NONE",
  };
}

/**
 * The node and leaf arrays both tree-ensemble operators share, trees numbered in boosting order and nodes in
 * depth-first order. Each output's base score is folded into the leaves of its first tree (the first round)
 * instead of `base_values`, because runtimes disagree on how a single base value applies to a binary
 * classifier's two classes; folding means the same thing everywhere.
 */
function treeEnsembleNodes(model: GbdtModel) {
  const outputs = model.baseScores.length;
  const nodes = {
    nodes_treeids: [] as number[],
    nodes_nodeids: [] as number[],
    nodes_featureids: [] as number[],
    nodes_modes: [] as string[],
    nodes_values: { floats: [] as number[] },
    nodes_truenodeids: [] as number[],
    nodes_falsenodeids: [] as number[],
  };
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], outputIds: [] as number[], weights: [] as number[] };
  model.trees.forEach((tree, treeId) => {
    const output = treeId % outputs;
    const base = treeId < outputs ? model.baseScores[output] : undefined;
    let nextId = 0;
    const visit = (node: TreeNode): number => {
      const id = nextId++;
      const at = nodes.nodes_treeids.length;
      nodes.nodes_treeids.push(treeId);
      nodes.nodes_nodeids.push(id);
      nodes.nodes_truenodeids.push(0);
      nodes.nodes_falsenodeids.push(0);
      if (node.kind === "leaf") {
        nodes.nodes_featureids.push(0);
        nodes.nodes_modes.push("LEAF");
        nodes.nodes_values.floats.push(0);
        leaves.treeIds.push(treeId);
        leaves.nodeIds.push(id);
        leaves.outputIds.push(output);
        leaves.weights.push(base === undefined ? node.value : Math.fround(node.value + base));
        return id;
      }
      nodes.nodes_featureids.push(node.feature);
      nodes.nodes_modes.push("BRANCH_LEQ");
      nodes.nodes_values.floats.push(node.threshold);
      nodes.nodes_truenodeids[at] = visit(node.left);
      nodes.nodes_falsenodeids[at] = visit(node.right);
      return id;
    };
    visit(tree);
  });
  return { nodes, leaves };
}
