// Small MLflow model directories for every task and signature kind, built with onnx-proto so tests (and the
// bench) need no exporter: the graphs use the same operators and output names real exporters write (skl2onnx's
// LinearClassifier with output_label / output_probability, ZipMap, torch-style [N, F] inputs, a dynamic sequence
// length, every tensor element type). Each writer returns the directory; its basename is the model name.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { stringify } from "yaml";

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;
const utf8 = (s: string) => new TextEncoder().encode(s);

// --- graph building ------------------------------------------------------------------------------------------------

type Dim = number | string;

export function tensorInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : d < 0 ? { dimParam: "N" } : { dimValue: d })) } } },
  };
}

export function node(opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = [], domain = ""): onnx.INodeProto {
  return { opType, input, output, attribute, domain, name: `${opType}_${output[0]}` };
}

export const attr = {
  int: (name: string, i: number): onnx.IAttributeProto => ({ name, type: A.INT, i }),
  ints: (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: A.INTS, ints }),
  floats: (name: string, floats: number[]): onnx.IAttributeProto => ({ name, type: A.FLOATS, floats }),
  string: (name: string, s: string): onnx.IAttributeProto => ({ name, type: A.STRING, s: utf8(s) }),
  strings: (name: string, strings: string[]): onnx.IAttributeProto => ({ name, type: A.STRINGS, strings: strings.map(utf8) }),
};

export function floatInit(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dataType: T.FLOAT, dims, floatData: values };
}

export function int64Init(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dataType: T.INT64, dims, int64Data: values };
}

export interface GraphParts {
  readonly inputs: onnx.IValueInfoProto[];
  readonly outputs: onnx.IValueInfoProto[];
  readonly nodes: onnx.INodeProto[];
  readonly initializers?: onnx.ITensorProto[];
  readonly metadataProps?: Record<string, string>;
}

export function encodeModel(parts: GraphParts): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "modelport-test",
    opsetImport: [
      { domain: "", version: 13 },
      { domain: "ai.onnx.ml", version: 1 },
    ],
    metadataProps: Object.entries(parts.metadataProps ?? {}).map(([key, value]) => ({ key, value })),
    graph: { name: "fixture", node: parts.nodes, initializer: parts.initializers ?? [], input: parts.inputs, output: parts.outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

// --- MLflow directory ----------------------------------------------------------------------------------------------

export interface MlflowDirOptions {
  /** Column-based signature ({name, type}) or tensor-based ({name?, dtype, shape}). */
  readonly inputs: ({ name: string; type: string } | { name?: string; dtype: string; shape: number[] })[];
  readonly outputs?: { name: string; dtype: string; shape: number[] }[];
  readonly metadata?: Record<string, unknown>;
  /** Records (column models) or {"inputs": ...} (tensor models); none writes no example. */
  readonly example?: Record<string, unknown>[] | { inputs: unknown };
  readonly featureSpec?: Record<string, unknown>;
  readonly metrics?: Record<string, number>;
}

export async function writeMlflowDir(dir: string, model: Uint8Array, options: MlflowDirOptions): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), model);
  const inputs = options.inputs.map((i) =>
    "type" in i ? { type: i.type, name: i.name, required: true } : { type: "tensor", "tensor-spec": { dtype: i.dtype, shape: i.shape }, ...(i.name ? { name: i.name } : {}) },
  );
  const outputs = (options.outputs ?? []).map((o) => ({ type: "tensor", "tensor-spec": { dtype: o.dtype, shape: o.shape }, name: o.name }));
  const mlmodel: Record<string, unknown> = {
    artifact_path: "model",
    flavors: { onnx: { data: "model.onnx", onnx_version: "1.10.2" } },
    signature: { inputs: JSON.stringify(inputs), outputs: JSON.stringify(outputs) },
  };
  if (options.metadata) mlmodel.metadata = options.metadata;
  const example = options.example;
  if (example) {
    const tensor = !Array.isArray(example);
    mlmodel.saved_input_example_info = tensor
      ? { artifact_path: "input_example.json", type: "ndarray", format: "tf-serving" }
      : { artifact_path: "input_example.json", type: "dataframe", pandas_orient: "split" };
    const body = tensor ? example : { columns: Object.keys(example[0]!), data: example.map((r) => Object.values(r)) };
    await writeFile(join(dir, "input_example.json"), JSON.stringify(body));
  }
  await writeFile(join(dir, "MLmodel"), stringify(mlmodel));
  if (options.featureSpec) await writeFile(join(dir, "feature_spec.json"), JSON.stringify(options.featureSpec));
  if (options.metrics) await writeFile(join(dir, "metrics.json"), JSON.stringify(options.metrics));
  return dir;
}

