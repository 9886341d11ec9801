/**
 * The columns the scorer generates rather than computes, encoded here as Parquet column chunks instead of by
 * hyparquet-writer's generic encoder, which wants one JS value per row:
 * - prediction ids: building a row group's 36-byte ids as Uint8Array views, then PLAIN + Snappy, took about a
 *   tenth of the scorer's CPU (0.9 µs a row, measured). A block's ids are one prefix and
 *   ascending row indexes, so DELTA_BYTE_ARRAY (each value as the length it shares with the one before plus the
 *   rest: Parquet's encoding for sorted strings, read by Arrow, DuckDB, Spark, Trino/Athena and hyparquet) is
 *   written from the row indexes directly, in under 2 bytes a row;
 * - the model name and version, the same text on every row: a one-entry dictionary page and one RLE run, as
 *   hyparquet-writer would write them after building a dictionary over every row.
 * Pages are data page v2, uncompressed (they are small), without statistics, like the writer's own pages.
 * https://parquet.apache.org/docs/file-format/data-pages/encodings/
 */
import type { ColumnChunk, Encoding } from "hyparquet";
import { ByteWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { deltaBinaryPack } from "hyparquet-writer/src/delta.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { ID_LENGTH, ID_PREFIX_LENGTH, predictionId } from "./ids";
import type { EncodedRowGroup } from "./parquet-chunks";

const DIGITS = ID_LENGTH - ID_PREFIX_LENGTH;
const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
/** 16^6: a row index below 2^48 as two 24-bit halves, each exact in int32 arithmetic. */
const HALF = 0x100_0000;

/** The ids of a block's scored rows: one prefix (model, version, input) and each row's index in the input. */
export class PredictionIds {
  constructor(
    readonly prefix: string,
    /** Ascending row indexes (below MAX_ID_ROWS). */
    readonly rows: Float64Array,
  ) {
    if (prefix.length !== ID_PREFIX_LENGTH) throw new Error(`a prediction id prefix has ${ID_PREFIX_LENGTH} characters, not ${prefix.length}`);
  }

  get length(): number {
    return this.rows.length;
  }

  /** Row j's id as text (what CSV output and every reader of the Parquet column see). */
  at(j: number): string {
    return predictionId(this.prefix, this.rows[j]!);
  }
}

/** One text on every row of a block (the model's name, its version). */
export class ConstantText {
  constructor(
    readonly value: string,
    readonly length: number,
  ) {}
}

export type GeneratedColumn = PredictionIds | ConstantText;

export function isGenerated(values: unknown): values is GeneratedColumn {
  return values instanceof PredictionIds || values instanceof ConstantText;
}

/** The values as a plain array (CSV output). */
export function generatedValues(values: GeneratedColumn): string[] {
  if (values instanceof ConstantText) return new Array<string>(values.length).fill(values.value);
  return Array.from({ length: values.length }, (_, j) => values.at(j));
}

/** The column chunk `name` (a REQUIRED UTF8 BYTE_ARRAY) holding `values`, offsets counted from 0. */
export function encodeGeneratedColumn(name: string, values: GeneratedColumn): EncodedRowGroup {
  return values instanceof PredictionIds ? encodePredictionIds(name, values) : encodeConstantText(name, values);
}

function encodeConstantText(name: string, column: ConstantText): EncodedRowGroup {
  const text = new TextEncoder().encode(column.value);
  const dictionary = new ByteWriter(text.length + 4);
  dictionary.appendUint32(text.length);
  dictionary.appendBytes(text);
  const writer = new ByteWriter(text.length + 128);
  writePageHeader(writer, {
    type: "DICTIONARY_PAGE",
    uncompressed_page_size: dictionary.offset,
    compressed_page_size: dictionary.offset,
    dictionary_page_header: { num_values: 1, encoding: "PLAIN" },
  });
  writer.appendBytes(dictionary.getBytes());
  const dataStart = writer.offset;
  const indexes = new ByteWriter(16);
  indexes.appendUint8(0); // bit width: every index is 0
  writeRleBitPackedHybrid(indexes, new Uint8Array(column.length), 0);
  writeDataPage(writer, column.length, "RLE_DICTIONARY", indexes);
  return chunkOf(name, writer, column.length, ["PLAIN", "RLE_DICTIONARY"], { dictionaryPage: true, dataStart });
}

function encodePredictionIds(name: string, ids: PredictionIds): EncodedRowGroup {
  const n = ids.length;
  const digits = hexDigits(ids.rows);
  const prefixLengths = new Int32Array(n);
  const suffixLengths = new Int32Array(n);
  const suffixes = new Uint8Array(n === 0 ? 0 : ID_LENGTH + (n - 1) * DIGITS);
  let at = 0;
  if (n > 0) {
    suffixLengths[0] = ID_LENGTH;
    for (let c = 0; c < ID_PREFIX_LENGTH; c++) suffixes[at++] = ids.prefix.charCodeAt(c);
    suffixes.set(digits.subarray(0, DIGITS), at);
    at += DIGITS;
  }
  for (let j = 1; j < n; j++) {
    const row = j * DIGITS;
    let shared = 0;
    while (shared < DIGITS && digits[row + shared] === digits[row - DIGITS + shared]) shared++;
    prefixLengths[j] = ID_PREFIX_LENGTH + shared;
    suffixLengths[j] = DIGITS - shared;
    for (let d = shared; d < DIGITS; d++) suffixes[at++] = digits[row + d]!;
  }
  const page = new ByteWriter(at + 1024);
  deltaBinaryPack(page, prefixLengths, "INT32");
  deltaBinaryPack(page, suffixLengths, "INT32");
  page.appendBytes(suffixes.subarray(0, at));
  const writer = new ByteWriter(page.offset + 64);
  writeDataPage(writer, n, "DELTA_BYTE_ARRAY", page);
  return chunkOf(name, writer, n, ["DELTA_BYTE_ARRAY"], { dictionaryPage: false, dataStart: 0 });
}

/** A data page v2 of a REQUIRED column (no levels), uncompressed. */
function writeDataPage(writer: ByteWriter, rows: number, encoding: Encoding, data: ByteWriter): void {
  writePageHeader(writer, {
    type: "DATA_PAGE_V2",
    uncompressed_page_size: data.offset,
    compressed_page_size: data.offset,
    data_page_header_v2: {
      num_values: rows,
      num_nulls: 0,
      num_rows: rows,
      encoding,
      definition_levels_byte_length: 0,
      repetition_levels_byte_length: 0,
      is_compressed: false,
    },
  });
  writer.appendBytes(data.getBytes());
}

function chunkOf(name: string, writer: ByteWriter, rows: number, encodings: Encoding[], pages: { dictionaryPage: boolean; dataStart: number }): EncodedRowGroup {
  const size = BigInt(writer.offset);
  const chunk: ColumnChunk = {
    file_offset: 0n,
    meta_data: {
      type: "BYTE_ARRAY",
      encodings,
      path_in_schema: [name],
      codec: "UNCOMPRESSED",
      num_values: BigInt(rows),
      total_uncompressed_size: size,
      total_compressed_size: size,
      data_page_offset: BigInt(pages.dataStart),
      dictionary_page_offset: pages.dictionaryPage ? 0n : undefined,
    },
  };
  return { bytes: writer.getBytes().slice(), rowGroup: { columns: [chunk], num_rows: BigInt(rows), total_byte_size: size, total_compressed_size: size } };
}

/** The last 12 characters of every id (a row index in hex, zero-padded), 12 bytes per row in one buffer. */
function hexDigits(rows: Float64Array): Uint8Array {
  const out = new Uint8Array(rows.length * DIGITS);
  for (let j = 0; j < rows.length; j++) {
    const row = rows[j]!;
    let high = Math.floor(row / HALF);
    let low = row - high * HALF;
    const at = j * DIGITS;
    for (let d = DIGITS - 1; d >= DIGITS / 2; d--, low >>>= 4) out[at + d] = HEX[low & 15]!;
    for (let d = DIGITS / 2 - 1; d >= 0; d--, high >>>= 4) out[at + d] = HEX[high & 15]!;
  }
  return out;
}
