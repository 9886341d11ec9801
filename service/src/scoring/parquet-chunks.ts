/**
 * Parquet output written in parallel: each scoring worker encodes its own row group with hyparquet-writer's
 * ParquetWriter (into memory, offsets counted from 0), and the main thread appends the encoded row groups in
 * order, shifting the byte offsets in their metadata, then writes one footer. hyparquet-writer's ParquetWriter
 * writes row groups incrementally itself, but it encodes on the calling thread; done this way the encoding runs
 * on every core and the main thread only copies bytes. Page indexes and bloom filters (whose offsets would also
 * need moving) are left out; readers seek by row group.
 */
import type { ColumnChunk, KeyValue, RowGroup, SchemaElement } from "hyparquet";
import { ByteWriter, ParquetWriter, type ColumnSource } from "hyparquet-writer";

/** Bytes of the "PAR1" magic that starts a file (and a standalone row-group encoding). */
const MAGIC_BYTES = 4;

export interface EncodedRowGroup {
  /** The row group's column chunks, offsets counted from the start of `bytes`. */
  readonly rowGroup: RowGroup;
  readonly bytes: Uint8Array;
}

/** Encodes `columns` (one array each, same length, in schema order) as one row group. */
export function encodeRowGroup(schema: readonly SchemaElement[], columns: readonly ColumnSource[]): EncodedRowGroup {
  const writer = new ByteWriter(1 << 16);
  const parquet = new ParquetWriter({ writer, schema: [...schema] });
  const rows = columns[0]?.data.length ?? 0;
  void parquet.write({ columnData: columns.map((c) => ({ ...c, offsetIndex: false })), rowGroupSize: Math.max(rows, 1) });
  const rowGroup = shiftRowGroup(parquet.row_groups[0]!, -MAGIC_BYTES);
  return { rowGroup, bytes: writer.getBytes().slice(MAGIC_BYTES) };
}

function shiftRowGroup(group: RowGroup, by: number): RowGroup {
  const delta = BigInt(by);
  const shift = (offset: bigint | undefined) => (offset === undefined ? undefined : offset + delta);
  const columns = group.columns.map(
    (chunk): ColumnChunk => ({
      ...chunk,
      file_offset: chunk.file_offset + delta,
      meta_data: chunk.meta_data && {
        ...chunk.meta_data,
        data_page_offset: chunk.meta_data.data_page_offset + delta,
        dictionary_page_offset: shift(chunk.meta_data.dictionary_page_offset),
        index_page_offset: shift(chunk.meta_data.index_page_offset),
      },
    }),
  );
  return { ...group, columns, file_offset: shift(group.file_offset) };
}

/**
 * A column chunk of an input file, taken over byte for byte (pages, dictionary, statistics): a carried input
 * column of a row group in which every row was scored needs no decoding and re-encoding to be written again.
 * `bytes` are the chunk's bytes from its first page; the page index and bloom filter are not carried.
 */
export function chunkRange(chunk: ColumnChunk): { start: number; end: number } {
  const meta = chunk.meta_data!;
  const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
  return { start, end: start + Number(meta.total_compressed_size) };
}

/** One row group from parts laid end to end (copied input chunks, then the scorer's encoded columns). */
export function concatRowGroups(parts: readonly EncodedRowGroup[], rows: number): EncodedRowGroup {
  const bytes = new Uint8Array(parts.reduce((sum, p) => sum + p.bytes.byteLength, 0));
  const columns: ColumnChunk[] = [];
  let at = 0;
  let uncompressed = 0n;
  for (const part of parts) {
    bytes.set(part.bytes, at);
    for (const chunk of shiftRowGroup(part.rowGroup, at).columns) {
      columns.push(chunk);
      uncompressed += chunk.meta_data?.total_uncompressed_size ?? 0n;
    }
    at += part.bytes.byteLength;
  }
  return { bytes, rowGroup: { columns, num_rows: BigInt(rows), total_byte_size: uncompressed, total_compressed_size: BigInt(at) } };
}

/** An input column chunk as a part of concatRowGroups: its offsets moved to 0, its indexes dropped. */
export function copiedChunk(chunk: ColumnChunk, bytes: Uint8Array, rows: number): EncodedRowGroup {
  const { start } = chunkRange(chunk);
  const meta = chunk.meta_data!;
  const { bloom_filter_offset: _bloom, bloom_filter_length: _bloomLength, ...kept } = meta;
  const moved: ColumnChunk = {
    file_offset: 0n,
    meta_data: {
      ...kept,
      data_page_offset: meta.data_page_offset - BigInt(start),
      dictionary_page_offset: meta.dictionary_page_offset === undefined ? undefined : meta.dictionary_page_offset - BigInt(start),
      index_page_offset: undefined,
    },
  };
  return { bytes, rowGroup: { columns: [moved], num_rows: BigInt(rows), total_byte_size: meta.total_uncompressed_size, total_compressed_size: meta.total_compressed_size } };
}

/** Where the assembled file's bytes go, in order; a returned promise holds the next append (backpressure). */
export type ByteSink = (bytes: Uint8Array) => Promise<void>;

/** Appends encoded row groups to one file and closes it with the footer. */
export class ParquetAssembler {
  private readonly writer = new ByteWriter(1 << 16);
  private readonly parquet: ParquetWriter;

  constructor(
    private readonly sink: ByteSink,
    schema: readonly SchemaElement[],
    keyValues: readonly KeyValue[] = [],
  ) {
    this.parquet = new ParquetWriter({ writer: this.writer, schema: [...schema], kvMetadata: [...keyValues], createdBy: "modelport batch scoring" });
  }

  /** Rows appended so far. */
  get rows(): number {
    return Number(this.parquet.num_rows);
  }

  async append(encoded: EncodedRowGroup): Promise<void> {
    // Everything before this row group has gone to the sink; the writer only counts the offset.
    await this.drain();
    const at = this.writer.offset;
    this.parquet.row_groups.push(shiftRowGroup(encoded.rowGroup, at));
    this.parquet.num_rows += encoded.rowGroup.num_rows;
    this.writer.offset += encoded.bytes.byteLength;
    await this.sink(encoded.bytes);
  }

  async finish(): Promise<void> {
    await this.drain();
    void this.parquet.finish();
    await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.writer.index === 0) return;
    const bytes = this.writer.getBytes().slice();
    this.writer.index = 0;
    await this.sink(bytes);
  }
}
