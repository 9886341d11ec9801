/**
 * Scores records with an onnxruntime-node session on the calling thread. Builds one [n, 1] tensor per
 * signature column (the Modelport model input contract) and reads the positive-class probability.
 * Also used inside inference worker threads, which is why it depends on nothing but ORT and the package.
 */
import "./onnxruntime-env";
import * as ort from "onnxruntime-node";
import type { ColumnSpec, ColumnType, ModelPackage } from "./mlmodel";
import type { FeatureRecord, Scorer, TensorMetadata } from "./types";

/** Output the probabilities are read from when present; else the first float output. */
export const PROBABILITY_OUTPUT = "probabilities";

export class ModelIoError extends Error {
  override readonly name = "ModelIoError";
}

export interface OnnxScorerOptions {
  /** ORT intra-op threads; 1 keeps one request from fanning out over every core. @default 1 */
  readonly intraOpThreads?: number;
}

export class OnnxScorer implements Scorer {
  static async load(pkg: Pick<ModelPackage, "onnxPath" | "inputs">, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    const session = await ort.InferenceSession.create(pkg.onnxPath, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    try {
      return new OnnxScorer(session, pkg.inputs);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  private readonly probabilityOutput: string;
  private readonly columns: readonly ColumnSpec[];

  private constructor(
    private readonly session: ort.InferenceSession,
    inputs: readonly ColumnSpec[],
  ) {
    const graphInputs = new Set(session.inputNames);
    const missing = inputs.filter((c) => !graphInputs.has(c.name)).map((c) => c.name);
    const extra = session.inputNames.filter((n) => !inputs.some((c) => c.name === n));
    if (missing.length > 0 || extra.length > 0) {
      throw new ModelIoError(
        `the ONNX graph inputs do not match the MLmodel signature (signature-only: [${missing.join(", ")}], graph-only: [${extra.join(", ")}]); ` +
          "Modelport expects one graph input per signature column",
      );
    }
    this.columns = inputs;
    const floatOutputs = session.outputMetadata.filter((m) => m.isTensor && (m.type === "float32" || m.type === "float64"));
    const chosen = floatOutputs.find((m) => m.name === PROBABILITY_OUTPUT) ?? floatOutputs[0];
    if (!chosen) throw new ModelIoError(`the ONNX graph has no float output to read probabilities from (outputs: ${session.outputNames.join(", ")})`);
    this.probabilityOutput = chosen.name;
  }

  async score(records: readonly FeatureRecord[]): Promise<Float32Array> {
    const n = records.length;
    const feeds: Record<string, ort.Tensor> = {};
    for (const column of this.columns) feeds[column.name] = columnTensor(column, records);
    const results = await this.session.run(feeds, [this.probabilityOutput]);
    return positiveClass(results[this.probabilityOutput]!, n);
  }

  /** Graph inputs and outputs in Open Inference Protocol terms. */
  io(): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } {
    return { inputs: this.session.inputMetadata.map(toTensorMetadata), outputs: this.session.outputMetadata.map(toTensorMetadata) };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function columnTensor(column: ColumnSpec, records: readonly FeatureRecord[]): ort.Tensor {
  const n = records.length;
  const dims = [n, 1];
  const name = column.name;
  switch (column.type) {
    case "double": {
      const data = new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = numberOr(records[i]![name], Number.NaN);
      return new ort.Tensor("float64", data, dims);
    }
    case "float": {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = numberOr(records[i]![name], Number.NaN);
      return new ort.Tensor("float32", data, dims);
    }
    case "long": {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = BigInt(numberOr(records[i]![name], 0));
      return new ort.Tensor("int64", data, dims);
    }
    case "integer": {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = numberOr(records[i]![name], 0);
      return new ort.Tensor("int32", data, dims);
    }
    case "boolean": {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = records[i]![name] === true ? 1 : 0;
      return new ort.Tensor("bool", data, dims);
    }
    case "string":
    case "binary":
    case "datetime": {
      const data = new Array<string>(n);
      for (let i = 0; i < n; i++) data[i] = String(records[i]![name] ?? "");
      return new ort.Tensor("string", data, dims);
    }
    default:
      throw new ModelIoError(`unsupported column type ${(column as { type: ColumnType }).type}`);
  }
}

function numberOr(value: unknown, missing: number): number {
  return typeof value === "number" ? value : missing;
}

/** [n, 2] -> column 1; [n] or [n, 1] -> as is. */
function positiveClass(tensor: ort.Tensor, n: number): Float32Array {
  const data = tensor.data as Float32Array | Float64Array;
  const width = n === 0 ? 0 : data.length / n;
  if (width !== 1 && width !== 2) {
    throw new ModelIoError(`probability output has ${width} values per record; expected 1 (P(positive)) or 2 (P(negative), P(positive))`);
  }
  if (width === 1 && data instanceof Float32Array) return data;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = data[i * width + width - 1]!;
  return out;
}

const ORT_TO_V2: Record<string, string> = {
  float32: "FP32",
  float64: "FP64",
  float16: "FP16",
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

function toTensorMetadata(meta: ort.InferenceSession.ValueMetadata): TensorMetadata {
  if (!meta.isTensor) return { name: meta.name, datatype: "BYTES", shape: [-1] };
  return {
    name: meta.name,
    datatype: ORT_TO_V2[meta.type] ?? meta.type.toUpperCase(),
    shape: meta.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)),
  };
}
