/**
 * One Parquet column of a row group, built from journal fields as bytes (COPY text): the object-storage sink's
 * encoder takes each line's fields where they lie in the journal chunk, without a string per field, and a
 * column stores only what its pages need. A row is added in two steps, prepare() for every column (which
 * validates, and throws for a value the column cannot hold) and then commit(), so a refused row adds nothing.
 *
 * Encodings: strings unique per row (ids, features) PLAIN in pages of about 1 MiB; other strings (names,
 * versions, labels) a dictionary per chunk; numbers and booleans PLAIN; int64 columns marked
 * DELTA_BINARY_PACKED (seq, created_at) delta-encoded. Statistics (min, max, nulls) for every column but the
 * features JSON, as the reader's row-group skipping wants for times, seqs and ids.
 */
import { PREDICTION_LOG_COLUMNS as P } from "../contract";
import { ByteSink } from "./byte-sink";
import { decodeField } from "./copy-text";
import { bitWidthOf, writeDeltaBinaryPacked, writeHybrid } from "./parquet-encodings";
import { pageBody, writeDataPage, writeDictionaryPage } from "./parquet-page";
import type { ParquetColumn } from "./parquet-schema";
import type { ColumnChunkMeta, Encoding, PhysicalType, Statistics } from "./parquet-thrift";

const PAGE_BYTES = 1 << 20;
const BACKSLASH = 0x5c;

export interface ColumnBuilder {
  /** Parses and validates one row's field (`escaped`: the line holds a backslash somewhere); throws to refuse the row. */
  prepare(line: Buffer, start: number, end: number, escaped: boolean): void;
  /** Adds the prepared value. */
  commit(): void;
  /** Writes the chunk's pages at the end of `file` and starts an empty chunk. */
  writeChunk(file: ByteSink): ColumnChunkMeta;
}

export function columnBuilder(spec: ParquetColumn): ColumnBuilder {
  switch (spec.kind) {
    case "string":
      return spec.encoding === "PLAIN" || spec.name === P.features ? new PlainStringColumn(spec) : new DictionaryStringColumn(spec);
    case "double":
    case "float":
      return new NumberColumn(spec);
    case "boolean":
      return new BooleanColumn(spec);
    case "timestamp":
      return new TimestampColumn(spec);
    case "bigint":
      return new Int64Column(spec);
  }
}

function isNull(line: Buffer, start: number, end: number): boolean {
  return end - start === 2 && line[start] === BACKSLASH && line[start + 1] === 0x4e;
}

function hasBackslash(line: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (line[i] === BACKSLASH) return true;
  return false;
}

/** The field's text, COPY escapes undone (the rare path: fields with a backslash). */
function decodedText(line: Buffer, start: number, end: number): string {
  return decodeField(line.toString("utf8", start, end))!;
}

function compareBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i]! - b[bStart + i]!;
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/** Definition levels of a nullable column (1 present, 0 null), and the null count. */
class Levels {
  levels = new Uint8Array(1024);
  count = 0;
  nulls = 0;

  add(present: boolean): void {
    if (this.count === this.levels.length) {
      const grown = new Uint8Array(this.count * 2);
      grown.set(this.levels);
      this.levels = grown;
    }
    this.levels[this.count++] = present ? 1 : 0;
    if (!present) this.nulls++;
  }

  slice(start: number, end: number): Uint8Array {
    return this.levels.subarray(start, end);
  }

  clear(): void {
    this.count = 0;
    this.nulls = 0;
  }
}

/** What every column does: NULL checks, levels, and the chunk's metadata from its written pages. */
abstract class BaseColumn implements ColumnBuilder {
  protected readonly levels = new Levels();
  protected rows = 0;
  protected pendingNull = false;

  constructor(
    protected readonly spec: ParquetColumn,
    private readonly type: PhysicalType,
  ) {}

  prepare(line: Buffer, start: number, end: number, escaped: boolean): void {
    this.pendingNull = escaped && isNull(line, start, end);
    if (this.pendingNull) {
      if (!this.spec.nullable) throw new Error(`${this.spec.name} is NULL`);
      return;
    }
    this.parse(line, start, end, escaped);
  }

  commit(): void {
    this.rows++;
    if (this.spec.nullable) this.levels.add(!this.pendingNull);
    if (!this.pendingNull) this.append();
  }

