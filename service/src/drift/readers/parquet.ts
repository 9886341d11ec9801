/**
 * Parquet via hyparquet (ZSTD, Snappy, gzip, Brotli, LZ4 via hyparquet-compressors), one row group at a time
 * and only the columns asked for: memory follows the file's row-group size, not its length. Works over any
 * random-access byte source (a local file, or S3 with ranged GETs).
 */
import { parquetMetadataAsync, parquetRead, type AsyncBuffer } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { ColumnBatch } from "./batch";

/** `wanted` undefined: every top-level column. */
export async function* readParquet(file: AsyncBuffer, wanted?: readonly string[]): AsyncGenerator<ColumnBatch> {
  const metadata = await parquetMetadataAsync(file);
  const present = new Set(metadata.schema.slice(1).map((element) => element.name));
  const columns = wanted ? wanted.filter((name) => present.has(name)) : [...present];
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const values = new Map<string, ArrayLike<unknown>>();
    if (columns.length > 0) {
      await parquetRead({
        file,
        metadata,
        columns,
        rowStart,
        rowEnd,
        compressors,
        onChunk: (chunk) => {
          // A chunk can start before rowStart (page granularity): keep exactly this row group's rows.
          const data = chunk.columnData as ArrayLike<unknown> & { slice(start: number, end: number): ArrayLike<unknown> };
          const offset = rowStart - chunk.rowStart;
          values.set(chunk.columnName, offset === 0 && data.length === rowEnd - rowStart ? data : data.slice(offset, offset + rowEnd - rowStart));
        },
      });
    }
    yield { rows: rowEnd - rowStart, malformed: 0, names: [...present], column: (name) => values.get(name) };
    rowStart = rowEnd;
  }
}