// --- reference maths -----------------------------------------------------------------------------------------------

export function softmax(z: number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Scores of a linear model: W is [classes][features] row-major, b per class. */
export function linearScores(x: number[], w: number[][], b: number[]): number[] {
  return w.map((row, k) => row.reduce((s, wi, i) => s + wi * x[i]!, b[k]!));
}

// --- fixtures ------------------------------------------------------------------------------------------------------

export const FLIGHT = { distance: 1200, hour: 17 } as const;

/** [N, 2] float input `float_input` from the columns distance, hour (the [N, F] layout skl2onnx and torch write). */
const CLASSIFIER_W3 = [
  [-0.001, -0.1],
  [0.0005, 0.05],
  [0.001, 0.15],
];
const CLASSIFIER_B3 = [1.5, 0, -2.5];
export const MULTICLASS_LABELS = ["on_time", "late", "very_late"] as const;

/** skl2onnx-style multiclass: LinearClassifier, string classes, output_label + output_probability; optionally ZipMap. */
export async function writeSklearnMulticlass(dir: string, options: { zipmap?: boolean; featureOrder?: string[] } = {}): Promise<string> {
  const nodes = [
    node(
      "LinearClassifier",
      ["float_input"],
      ["output_label", options.zipmap ? "probability_tensor" : "output_probability"],
      [
        attr.floats("coefficients", CLASSIFIER_W3.flat()),
        attr.floats("intercepts", CLASSIFIER_B3),
        attr.strings("classlabels_strings", [...MULTICLASS_LABELS]),
        attr.string("post_transform", "SOFTMAX"),
        attr.int("multi_class", 1),
      ],
      "ai.onnx.ml",
    ),
  ];
  const outputs = [tensorInfo("output_label", T.STRING, ["N"])];
  if (options.zipmap) {
    nodes.push(node("ZipMap", ["probability_tensor"], ["output_probability"], [attr.strings("classlabels_strings", [...MULTICLASS_LABELS])], "ai.onnx.ml"));
    outputs.push({ name: "output_probability", type: { sequenceType: { elemType: { mapType: { keyType: T.STRING, valueType: { tensorType: { elemType: T.FLOAT } } } } } } });
  } else {
    outputs.push(tensorInfo("output_probability", T.FLOAT, ["N", 3]));
  }
  const graph = encodeModel({ inputs: [tensorInfo("float_input", T.FLOAT, ["N", 2])], outputs, nodes });
  // The signature lists hour first: the tensor's column order comes from the stored feature list.
  return writeMlflowDir(dir, graph, {
    inputs: [
      { name: "hour", type: "long" },
      { name: "distance", type: "double" },
    ],
    metadata: { "modelport.feature_columns": options.featureOrder ?? ["distance", "hour"] },
    example: [{ hour: 17, distance: 1200 }],
    featureSpec: { hour: { minimum: 0, maximum: 23 } },
    metrics: { accuracy: 0.71 },
  });
}

export function sklearnMulticlassProbabilities(r: { distance: number; hour: number }): number[] {
  return softmax(linearScores([r.distance, r.hour], CLASSIFIER_W3, CLASSIFIER_B3));
}

const BINARY_W = [
  [0.0005, 0.05],
  [-0.0005, -0.05],
];
const BINARY_B = [-0.5, 0.5];

/** skl2onnx-style binary: LinearClassifier with int classes [0, 1] on an [N, 2] input fed from two columns. */
export async function writeSklearnBinary(dir: string): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("float_input", T.FLOAT, ["N", 2])],
    outputs: [tensorInfo("output_label", T.INT64, ["N"]), tensorInfo("output_probability", T.FLOAT, ["N", 2])],
    nodes: [
      node(
        "LinearClassifier",
        ["float_input"],
        ["output_label", "output_probability"],
        [attr.floats("coefficients", BINARY_W.flat()), attr.floats("intercepts", BINARY_B), attr.ints("classlabels_ints", [0, 1]), attr.string("post_transform", "SOFTMAX")],
        "ai.onnx.ml",
      ),
    ],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [
      { name: "distance", type: "double" },
      { name: "hour", type: "long" },
    ],
    example: [{ distance: 1200, hour: 17 }],
    metrics: { accuracy: 0.66, chosen_threshold: 0.4 },
  });
}