  writeChunk(file: ByteSink): ColumnChunkMeta {
    const offset = file.length;
    const written = this.writePages(file);
    const meta: ColumnChunkMeta = {
      type: this.type,
      name: this.spec.name,
      encodings: written.encodings,
      values: this.rows,
      compressedSize: file.length - offset,
      uncompressedSize: written.uncompressedSize,
      dataPageOffset: written.dataPageOffset,
      dictionaryPageOffset: written.dictionaryPageOffset,
      statistics: this.spec.name === P.features ? undefined : { nullCount: this.levels.nulls, ...this.bounds() },
    };
    this.rows = 0;
    this.levels.clear();
    this.clear();
    return meta;
  }

  protected levelsOf(start: number, end: number): Uint8Array | undefined {
    return this.spec.nullable ? this.levels.slice(start, end) : undefined;
  }

  protected abstract parse(line: Buffer, start: number, end: number, escaped: boolean): void;
  protected abstract append(): void;
  protected abstract writePages(file: ByteSink): { encodings: Encoding[]; uncompressedSize: number; dataPageOffset: number; dictionaryPageOffset?: number };
  protected abstract bounds(): Pick<Statistics, "min" | "max">;
  protected abstract clear(): void;
}

/** A growable array of doubles (values of number, time and int64 columns). */
class Float64s {
  values = new Float64Array(1024);
  count = 0;

  push(value: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.count * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }
}

/** Strings stored as they are (length, bytes): ids and the features JSON, unique per row. */
class PlainStringColumn extends BaseColumn {
  private readonly data = new ByteSink(1 << 16);
  /** Where each page ends: [value byte offset, row] pairs; the last page ends at the chunk's end. */
  private pageEnds: Array<[number, number]> = [];
  private pageStart = 0;
  /** Where the smallest and largest values' bytes are in `data` (start -1: none yet). */
  private minStart = -1;
  private minEnd = -1;
  private maxStart = -1;
  private maxEnd = -1;
  private source!: Uint8Array;
  private start = 0;
  private end = 0;

  constructor(spec: ParquetColumn) {
    super(spec, "BYTE_ARRAY");
  }

  protected parse(line: Buffer, start: number, end: number, escaped: boolean): void {
    if (escaped && hasBackslash(line, start, end)) {
      this.source = Buffer.from(decodedText(line, start, end), "utf8");
      this.start = 0;
      this.end = this.source.length;
    } else {
      this.source = line;
      this.start = start;
      this.end = end;
    }
  }

  protected append(): void {
    this.data.uint32(this.end - this.start);
    const start = this.data.length;
    this.data.bytes(this.source, this.start, this.end);
    const end = this.data.length;
    if (this.spec.name !== P.features) {
      if (this.minStart < 0 || this.data.compare(start, end, this.minStart, this.minEnd) < 0) [this.minStart, this.minEnd] = [start, end];
      if (this.maxStart < 0 || this.data.compare(start, end, this.maxStart, this.maxEnd) > 0) [this.maxStart, this.maxEnd] = [start, end];
    }
    if (this.data.length - this.pageStart >= PAGE_BYTES) {
      this.pageEnds.push([this.data.length, this.rows]);
      this.pageStart = this.data.length;
    }
  }

  protected writePages(file: ByteSink) {
    const dataPageOffset = file.length;
    let uncompressedSize = 0;
    let from: [number, number] = [0, 0];
    const ends = this.pageEnds.at(-1)?.[1] === this.rows ? this.pageEnds : [...this.pageEnds, [this.data.length, this.rows] as [number, number]];
    for (const to of ends) {
      pageBody().bytes(this.data.subarray(), from[0], to[0]);
      uncompressedSize += writeDataPage(file, "PLAIN", to[1] - from[1], this.levelsOf(from[1], to[1])).uncompressedSize;
      from = to;
    }
    return { encodings: ["PLAIN", "RLE"] as Encoding[], uncompressedSize, dataPageOffset };
  }

  protected bounds() {
    if (this.minStart < 0) return {};
    return { min: this.data.copy(this.minStart, this.minEnd), max: this.data.copy(this.maxStart, this.maxEnd) };
  }

  protected clear(): void {
    this.data.clear();
    this.pageEnds = [];
    this.pageStart = 0;
    this.minStart = this.minEnd = this.maxStart = this.maxEnd = -1;
  }
}

/** Strings with few distinct values (names, versions, labels): a dictionary per chunk and RLE indexes. */
class DictionaryStringColumn extends BaseColumn {
  private entries: Uint8Array[] = [];
  private byText = new Map<string, number>();
  private indexes = new Int32Array(1024);
  private count = 0;
  private last = -1;
  private pending = 0;

  constructor(spec: ParquetColumn) {
    super(spec, "BYTE_ARRAY");
  }

