/** Scores records with onnxruntime-node the way the service does: one [N, 1] tensor per signature column. */
import "../src/model/onnxruntime-env";
import * as ort from "onnxruntime-node";
import type { ColumnSpec } from "../src/model/mlmodel";
import { PROBABILITIES_OUTPUT } from "./flight-delay-model";

/** One thread: the model kit runs beside other work, and single-threaded runs are reproducible. */
export function createSession(model: Uint8Array | string): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" };
  return typeof model === "string" ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

export function columnFeeds(columns: readonly ColumnSpec[], records: readonly Readonly<Record<string, unknown>>[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const dims = [records.length, 1];
  for (const { name, type } of columns) {
    const values = records.map((record) => record[name]);
    switch (type) {
      case "long":
        feeds[name] = new ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v as number)), dims);
        break;
      case "integer":
        feeds[name] = new ort.Tensor("int32", Int32Array.from(values as number[]), dims);
        break;
      case "double":
        feeds[name] = new ort.Tensor("float64", Float64Array.from(values as number[]), dims);
        break;
      case "float":
        feeds[name] = new ort.Tensor("float32", Float32Array.from(values as number[]), dims);
        break;
      case "string":
        feeds[name] = new ort.Tensor("string", values as string[], dims);
        break;
      case "boolean":
        feeds[name] = new ort.Tensor("bool", Uint8Array.from(values as boolean[], Number), dims);
        break;
      default:
        throw new Error(`column "${name}": type ${type} cannot be fed to ONNX`);
    }
  }
  return feeds;
}

/** P(positive class) per record, scoring in chunks so millions of rows do not build one giant tensor. */
export async function positiveProbabilities(
  session: ort.InferenceSession,
  columns: readonly ColumnSpec[],
  records: readonly Readonly<Record<string, unknown>>[],
  chunk = 8192,
): Promise<Float32Array> {
  const { data } = await scoreOutput(session, columns, records, PROBABILITIES_OUTPUT, chunk);
  return Float32Array.from({ length: records.length }, (_, i) => data[2 * i + 1]);
}

/** One numeric output for every record, row-major: `width` values per record (e.g. [N, K] probabilities, [N, 1] values). */
export async function scoreOutput(
  session: ort.InferenceSession,
  columns: readonly ColumnSpec[],
  records: readonly Readonly<Record<string, unknown>>[],
  output: string,
  chunk = 8192,
): Promise<{ readonly data: Float32Array; readonly width: number }> {
  let out = new Float32Array(0);
  let width = 0;
  for (let start = 0; start < records.length; start += chunk) {
    const tensor = (await session.run(columnFeeds(columns, records.slice(start, start + chunk)), [output]))[output];
    const values = tensor.data as Float32Array;
    if (start === 0) {
      width = values.length / tensor.dims[0];
      out = new Float32Array(records.length * width);
    }
    out.set(values, start * width);
  }
  return { data: out, width };
}
