/**
 * Parquet via hyparquet (ZSTD, Snappy, gzip, Brotli, LZ4 via hyparquet-compressors), one row group at a time
 * and only the columns asked for: memory follows the file's row-group size, not its length. Works over any
 * random-access byte source (a local file, or S3 with ranged GETs).
 */
import { parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { ColumnBatch } from "./batch";

/** `wanted` undefined: every top-level column. */
export async function* readParquet(file: AsyncBuffer, wanted?: readonly string[]): AsyncGenerator<ColumnBatch> {
  const metadata = await parquetMetadataAsync(file);
  for (let group = 0; group < metadata.row_groups.length; group++) yield await readParquetRowGroup(file, metadata, group, wanted);
}

/** Top-level column names of a file's schema. */
export function parquetColumnNames(metadata: FileMetaData): string[] {
  return metadata.schema.slice(1).map((element) => element.name);
}

/** First row (in the file) of each row group. */
export function rowGroupStarts(metadata: FileMetaData): number[] {
  const starts: number[] = [];
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    starts.push(rowStart);
    rowStart += Number(group.num_rows);
  }
  return starts;
}

/** One row group's rows (the columns asked for that the file has), so callers can split a file by row group. */
export async function readParquetRowGroup(file: AsyncBuffer, metadata: FileMetaData, group: number, wanted?: readonly string[]): Promise<ColumnBatch> {
  const present = parquetColumnNames(metadata);
  const columns = wanted ? wanted.filter((name) => present.includes(name)) : present;
  const rowStart = rowGroupStarts(metadata)[group]!;
  const rowEnd = rowStart + Number(metadata.row_groups[group]!.num_rows);
  const chunks = new Map<string, Array<{ rowStart: number; data: ArrayLike<unknown> }>>();
  if (columns.length > 0 && rowEnd > rowStart) {
    await parquetRead({
      file,
      metadata,
      columns,
      rowStart,
      rowEnd,
      compressors,
      // One call per page: a column chunk of several pages comes in several pieces.
      onChunk: (chunk) => chunks.set(chunk.columnName, [...(chunks.get(chunk.columnName) ?? []), { rowStart: chunk.rowStart, data: chunk.columnData as ArrayLike<unknown> }]),
    });
  }
  const values = new Map<string, ArrayLike<unknown>>();
  for (const [name, pieces] of chunks) values.set(name, rowGroupValues(pieces, rowStart, rowEnd));
  return { rows: rowEnd - rowStart, malformed: 0, names: present, column: (name) => values.get(name) };
}

/** A row group's values of one column from its pages' pieces (a piece can start before rowStart: page granularity). */
function rowGroupValues(pieces: ReadonlyArray<{ rowStart: number; data: ArrayLike<unknown> }>, rowStart: number, rowEnd: number): ArrayLike<unknown> {
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  if (only && only.rowStart === rowStart && only.data.length === rowEnd - rowStart) return only.data;
  const values = new Array<unknown>(rowEnd - rowStart);
  for (const { rowStart: start, data } of pieces) {
    for (let i = Math.max(0, rowStart - start); i < data.length && start + i < rowEnd; i++) values[start + i - rowStart] = data[i];
  }
  return values;
}