  protected parse(line: Buffer, start: number, end: number, escaped: boolean): void {
    // Consecutive rows nearly always share the value: compare with the last one before any lookup.
    const escapes = escaped && hasBackslash(line, start, end);
    const last = this.last >= 0 ? this.entries[this.last]! : undefined;
    if (!escapes && last && compareBytes(last, 0, last.length, line, start, end) === 0) {
      this.pending = this.last;
      return;
    }
    const bytes = escapes ? Buffer.from(decodedText(line, start, end), "utf8") : line.subarray(start, end);
    const key = bytes.toString("latin1");
    let index = this.byText.get(key);
    if (index === undefined) {
      index = this.entries.length;
      this.entries.push(Uint8Array.from(bytes));
      this.byText.set(key, index);
    }
    this.pending = index;
  }

  protected append(): void {
    if (this.count === this.indexes.length) {
      const grown = new Int32Array(this.count * 2);
      grown.set(this.indexes);
      this.indexes = grown;
    }
    this.indexes[this.count++] = this.pending;
    this.last = this.pending;
  }

  protected writePages(file: ByteSink) {
    const dictionaryPageOffset = file.length;
    const dictionary = pageBody();
    for (const entry of this.entries) {
      dictionary.uint32(entry.length);
      dictionary.bytes(entry);
    }
    let uncompressedSize = writeDictionaryPage(file, this.entries.length).uncompressedSize;
    const dataPageOffset = file.length;
    const width = bitWidthOf(Math.max(0, this.entries.length - 1));
    const values = pageBody();
    values.byte(width);
    writeHybrid(values, this.indexes, this.count, width);
    uncompressedSize += writeDataPage(file, "RLE_DICTIONARY", this.rows, this.levelsOf(0, this.rows)).uncompressedSize;
    return { encodings: ["PLAIN", "RLE", "RLE_DICTIONARY"] as Encoding[], uncompressedSize, dataPageOffset, dictionaryPageOffset };
  }

  protected bounds() {
    if (this.count === 0) return {};
    let min = this.entries[0]!;
    let max = min;
    for (const e of this.entries) {
      if (compareBytes(e, 0, e.length, min, 0, min.length) < 0) min = e;
      if (compareBytes(e, 0, e.length, max, 0, max.length) > 0) max = e;
    }
    return { min: Uint8Array.from(min), max: Uint8Array.from(max) };
  }

  protected clear(): void {
    this.entries = [];
    this.byText = new Map();
    this.count = 0;
    this.last = -1;
  }
}

/** The last field's bytes and what they parsed to: micro-batches share latencies and times. */
class LastParsed {
  private bytes = new Uint8Array(32);
  private length = -1;
  value = 0;

  matches(line: Buffer, start: number, end: number): boolean {
    return this.length === end - start && compareBytes(this.bytes, 0, this.length, line, start, end) === 0;
  }

  remember(line: Buffer, start: number, end: number, value: number): void {
    if (end - start > this.bytes.length) return;
    this.bytes.set(line.subarray(start, end));
    this.length = end - start;
    this.value = value;
  }
}

/** double and float columns, PLAIN. */
class NumberColumn extends BaseColumn {
  private readonly values = new Float64s();
  private readonly last = new LastParsed();
  private pending = 0;

  constructor(spec: ParquetColumn) {
    super(spec, spec.kind === "float" ? "FLOAT" : "DOUBLE");
  }

  protected parse(line: Buffer, start: number, end: number, escaped: boolean): void {
    // Raw bytes to value is a function: the same field, escaped or not, parses the same.
    if (this.last.matches(line, start, end)) {
      this.pending = this.last.value;
      return;
    }
    const text = escaped && hasBackslash(line, start, end) ? decodedText(line, start, end) : line.toString("latin1", start, end);
    const value = Number(text);
    if (Number.isNaN(value) && text !== "NaN") throw new Error(`${this.spec.name} is not a number: ${text.slice(0, 40)}`);
    this.pending = this.spec.kind === "float" ? Math.fround(value) : value;
    this.last.remember(line, start, end, this.pending);
  }

  protected append(): void {
    this.values.push(this.pending);
  }

  protected writePages(file: ByteSink) {
    const dataPageOffset = file.length;
    const body = pageBody();
    const { values, count } = this.values;
    if (this.spec.kind === "float") for (let i = 0; i < count; i++) body.float32(values[i]!);
    else for (let i = 0; i < count; i++) body.float64(values[i]!);
    const { uncompressedSize } = writeDataPage(file, "PLAIN", this.rows, this.levelsOf(0, this.rows));
    return { encodings: ["PLAIN", "RLE"] as Encoding[], uncompressedSize, dataPageOffset };
  }