export function sklearnBinaryPositive(r: { distance: number; hour: number }): number {
  return softmax(linearScores([r.distance, r.hour], BINARY_W, BINARY_B))[1]!;
}

const PER_COLUMN_W = [
  [0.001, 0.002, -0.001],
  [0.1, -0.05, 0.02],
];

/** Per-column inputs, `label` (argmax index) + `probabilities`, integer classes named in metadata. */
export async function writeMulticlassPerColumn(dir: string, options: { classLabels?: unknown; task?: string } = {}): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("distance", T.DOUBLE, ["N", 1]), tensorInfo("hour", T.INT64, ["N", 1])],
    outputs: [tensorInfo("label", T.INT64, ["N"]), tensorInfo("probabilities", T.FLOAT, ["N", 3])],
    initializers: [floatInit("w", [2, 3], PER_COLUMN_W.flat())],
    nodes: [
      node("Cast", ["distance"], ["d"], [attr.int("to", T.FLOAT)]),
      node("Cast", ["hour"], ["h"], [attr.int("to", T.FLOAT)]),
      node("Concat", ["d", "h"], ["x"], [attr.int("axis", 1)]),
      node("MatMul", ["x", "w"], ["z"]),
      node("Softmax", ["z"], ["probabilities"], [attr.int("axis", 1)]),
      node("ArgMax", ["probabilities"], ["label"], [attr.int("axis", 1), attr.int("keepdims", 0)]),
    ],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [
      { name: "distance", type: "double" },
      { name: "hour", type: "long" },
    ],
    metadata: { "modelport.class_labels": options.classLabels ?? [3, 5, 7], ...(options.task ? { "modelport.task": options.task } : {}) },
    example: [FLIGHT],
    featureSpec: { hour: { minimum: 0, maximum: 23 } },
  });
}

export function perColumnProbabilities(r: { distance: number; hour: number }): number[] {
  return softmax([0, 1, 2].map((k) => r.distance * PER_COLUMN_W[0]![k]! + r.hour * PER_COLUMN_W[1]![k]!));
}

/** Regression, per-column inputs, skl2onnx's `variable` [N, 1] = 0.01 distance + 2 hour - 5. */
export async function writeRegressionPerColumn(dir: string, options: { buckets?: unknown } = {}): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("distance", T.DOUBLE, ["N", 1]), tensorInfo("hour", T.INT64, ["N", 1])],
    outputs: [tensorInfo("variable", T.FLOAT, ["N", 1])],
    initializers: [floatInit("w", [2, 1], [0.01, 2]), floatInit("b", [1], [-5])],
    nodes: [
      node("Cast", ["distance"], ["d"], [attr.int("to", T.FLOAT)]),
      node("Cast", ["hour"], ["h"], [attr.int("to", T.FLOAT)]),
      node("Concat", ["d", "h"], ["x"], [attr.int("axis", 1)]),
      node("MatMul", ["x", "w"], ["z"]),
      node("Add", ["z", "b"], ["variable"]),
    ],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [
      { name: "distance", type: "double" },
      { name: "hour", type: "long" },
    ],
    metadata: { "modelport.value_buckets": options.buckets ?? [-10, 0, 10, 20, 40, 80] },
    example: [FLIGHT],
    featureSpec: { hour: { minimum: 0, maximum: 23 } },
    metrics: { mae: 4.2 },
  });
}

