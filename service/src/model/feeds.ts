/**
 * How named columns feed a graph: each graph input is fed by one column (the skl2onnx / Modelport layout, an
 * [N, 1] or [N] tensor per column) or by several in a stated order (one [N, F] tensor, the torch / onnxmltools
 * layout). Values are converted to the graph input's element type, not the column's, so a double column can feed
 * a float32 tensor. Used by the scorers (records -> tensors) and by the V2 path (tensors -> records, to validate
 * against the feature spec and to log features).
 */
import type { ColumnType } from "./mlmodel";
import { allocate, getElement, toHalf, type HostTensor, type TensorData, type TensorMap, type TensorType } from "./tensors";
import type { FeatureRecord } from "./types";

export interface ColumnFeed {
  /** Graph input name. */
  readonly input: string;
  /** The graph input's element type. */
  readonly type: TensorType;
  /** 1: the graph input is [N]; 2: [N, columns.length]. */
  readonly rank: 1 | 2;
  /** Columns in tensor order. */
  readonly columns: readonly { readonly name: string; readonly type: ColumnType }[];
}

/** Tensor data for one graph input from records: row-major, `columns.length` values per record. */
export function columnData(feed: ColumnFeed, records: readonly FeatureRecord[]): TensorData {
  const n = records.length;
  const columns = feed.columns;
  const width = columns.length;
  const data = allocate(feed.type, n * width);
  for (let j = 0; j < width; j++) {
    const name = columns[j]!.name;
    switch (feed.type) {
      case "string": {
        const out = data as string[];
        for (let i = 0; i < n; i++) out[i * width + j] = stringOf(records[i]![name]);
        break;
      }
      case "int64":
      case "uint64": {
        const out = data as BigInt64Array;
        for (let i = 0; i < n; i++) out[i * width + j] = BigInt(Math.trunc(numberOf(records[i]![name], 0)));
        break;
      }
      case "float16": {
        const out = data as Uint16Array;
        for (let i = 0; i < n; i++) out[i * width + j] = toHalf(numberOf(records[i]![name], Number.NaN));
        break;
      }
      case "float32":
      case "float64": {
        const out = data as Float64Array;
        for (let i = 0; i < n; i++) out[i * width + j] = numberOf(records[i]![name], Number.NaN);
        break;
      }
      default: {
        // Integers and bool: a missing optional value is 0 (integers have no NaN).
        const out = data as Int32Array;
        for (let i = 0; i < n; i++) out[i * width + j] = numberOf(records[i]![name], 0);
      }
    }
  }
  return data;
}

export function columnDims(feed: ColumnFeed, rows: number): number[] {
  return feed.rank === 1 ? [rows] : [rows, feed.columns.length];
}

/** The graph inputs for records, as host tensors. */
export function recordsToTensors(feeds: readonly ColumnFeed[], records: readonly FeatureRecord[]): TensorMap {
  const out: Record<string, HostTensor> = {};
  for (const feed of feeds) out[feed.input] = { type: feed.type, dims: columnDims(feed, records.length), data: columnData(feed, records) };
  return out;
}

/** Records from graph-input tensors (rows along dimension 0), typed as the columns are (numbers, booleans, strings). */
export function tensorsToRecords(feeds: readonly ColumnFeed[], tensors: TensorMap, rows: number): FeatureRecord[] {
  const records = Array.from({ length: rows }, () => ({}) as Record<string, unknown>);
  for (const feed of feeds) {
    const tensor = tensors[feed.input];
    if (!tensor) continue;
    const width = feed.columns.length;
    feed.columns.forEach((column, j) => {
      for (let i = 0; i < rows; i++) records[i]![column.name] = asColumnValue(getElement(tensor, i * width + j), column.type);
    });
  }
  return records;
}

function asColumnValue(value: number | string | boolean, type: ColumnType): unknown {
  if (type === "boolean") return value === true || value === 1;
  return value;
}

function numberOf(value: unknown, missing: number): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return missing;
}

function stringOf(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}
