// A small MLflow model directory that follows the service's model contract (one [-1,1] input per signature
// column; outputs `label` int64 [-1] and `probabilities` float32 [-1,2]), built here so serving tests do not
// depend on the demo model's training. p = sigmoid(0.001 * distance + 0.1 * hour - 3) through an optional
// stack of hidden layers (`hiddenLayers` x `hiddenWidth`) that makes the model as slow as a test needs.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { stringify } from "yaml";

export interface FixtureModelOptions {
  readonly hiddenLayers?: number;
  readonly hiddenWidth?: number;
}

export const FIXTURE_RECORD = { distance: 1200.5, hour: 17, origin: "SFO" } as const;

/** Probability the fixture model gives without hidden layers, for asserting on results. */
export function fixtureProbability(record: { distance: number; hour: number }): number {
  return 1 / (1 + Math.exp(-(0.001 * record.distance + 0.1 * record.hour - 3)));
}

export async function writeFixtureModel(dir: string, options: FixtureModelOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), buildOnnx(options));
  const inputs = [
    { type: "double", name: "distance", required: true },
    { type: "long", name: "hour", required: true },
    { type: "string", name: "origin", required: true },
  ];
  const outputs = [
    { type: "tensor", "tensor-spec": { dtype: "int64", shape: [-1] }, name: "label" },
    { type: "tensor", "tensor-spec": { dtype: "float32", shape: [-1, 2] }, name: "probabilities" },
  ];
  const mlmodel = {
    artifact_path: "model",
    flavors: { onnx: { data: "model.onnx", onnx_version: "1.10.2" } },
    signature: { inputs: JSON.stringify(inputs), outputs: JSON.stringify(outputs) },
    saved_input_example_info: { artifact_path: "input_example.json", type: "dataframe", pandas_orient: "split" },
  };
  await writeFile(join(dir, "MLmodel"), stringify(mlmodel));
  const example = { columns: Object.keys(FIXTURE_RECORD), data: [Object.values(FIXTURE_RECORD)] };
  await writeFile(join(dir, "input_example.json"), JSON.stringify(example));
  await writeFile(join(dir, "feature_spec.json"), JSON.stringify({ hour: { minimum: 0, maximum: 23 } }));
  return dir;
}

const T = onnx.TensorProto.DataType;

function valueInfo(name: string, elemType: number, dims: number[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (d < 0 ? { dimParam: "N" } : { dimValue: d })) } } },
  });
}

function floatTensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dataType: T.FLOAT, dims, floatData: values });
}

function node(opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []) {
  return onnx.NodeProto.create({ opType, input, output, attribute, name: output[0] });
}

function buildOnnx({ hiddenLayers = 0, hiddenWidth = 64 }: FixtureModelOptions): Uint8Array {
  const nodes = [
    node("Cast", ["distance"], ["distance_f"], [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }]),
    node("Cast", ["hour"], ["hour_f"], [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }]),
    node("Concat", ["distance_f", "hour_f"], ["x"], [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 }]),
  ];
  const initializers = [
    floatTensor("w", [2, 1], [0.001, 0.1]),
    floatTensor("b", [1], [-3]),
    floatTensor("one", [1], [1]),
    floatTensor("half", [1], [0.5]),
    onnx.TensorProto.create({ name: "flat", dataType: T.INT64, dims: [1], int64Data: [-1] }),
  ];
  let features = "x";
  if (hiddenLayers > 0) {
    // Hidden layers whose output is multiplied by 0 and added back: slow like an MLP, same probability.
    let h = "x";
    for (let layer = 0; layer < hiddenLayers; layer++) {
      const fanIn = layer === 0 ? 2 : hiddenWidth;
      const weights = Array.from({ length: fanIn * hiddenWidth }, (_, i) => Math.sin(i + layer) / fanIn);
      initializers.push(floatTensor(`h${layer}_w`, [fanIn, hiddenWidth], weights));
      nodes.push(node("MatMul", [h, `h${layer}_w`], [`h${layer}_mm`]), node("Relu", [`h${layer}_mm`], [`h${layer}`]));
      h = `h${layer}`;
    }
    initializers.push(floatTensor("zero_out", [hiddenWidth, 2], new Array(hiddenWidth * 2).fill(0)));
    nodes.push(node("MatMul", [h, "zero_out"], ["hidden_out"]), node("Add", ["x", "hidden_out"], ["x_mlp"]));
    features = "x_mlp";
  }
  nodes.push(
    node("MatMul", [features, "w"], ["z0"]),
    node("Add", ["z0", "b"], ["z"]),
    node("Sigmoid", ["z"], ["p"]),
    node("Sub", ["one", "p"], ["q"]),
    node("Concat", ["q", "p"], ["probabilities"], [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 }]),
    node("Greater", ["p", "half"], ["positive"]),
    node("Cast", ["positive"], ["label_2d"], [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.INT64 }]),
    node("Reshape", ["label_2d", "flat"], ["label"]),
  );
  const graph = onnx.GraphProto.create({
    name: "fixture",
    node: nodes,
    initializer: initializers,
    input: [valueInfo("distance", T.DOUBLE, [-1, 1]), valueInfo("hour", T.INT64, [-1, 1]), valueInfo("origin", T.STRING, [-1, 1])],
    output: [valueInfo("label", T.INT64, [-1]), valueInfo("probabilities", T.FLOAT, [-1, 2])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 13 }], producerName: "modelport-test", graph });
  return onnx.ModelProto.encode(model).finish();
}