export const regressionValue = (r: { distance: number; hour: number }) => 0.01 * r.distance + 2 * r.hour - 5;

/** Regression with a tensor-based signature ([-1, 2] float32, torch-style) and a stored feature list. */
export async function writeRegressionTensorSignature(dir: string): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("features", T.FLOAT, ["batch", 2])],
    outputs: [tensorInfo("predictions", T.FLOAT, ["batch"])],
    initializers: [floatInit("w", [2, 1], [0.01, 2]), floatInit("b", [1], [-5]), int64Init("flat", [1], [-1])],
    nodes: [node("MatMul", ["features", "w"], ["z"]), node("Add", ["z", "b"], ["y"]), node("Reshape", ["y", "flat"], ["predictions"])],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [{ name: "features", dtype: "float32", shape: [-1, 2] }],
    outputs: [{ name: "predictions", dtype: "float32", shape: [-1] }],
    metadata: { "modelport.task": "regression", "modelport.feature_columns": ["distance", "hour"] },
    example: { inputs: { features: [[1200, 17]] } },
  });
}

export const EMBEDDING_DIM = 4;
export const VOCABULARY = 16;
export const embeddingRow = (token: number) => Array.from({ length: EMBEDDING_DIM }, (_, j) => Math.sin(token + j));

/**
 * A text-embedding-like tensor model: token ids [batch, sequence] (both dynamic) -> mean of their embeddings
 * `embedding` [batch, 4], plus `token_sum` [batch] (int64). A tensor signature with -1 dims.
 */
export async function writeEmbeddingModel(dir: string, options: { example?: boolean } = {}): Promise<string> {
  const table = Array.from({ length: VOCABULARY }, (_, t) => embeddingRow(t)).flat();
  const graph = encodeModel({
    inputs: [tensorInfo("input_ids", T.INT64, ["batch", "sequence"])],
    outputs: [tensorInfo("embedding", T.FLOAT, ["batch", EMBEDDING_DIM]), tensorInfo("token_sum", T.INT64, ["batch"])],
    initializers: [floatInit("table", [VOCABULARY, EMBEDDING_DIM], table), int64Init("axis1", [1], [1])],
    nodes: [
      node("Gather", ["table", "input_ids"], ["gathered"]),
      node("ReduceMean", ["gathered"], ["embedding"], [attr.ints("axes", [1]), attr.int("keepdims", 0)]),
      node("ReduceSum", ["input_ids", "axis1"], ["token_sum"], [attr.int("keepdims", 0)]),
    ],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [{ name: "input_ids", dtype: "int64", shape: [-1, -1] }],
    outputs: [
      { name: "embedding", dtype: "float32", shape: [-1, EMBEDDING_DIM] },
      { name: "token_sum", dtype: "int64", shape: [-1] },
    ],
    example: options.example === false ? undefined : { inputs: { input_ids: [[1, 2, 3]] } },
  });
}

export function meanEmbedding(tokens: number[]): number[] {
  const rows = tokens.map(embeddingRow);
  return Array.from({ length: EMBEDDING_DIM }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / tokens.length);
}

/** Every element type the protocol has, each passed through Identity: input x_<type> [N, 2] -> y_<type>. */
export const ZOO_TYPES = {
  fp16: T.FLOAT16,
  fp32: T.FLOAT,
  fp64: T.DOUBLE,
  int8: T.INT8,
  int16: T.INT16,
  int32: T.INT32,
  int64: T.INT64,
  uint8: T.UINT8,
  uint16: T.UINT16,
  uint32: T.UINT32,
  uint64: T.UINT64,
  bool: T.BOOL,
  bytes: T.STRING,
} as const;

