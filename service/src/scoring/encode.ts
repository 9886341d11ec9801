/** A scored block's columns in the output's format: a Parquet row group or CSV lines (the header is the main thread's). */
import type { SchemaElement } from "hyparquet";
import type { ScoredColumn } from "./batch-scorer";
import { csvRows } from "./csv-writer";
import { encodeGeneratedColumn, generatedValues, isGenerated } from "./generated-columns";
import { concatRowGroups, encodeRowGroup, type EncodedRowGroup } from "./parquet-chunks";
import { parquetSchema, type OutputColumn, type OutputFormat } from "./plan";
import type { EncodedChunk } from "./protocol";

export function encodeChunk(format: OutputFormat, columns: readonly OutputColumn[], values: readonly ScoredColumn[], rows: number): EncodedChunk | undefined {
  if (rows === 0) return undefined;
  if (format === "csv") return { format, rows, bytes: new TextEncoder().encode(csvRows(values.map(asArray), rows)) };
  return { format, rows, ...encodeParquetColumns(columns, values, rows) };
}

/** The columns as one row group: runs of computed columns through hyparquet-writer, generated ones by generated-columns.ts. */
export function encodeParquetColumns(columns: readonly OutputColumn[], values: readonly ScoredColumn[], rows: number): EncodedRowGroup {
  const parts: EncodedRowGroup[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length > 0) parts.push(encodeOrdinary(run.map((k) => columns[k]!), run.map((k) => values[k] as ArrayLike<unknown>)));
    run = [];
  };
  for (let k = 0; k < columns.length; k++) {
    const column = values[k]!;
    if (!isGenerated(column)) run.push(k);
    else {
      flush();
      parts.push(encodeGeneratedColumn(columns[k]!.name, column));
    }
  }
  flush();
  return parts.length === 1 ? parts[0]! : concatRowGroups(parts, rows);
}

function encodeOrdinary(columns: readonly OutputColumn[], values: readonly ArrayLike<unknown>[]): EncodedRowGroup {
  return encodeRowGroup(
    parquetSchema(columns),
    columns.map((c, k) => ({
      name: c.name,
      data: parquetValues(c.element, values[k]!) as unknown[],
      // Text min/max cost more to compute than the column to encode; numbers keep theirs (row-group pruning).
      statistics: c.element.type !== "BYTE_ARRAY",
      // Scores are all but distinct: a dictionary would be tried on a sample and given up.
      ...(isScore(c) ? { encoding: "PLAIN" as const } : {}),
    })),
  );
}

function isScore(column: OutputColumn): boolean {
  const kind = column.source.kind;
  return kind === "probability" || kind === "class" || kind === "value";
}

function asArray(values: ScoredColumn): ArrayLike<unknown> {
  return isGenerated(values) ? generatedValues(values) : values;
}

/** hyparquet-writer takes INT64 as bigint; the scorer's numbers (parsed text, record values) become bigint here. */
function parquetValues(element: SchemaElement, values: ArrayLike<unknown>): ArrayLike<unknown> {
  const plainInt64 = element.type === "INT64" && !element.logical_type && !element.converted_type;
  if (!plainInt64 || values instanceof BigInt64Array || (values.length > 0 && typeof values[0] === "bigint")) return values;
  return Array.from(values, (v) => (typeof v === "number" ? BigInt(v) : v));
}
