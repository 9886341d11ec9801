/**
 * What a freshly loaded version is warmed up with: its input example as graph tensors (an MLflow tensor example
 * `{"inputs": ...}`, or the column example through the version's feeds), and as records for /predict. A tensor
 * model without an example is run on zeros (dynamic dimensions: 1 row, 32 elsewhere), so a version that cannot
 * even run fails at load.
 */
import { ModelContractError } from "../tasks";
import { V2RequestError, decodeTensor } from "../v2/codec";
import { recordsToTensors, tensorsToRecords, type ColumnFeed } from "./feeds";
import type { ModelPackage } from "./mlmodel";
import { planFeeds, type ModelContract } from "./model-contract";
import { V2_DATATYPE, allocate, type GraphTensor, type HostTensor, type TensorMap } from "./tensors";
import type { FeatureRecord, TensorRequest } from "./types";

export interface WarmUpExamples {
  /** Records for /predict (versions with a column contract). */
  readonly records?: readonly FeatureRecord[];
  readonly tensors: TensorRequest;
}

/** Size given to dynamic dimensions past the batch axis when a tensor model brings no example. */
const ZERO_EXAMPLE_DIM = 32;

export function warmUpExamples(pkg: ModelPackage, contract: ModelContract): WarmUpExamples {
  const tensors = exampleTensors(pkg, contract);
  const rows = contract.batchAxis ? tensors[contract.inputs[0]!.name]!.dims[0]! : 1;
  let records: readonly FeatureRecord[] | undefined;
  if (contract.tabular) records = pkg.inputExample.length > 0 ? pkg.inputExample : tensorsToRecords(contract.scorer.feeds, tensors, rows);
  return { records, tensors: { tensors, rows } };
}

function exampleTensors(pkg: ModelPackage, contract: ModelContract): TensorMap {
  if (pkg.tensorExample) return fromTensorExample(pkg.tensorExample, contract.inputs);
  if (pkg.inputExample.length > 0) {
    const feeds = contract.scorer.feeds.length > 0 ? contract.scorer.feeds : feedsIfAny(pkg, contract);
    if (feeds) return recordsToTensors(feeds, pkg.inputExample);
  }
  return zeros(contract.inputs);
}

/** A tensor-task version with a column signature still feeds its column example, when the columns fit the graph. */
function feedsIfAny(pkg: ModelPackage, contract: ModelContract): ColumnFeed[] | undefined {
  try {
    return pkg.inputs.length > 0 ? planFeeds(pkg.inputs, contract.inputs, pkg.featureOrder) : undefined;
  } catch {
    return undefined;
  }
}

function fromTensorExample(example: Readonly<Record<string, unknown>>, inputs: readonly GraphTensor[]): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const input of inputs) {
    const value = example[input.name] ?? (inputs.length === 1 ? example[""] : undefined);
    if (value === undefined) throw new ModelContractError(`the input example has no tensor for graph input "${input.name}" (it has ${Object.keys(example).join(", ") || "none"})`);
    try {
      out[input.name] = decodeTensor(input, V2_DATATYPE[input.type], nestedShape(value), value);
    } catch (error) {
      if (error instanceof V2RequestError) throw new ModelContractError(`the input example does not fit the graph: ${error.message}`);
      throw error;
    }
  }
  return out;
}

/** Dims of nested lists, read along the first elements. */
function nestedShape(value: unknown): number[] {
  const dims: number[] = [];
  let current = value;
  while (Array.isArray(current) && dims.length < 16) {
    dims.push(current.length);
    current = current[0];
  }
  return dims;
}

function zeros(inputs: readonly GraphTensor[]): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const input of inputs) {
    const dims = input.dims.map((d, k) => (typeof d === "number" && d >= 0 ? d : k === 0 ? 1 : ZERO_EXAMPLE_DIM));
    out[input.name] = { type: input.type, dims, data: allocate(input.type, dims.reduce((a, b) => a * b, 1)) };
  }
  return out;
}
