/**
 * The bench's Open Inference Protocol inputs: a one-row V2 infer body for any model directory (its input example
 * as graph tensors, the way the model manager warms up), and the tensor models it builds on demand with the test
 * support's ONNX writer (an MLP with a tensor signature and a dynamic batch axis).
 */
import { join } from "node:path";
import { readModelPackage } from "../service/src/model/mlmodel";
import { readModelContract } from "../service/src/model/model-contract";
import { readOnnxGraph } from "../service/src/model/onnx-graph";
import { sliceRows } from "../service/src/model/tensors";
import { warmUpExamples } from "../service/src/model/warm-up";
import { encodeTensors } from "../service/src/v2/codec";
import { writeTensorMlp } from "../test/support/onnx-models";

/** A V2 infer body of one row: the model's input example, first row, as the graph's input tensors. */
export async function v2Body(modelDir: string): Promise<{ model: string; body: unknown }> {
  const pkg = await readModelPackage(modelDir);
  const contract = readModelContract(pkg, await readOnnxGraph(pkg.onnxPath), {});
  const { tensors } = warmUpExamples(pkg, contract).tensors;
  const firstRow = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, contract.batchAxis ? sliceRows(t, 0, 1) : t]));
  const model = modelDir.replace(/\/+$/, "").split("/").pop()!;
  return { model, body: { inputs: encodeTensors(firstRow, contract.inputs.map((i) => i.name)) } };
}

/** A light tensor MLP (the V2 comparison) and a compute-heavy one (micro-batching on/off), under `dir`. */
export async function writeBenchTensorModels(dir: string): Promise<{ light: string; heavy: string }> {
  const [light, heavy] = await Promise.all([
    writeTensorMlp(join(dir, "tensor-mlp"), { width: 32, layers: 2 }),
    writeTensorMlp(join(dir, "tensor-mlp-heavy"), { width: 256, layers: 6 }),
  ]);
  return { light, heavy };
}