  /** NaN is left out of the bounds, as the format asks. */
  protected bounds() {
    let min = Infinity;
    let max = -Infinity;
    let any = false;
    const { values, count } = this.values;
    for (let i = 0; i < count; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) continue;
      any = true;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!any) return {};
    const encode = (v: number) => {
      const sink = new ByteSink(8);
      if (this.spec.kind === "float") sink.float32(v);
      else sink.float64(v);
      return sink.copy();
    };
    return { min: encode(min), max: encode(max) };
  }

  protected clear(): void {
    this.values.count = 0;
  }
}

class BooleanColumn extends BaseColumn {
  private values = new Uint8Array(1024);
  private count = 0;
  private pending = false;

  constructor(spec: ParquetColumn) {
    super(spec, "BOOLEAN");
  }

  protected parse(line: Buffer, start: number, end: number): void {
    const c = end - start === 1 ? line[start] : 0;
    if (c !== 0x74 && c !== 0x66) throw new Error(`${this.spec.name} is not a boolean: ${line.toString("utf8", start, Math.min(end, start + 40))}`);
    this.pending = c === 0x74;
  }

  protected append(): void {
    if (this.count === this.values.length) {
      const grown = new Uint8Array(this.count * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = this.pending ? 1 : 0;
  }

  /** PLAIN booleans: one bit each, least significant first. */
  protected writePages(file: ByteSink) {
    const dataPageOffset = file.length;
    const body = pageBody();
    for (let i = 0; i < this.count; i += 8) {
      let byte = 0;
      for (let b = 0; b < 8 && i + b < this.count; b++) byte |= this.values[i + b]! << b;
      body.byte(byte);
    }
    const { uncompressedSize } = writeDataPage(file, "PLAIN", this.rows, this.levelsOf(0, this.rows));
    return { encodings: ["PLAIN", "RLE"] as Encoding[], uncompressedSize, dataPageOffset };
  }

  protected bounds() {
    if (this.count === 0) return {};
    let min = 1;
    let max = 0;
    for (let i = 0; i < this.count; i++) {
      min = Math.min(min, this.values[i]!);
      max = Math.max(max, this.values[i]!);
    }
    return { min: Uint8Array.of(min), max: Uint8Array.of(max) };
  }

  protected clear(): void {
    this.count = 0;
  }
}

/** INT64 columns as the values' high and low decimal parts (value = high × 10^7 + low): seqs exceed 2^53. */
abstract class BaseInt64Column extends BaseColumn {
  protected readonly high = new Float64s();
  protected readonly low = new Float64s();

  constructor(spec: ParquetColumn) {
    super(spec, "INT64");
  }

  protected valueAt(i: number): bigint {
    return BigInt(this.high.values[i]!) * 10_000_000n + BigInt(this.low.values[i]!);
  }

  protected writePages(file: ByteSink) {
    const dataPageOffset = file.length;
    const body = pageBody();
    const count = this.high.count;
    let encoding: Encoding = "PLAIN";
    if (this.spec.encoding === "DELTA_BINARY_PACKED" && count > 0) {
      const deltas = this.deltas();
      if (deltas && writeDeltaBinaryPacked(body, this.valueAt(0), deltas, count)) encoding = "DELTA_BINARY_PACKED";
      else body.clear();
    }
    if (encoding === "PLAIN") for (let i = 0; i < count; i++) body.int64(this.valueAt(i));
    const { uncompressedSize } = writeDataPage(file, encoding, this.rows, this.levelsOf(0, this.rows));
    return { encodings: [encoding, "RLE"] as Encoding[], uncompressedSize, dataPageOffset };
  }

  /** Differences of consecutive values, or undefined where one is not exact as a double. */
  private deltas(): Float64Array | undefined {
    const count = this.high.count;
    const deltas = new Float64Array(Math.max(0, count - 1));
    const h = this.high.values;
    const l = this.low.values;
    for (let i = 1; i < count; i++) {
      const highStep = h[i]! - h[i - 1]!;
      if (Math.abs(highStep) > 900_000_000) return undefined;
      deltas[i - 1] = highStep * 10_000_000 + (l[i]! - l[i - 1]!);
    }
    return deltas;
  }

  protected bounds() {
    const count = this.high.count;
    if (count === 0) return {};
    let min = 0;
    let max = 0;
    for (let i = 1; i < count; i++) {
      if (this.compare(i, min) < 0) min = i;
      if (this.compare(i, max) > 0) max = i;
    }
    const encode = (i: number) => {
      const sink = new ByteSink(8);
      sink.int64(this.valueAt(i));
      return sink.copy();
    };
    return { min: encode(min), max: encode(max) };
  }

  private compare(a: number, b: number): number {
    return this.high.values[a]! - this.high.values[b]! || this.low.values[a]! - this.low.values[b]!;
  }

  protected push(high: number, low: number): void {
    this.high.push(high);
    this.low.push(low);
  }

  protected clear(): void {
    this.high.count = 0;
    this.low.count = 0;
  }
}

/** A decimal integer in int64's range, from its bytes. */
class Int64Column extends BaseInt64Column {
  private pendingHigh = 0;
  private pendingLow = 0;

  protected parse(line: Buffer, start: number, end: number, escaped: boolean): void {
    if (escaped && hasBackslash(line, start, end)) return this.parseText(decodedText(line, start, end));
    const negative = line[start] === 0x2d;
    const digits = end - start - (negative ? 1 : 0);
    if (digits < 1 || digits > 18) return this.parseText(line.toString("latin1", start, end));
    let high = 0;
    let low = 0;
    for (let i = negative ? start + 1 : start; i < end; i++) {
      const d = line[i]! - 0x30;
      if (d < 0 || d > 9) throw new Error(`${this.spec.name} is not an integer: ${line.toString("utf8", start, Math.min(end, start + 40))}`);
      // The last 7 digits are the low part.
      if (end - i > 7) high = high * 10 + d;
      else low = low * 10 + d;
    }
    this.pendingHigh = negative ? -high : high;
    this.pendingLow = negative ? -low : low;
  }

  /** The slow path: escapes, or 19 digits (checked against int64's range). */
  private parseText(text: string): void {
    if (!/^-?\d+$/.test(text)) throw new Error(`${this.spec.name} is not an integer: ${text.slice(0, 40)}`);
    const value = BigInt(text);
    if (value >= 1n << 63n || value < -(1n << 63n)) throw new Error(`${this.spec.name} is out of int64 range: ${text.slice(0, 40)}`);
    this.pendingHigh = Number(value / 10_000_000n);
    this.pendingLow = Number(value % 10_000_000n);
  }

  protected append(): void {
    this.push(this.pendingHigh, this.pendingLow);
  }
}

/** ISO-8601 times (what toISOString writes) as milliseconds since the epoch (TIMESTAMP_MILLIS). */
class TimestampColumn extends BaseInt64Column {
  private readonly last = new LastParsed();
  private pending = 0;

  protected parse(line: Buffer, start: number, end: number): void {
    if (this.last.matches(line, start, end)) {
      this.pending = this.last.value;
      return;
    }
    // A field with an escape fails the strict format and takes Date.parse's path.
    let ms = isoMillis(line, start, end);
    if (Number.isNaN(ms)) {
      const text = decodedText(line, start, end);
      ms = Date.parse(text);
      if (Number.isNaN(ms)) throw new Error(`${this.spec.name} is not a time: ${text.slice(0, 40)}`);
    }
    this.pending = ms;
    this.last.remember(line, start, end, ms);
  }

  protected append(): void {
    // Milliseconds are below 2^53: the high part is exact as floor(ms / 10^7).
    const high = Math.trunc(this.pending / 10_000_000);
    this.push(high, this.pending - high * 10_000_000);
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DDTHH:MM:SS.sssZ` from bytes, or NaN for anything else (then Date.parse decides). */
function isoMillis(b: Uint8Array, s: number, end: number): number {
  if (end - s !== 24 || b[s + 4] !== 0x2d || b[s + 7] !== 0x2d || b[s + 10] !== 0x54 || b[s + 13] !== 0x3a || b[s + 16] !== 0x3a || b[s + 19] !== 0x2e || b[s + 23] !== 0x5a) return Number.NaN;
  const n = (at: number, digits: number) => {
    let v = 0;
    for (let i = 0; i < digits; i++) {
      const d = b[s + at + i]! - 0x30;
      if (d < 0 || d > 9) return Number.NaN;
      v = v * 10 + d;
    }
    return v;
  };
  const year = n(0, 4);
  // Date.UTC reads years 0-99 as 1900-1999: those go to Date.parse.
  if (!(year >= 100)) return Number.NaN;
  const month = n(5, 2);
  const day = n(8, 2);
  const hour = n(11, 2);
  const minute = n(14, 2);
  const second = n(17, 2);
  const ms = n(20, 3);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= days! && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0)) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}
