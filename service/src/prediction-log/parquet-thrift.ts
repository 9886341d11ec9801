/**
 * Parquet's page headers and footer in Thrift's compact protocol, for the prediction log's file writer
 * (parquet-file.ts). Field ids and enum values are parquet-format's parquet.thrift:
 * https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
 * and the encoding is Thrift's compact protocol:
 * https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */
import type { SchemaElement } from "hyparquet";
import { ByteSink } from "./byte-sink";

const PHYSICAL_TYPE = { BOOLEAN: 0, INT32: 1, INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
export type PhysicalType = keyof typeof PHYSICAL_TYPE;
const ENCODING = { PLAIN: 0, RLE: 3, DELTA_BINARY_PACKED: 5, RLE_DICTIONARY: 8 } as const;
export type Encoding = keyof typeof ENCODING;
const REPETITION = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
const CONVERTED = { UTF8: 0, TIMESTAMP_MILLIS: 9 } as const;
const PAGE = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;
const CODEC_SNAPPY = 1;

// Compact protocol field types.
const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

/** Writes one struct's fields in increasing id order; nested structs through struct(). */
class CompactWriter {
  private last: number[] = [0];

  constructor(readonly out: ByteSink) {}

  private header(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1]!;
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.out.varint(zigzag(id));
    }
    this.last[this.last.length - 1] = id;
  }

  i32(id: number, value: number): this {
    this.header(id, T.I32);
    this.out.varint(zigzag(value));
    return this;
  }

  i64(id: number, value: number | bigint): this {
    this.header(id, T.I64);
    this.out.varbigint(zigzagBig(BigInt(value)));
    return this;
  }

  bool(id: number, value: boolean): this {
    this.header(id, value ? T.TRUE : T.FALSE);
    return this;
  }

  binary(id: number, value: Uint8Array | string): this {
    this.header(id, T.BINARY);
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    this.out.varint(bytes.length);
    this.out.bytes(bytes);
    return this;
  }

  struct(id: number, fields: (w: CompactWriter) => void): this {
    this.header(id, T.STRUCT);
    this.nested(fields);
    return this;
  }

  /** A list of i32, binary (strings) or structs. */
  list<V>(id: number, type: "i32" | "binary" | "struct", values: readonly V[], each?: (w: CompactWriter, value: V) => void): this {
    this.header(id, T.LIST);
    const element = type === "i32" ? T.I32 : type === "binary" ? T.BINARY : T.STRUCT;
    if (values.length < 15) this.out.byte((values.length << 4) | element);
    else {
      this.out.byte(0xf0 | element);
      this.out.varint(values.length);
    }
    for (const value of values) {
      if (type === "i32") this.out.varint(zigzag(value as number));
      else if (type === "binary") {
        const bytes = new TextEncoder().encode(value as string);
        this.out.varint(bytes.length);
        this.out.bytes(bytes);
      } else this.nested((w) => each!(w, value));
    }
    return this;
  }

  /** A struct's fields and its stop byte, field ids counted afresh inside. */
  nested(fields: (w: CompactWriter) => void): void {
    this.last.push(0);
    fields(this);
    this.last.pop();
    this.out.byte(0);
  }
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function zigzagBig(value: bigint): bigint {
  return value >= 0n ? value << 1n : (-value << 1n) - 1n;
}

export interface Statistics {
  readonly nullCount: number;
  /** Plain-encoded bounds (byte-wise order for strings), absent when there are no values. */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

export interface DataPageHeader {
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  /** Values including nulls. */
  readonly values: number;
  readonly encoding: Encoding;
}

/** A DATA_PAGE (v1) header: definition levels RLE, no repetition levels. */
export function writeDataPageHeader(out: ByteSink, page: DataPageHeader): void {
  new CompactWriter(out).nested((w) => {
    w.i32(1, PAGE.DATA_PAGE).i32(2, page.uncompressedSize).i32(3, page.compressedSize);
    w.struct(5, (h) => h.i32(1, page.values).i32(2, ENCODING[page.encoding]).i32(3, ENCODING.RLE).i32(4, ENCODING.RLE));
  });
}

export function writeDictionaryPageHeader(out: ByteSink, page: { uncompressedSize: number; compressedSize: number; values: number }): void {
  new CompactWriter(out).nested((w) => {
    w.i32(1, PAGE.DICTIONARY_PAGE).i32(2, page.uncompressedSize).i32(3, page.compressedSize);
    w.struct(7, (h) => h.i32(1, page.values).i32(2, ENCODING.PLAIN));
  });
}

export interface ColumnChunkMeta {
  readonly type: PhysicalType;
  readonly name: string;
  readonly encodings: readonly Encoding[];
  readonly values: number;
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  /** File offsets of the first data page and of the dictionary page. */
  readonly dataPageOffset: number;
  readonly dictionaryPageOffset?: number;
  readonly statistics?: Statistics;
}

export interface RowGroupMeta {
  readonly rows: number;
  readonly columns: readonly ColumnChunkMeta[];
}

/** The footer's FileMetaData (what follows the row groups, before its length and the closing magic). */
export function writeFileMetaData(out: ByteSink, schema: readonly SchemaElement[], rowGroups: readonly RowGroupMeta[], createdBy: string): void {
  new CompactWriter(out).nested((w) => {
    w.i32(1, 1);
    w.list(2, "struct", schema, schemaElement);
    w.i64(3, rowGroups.reduce((total, group) => total + group.rows, 0));
    w.list(4, "struct", rowGroups, rowGroup);
    w.binary(6, createdBy);
  });
}

function schemaElement(w: CompactWriter, e: SchemaElement): void {
  if (e.type) w.i32(1, PHYSICAL_TYPE[e.type as PhysicalType]);
  if (e.repetition_type) w.i32(3, REPETITION[e.repetition_type]);
  w.binary(4, e.name);
  if (e.num_children !== undefined) w.i32(5, e.num_children);
  if (e.converted_type) w.i32(6, CONVERTED[e.converted_type as keyof typeof CONVERTED]);
}

function rowGroup(w: CompactWriter, group: RowGroupMeta): void {
  const start = group.columns[0] ? chunkStart(group.columns[0]) : 0;
  w.list(1, "struct", group.columns, columnChunk);
  w.i64(2, group.columns.reduce((total, c) => total + c.uncompressedSize, 0));
  w.i64(3, group.rows);
  w.i64(5, start);
  w.i64(6, group.columns.reduce((total, c) => total + c.compressedSize, 0));
}

function chunkStart(c: ColumnChunkMeta): number {
  return c.dictionaryPageOffset ?? c.dataPageOffset;
}

function columnChunk(w: CompactWriter, c: ColumnChunkMeta): void {
  w.i64(2, chunkStart(c));
  w.struct(3, (m) => {
    m.i32(1, PHYSICAL_TYPE[c.type]);
    m.list(2, "i32", c.encodings.map((e) => ENCODING[e]));
    m.list(3, "binary", [c.name]);
    m.i32(4, CODEC_SNAPPY);
    m.i64(5, c.values).i64(6, c.uncompressedSize).i64(7, c.compressedSize);
    m.i64(9, c.dataPageOffset);
    if (c.dictionaryPageOffset !== undefined) m.i64(11, c.dictionaryPageOffset);
    const stats = c.statistics;
    if (stats)
      m.struct(12, (s) => {
        s.i64(3, stats.nullCount);
        if (stats.max) s.binary(5, stats.max);
        if (stats.min) s.binary(6, stats.min);
      });
  });
}