export async function writeDtypeZoo(dir: string): Promise<string> {
  const names = Object.keys(ZOO_TYPES) as (keyof typeof ZOO_TYPES)[];
  const graph = encodeModel({
    inputs: names.map((n) => tensorInfo(`x_${n}`, ZOO_TYPES[n], ["N", 2])),
    outputs: names.map((n) => tensorInfo(`y_${n}`, ZOO_TYPES[n], ["N", 2])),
    nodes: names.map((n) => node("Identity", [`x_${n}`], [`y_${n}`])),
  });
  const dtypes: Record<string, string> = { fp16: "float16", fp32: "float32", fp64: "float64", bool: "bool", bytes: "str" };
  return writeMlflowDir(dir, graph, { inputs: names.map((n) => ({ name: `x_${n}`, dtype: dtypes[n] ?? n, shape: [-1, 2] })) });
}

/** A graph with no batch axis: [1, 3] float in, Relu, [1, 3] out; requests never coalesce. */
export async function writeStaticShapeModel(dir: string): Promise<string> {
  const graph = encodeModel({ inputs: [tensorInfo("x", T.FLOAT, [1, 3])], outputs: [tensorInfo("y", T.FLOAT, [1, 3])], nodes: [node("Relu", ["x"], ["y"])] });
  return writeMlflowDir(dir, graph, { inputs: [{ name: "x", dtype: "float32", shape: [1, 3] }], example: { inputs: { x: [[1, -2, 3]] } } });
}

/** Outputs that cannot be served: a sequence of tensors. */
export async function writeSequenceOutputModel(dir: string): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("x", T.FLOAT, ["N", 2])],
    outputs: [{ name: "parts", type: { sequenceType: { elemType: { tensorType: { elemType: T.FLOAT } } } } }],
    nodes: [node("SequenceConstruct", ["x", "x"], ["parts"])],
  });
  return writeMlflowDir(dir, graph, { inputs: [{ name: "x", dtype: "float32", shape: [-1, 2] }] });
}

/** A classifier whose only output is logits (not probabilities), as torch exports write it, tagged by metadata. */
export async function writeLogitsClassifier(dir: string, task: string): Promise<string> {
  const graph = encodeModel({
    inputs: [tensorInfo("distance", T.DOUBLE, ["N", 1]), tensorInfo("hour", T.INT64, ["N", 1])],
    outputs: [tensorInfo("logits", T.FLOAT, ["N", 3])],
    initializers: [floatInit("w", [2, 3], [1, 2, 3, 4, 5, 6])],
    nodes: [
      node("Cast", ["distance"], ["d"], [attr.int("to", T.FLOAT)]),
      node("Cast", ["hour"], ["h"], [attr.int("to", T.FLOAT)]),
      node("Concat", ["d", "h"], ["x"], [attr.int("axis", 1)]),
      node("MatMul", ["x", "w"], ["logits"]),
    ],
  });
  return writeMlflowDir(dir, graph, {
    inputs: [
      { name: "distance", type: "double" },
      { name: "hour", type: "long" },
    ],
    metadata: { "modelport.task": task },
    example: [FLIGHT],
  });
}

/** A compute-heavy tensor MLP (dense layers on an [N, width] input) for batching tests and the bench. */
export async function writeTensorMlp(dir: string, options: { width?: number; layers?: number } = {}): Promise<string> {
  const width = options.width ?? 256;
  const layers = options.layers ?? 4;
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let h = "x";
  for (let layer = 0; layer < layers; layer++) {
    initializers.push(floatInit(`w${layer}`, [width, width], Array.from({ length: width * width }, (_, i) => Math.sin(i + layer) / width)));
    nodes.push(node("MatMul", [h, `w${layer}`], [`m${layer}`]), node("Tanh", [`m${layer}`], [`h${layer}`]));
    h = `h${layer}`;
  }
  nodes.push(node("Identity", [h], ["embedding"]));
  const graph = encodeModel({ inputs: [tensorInfo("x", T.FLOAT, ["batch", width])], outputs: [tensorInfo("embedding", T.FLOAT, ["batch", width])], nodes, initializers });
  return writeMlflowDir(dir, graph, {
    inputs: [{ name: "x", dtype: "float32", shape: [-1, width] }],
    outputs: [{ name: "embedding", dtype: "float32", shape: [-1, width] }],
    example: { inputs: { x: [Array.from({ length: width }, (_, i) => Math.cos(i))] } },
  });
}
