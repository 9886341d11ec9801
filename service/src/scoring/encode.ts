/** A scored block's columns in the output's format: a Parquet row group or CSV lines (the header is the main thread's). */
import type { SchemaElement } from "hyparquet";
import { csvRows } from "./csv-writer";
import { encodeRowGroup, type EncodedRowGroup } from "./parquet-chunks";
import { parquetSchema, type OutputColumn, type OutputFormat } from "./plan";
import type { EncodedChunk } from "./protocol";

export function encodeChunk(format: OutputFormat, columns: readonly OutputColumn[], values: readonly ArrayLike<unknown>[], rows: number): EncodedChunk | undefined {
  if (rows === 0) return undefined;
  if (format === "csv") return { format, rows, bytes: new TextEncoder().encode(csvRows(values, rows)) };
  return { format, rows, ...encodeParquetColumns(columns, values) };
}

export function encodeParquetColumns(columns: readonly OutputColumn[], values: readonly ArrayLike<unknown>[]): EncodedRowGroup {
  return encodeRowGroup(
    parquetSchema(columns),
    columns.map((c, k) => ({
      name: c.name,
      data: parquetValues(c.element, values[k]!) as unknown[],
      // Text min/max cost more to compute than the column to encode; numbers keep theirs (row-group pruning).
      statistics: c.element.type !== "BYTE_ARRAY",
      // Ids are all distinct: no dictionary to try.
      ...(c.source.kind === "predictionId" ? { encoding: "PLAIN" as const } : {}),
    })),
  );
}

/** hyparquet-writer takes INT64 as bigint; the scorer's numbers (parsed text, record values) become bigint here. */
function parquetValues(element: SchemaElement, values: ArrayLike<unknown>): ArrayLike<unknown> {
  const plainInt64 = element.type === "INT64" && !element.logical_type && !element.converted_type;
  if (!plainInt64 || values instanceof BigInt64Array || (values.length > 0 && typeof values[0] === "bigint")) return values;
  return Array.from(values, (v) => (typeof v === "number" ? BigInt(v) : v));
}
