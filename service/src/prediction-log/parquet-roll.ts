/**
 * One roll of the object-storage sink as Parquet files: journal lines in, one file per partition out
 * (`…/model=…/version=…/date=YYYY-MM-DD/hour=HH/<replica>-<first seq>.parquet`, Hive layout, UTC hours), each
 * built in memory a row group at a time (Snappy). Pure and synchronous, so it runs on the sink's encoder thread
 * (parquet-encoder.ts) rather than on the event loop that answers /predict; it needs neither the AWS SDK nor fs.
 */
import { PARQUET_LOG, PREDICTION_LOG_COLUMNS as P } from "../contract";
import { decodeField } from "./copy-text";
import { PartitionFile } from "./parquet-file";
import { PARQUET_STREAMS, parquetValue, type ParquetColumn, type ParquetStream } from "./parquet-schema";

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash ("" for the bucket root). */
  readonly prefix: string;
}

export interface Partition {
  readonly model: string;
  readonly version: string;
  readonly date: string;
  readonly hour: string;
}

/** Hive's partition-value escaping (FileUtils.escapePathName): the characters a path segment cannot hold. */
export function hivePathValue(value: string): string {
  return value.replace(/[\u0000-\u001f"#%'*/:=?\\\u007f{[\]^]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The key of one partition's file of one roll. */
export function parquetKey(location: S3Location, stream: ParquetStream, partition: Partition, replica: string, firstSeq: string): string {
  const k = PARQUET_LOG.partitions;
  const path = [
    ...(location.prefix ? [location.prefix] : []),
    PARQUET_LOG.streams[stream],
    `${k.model}=${hivePathValue(partition.model)}`,
    `${k.version}=${hivePathValue(partition.version)}`,
    `${k.date}=${partition.date}`,
    `${k.hour}=${partition.hour}`,
    `${hivePathValue(replica)}-${firstSeq.padStart(20, "0")}${PARQUET_LOG.extension}`,
  ];
  return path.join("/");
}

export interface RollOptions {
  readonly location: S3Location;
  readonly stream: ParquetStream;
  readonly replica: string;
  /** Rows per row group in a file. */
  readonly rowGroupRows: number;
}

/** What one take() used of the lines it was given. */
export interface Taken {
  readonly rows: number;
  /** Bytes of the lines taken (whole lines). */
  readonly bytes: number;
  readonly firstSeq: string;
  readonly lastSeq: string;
  /** The line with seq `last` was taken (or one beyond it was seen): the roll's range is complete. */
  readonly reachedEnd: boolean;
}

export interface RefusedRow {
  readonly id: string;
  readonly message: string;
}

export interface FinishedRoll {
  readonly files: ReadonlyArray<{ readonly key: string; readonly body: Uint8Array }>;
  readonly rejected: readonly RefusedRow[];
}

export class RollBuilder {
  private readonly files = new Map<string, PartitionFile>();
  private readonly rejected: RefusedRow[] = [];
  private readonly columns: readonly ParquetColumn[];
  /** The roll's first seq: it names every file of the roll. */
  private firstSeq: string | undefined;

  constructor(private readonly options: RollOptions) {
    this.columns = PARQUET_STREAMS[options.stream].columns;
  }

  /** Adds whole journal lines (fields named by `columns`, seq last), up to the one with seq `last` when given. */
  take(data: Uint8Array, columns: readonly string[], last: string | undefined): Taken {
    const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const lines = new LineFields(chunk, columns.length);
    const index = new Map(columns.map((name, i) => [name, i]));
    const lastSeq = last === undefined ? undefined : BigInt(last);
    const timeField = index.get(PARQUET_STREAMS[this.options.stream].time) ?? -1;
    const modelField = index.get(P.modelName) ?? -1;
    const versionField = index.get(P.modelVersion) ?? -1;
    // Where each Parquet column's value sits in a line (-1: a field this journal segment does not have).
    const fieldOf = this.columns.map((c) => index.get(c.name) ?? -1);
    const partitions = new PartitionCache(chunk, lines, modelField, versionField, timeField);
    let firstAt = -1;
    let latestAt = -1;
    let rows = 0;
    let consumed = 0;
    let reachedEnd = false;
    while (lines.next()) {
      const seqAt = lines.seqStart;
      const seq = lastSeq === undefined ? undefined : BigInt(chunk.toString("latin1", seqAt, lines.end));
      if (seq !== undefined && seq > lastSeq!) {
        reachedEnd = true;
        break;
      }
      if (firstAt < 0) firstAt = seqAt;
      latestAt = seqAt;
      this.firstSeq ??= chunk.toString("latin1", seqAt, lines.end);
      rows++;
      consumed = lines.end + 1;
      try {
        if (lines.count !== columns.length) throw new Error(`the line has ${lines.count} fields where its segment names ${columns.length}`);
        const file = partitions.fileOf((model, version, time) => this.fileFor(model, version, time));
        file.add(chunk, lines.starts, lines.ends, fieldOf, lines.escaped);
      } catch (error) {
        this.rejected.push({ id: decodeField(chunk.toString("utf8", lines.starts[0], lines.ends[0])) ?? "", message: (error as Error)?.message ?? String(error) });
      }
      if (seq !== undefined && seq === lastSeq) {
        reachedEnd = true;
        break;
      }
    }
    const seqText = (at: number) => (at < 0 ? "" : chunk.toString("latin1", at, chunk.indexOf(0x0a, at)));
    return { rows, bytes: consumed, firstSeq: seqText(firstAt), lastSeq: seqText(latestAt), reachedEnd };
  }

  /** The roll's files, each finished (its last row group and footer written). */
  finish(): FinishedRoll {
    // A partition whose only rows were refused (a line with a bad time) gets no file.
    const files = [...this.files].filter(([, file]) => file.rows > 0);
    return { files: files.map(([key, file]) => ({ key, body: file.finish() })), rejected: this.rejected };
  }

  private fileFor(modelField: string, versionField: string, time: string): PartitionFile {
    const partition: Partition = { model: decode(modelField), version: decode(versionField), date: time.slice(0, 10), hour: time.slice(11, 13) };
    if (!/^\d{4}-\d{2}-\d{2}$/.test(partition.date) || !/^\d{2}$/.test(partition.hour)) throw new Error(`no partition time in "${time.slice(0, 40)}"`);
    const key = parquetKey(this.options.location, this.options.stream, partition, this.options.replica, this.firstSeq!);
    let file = this.files.get(key);
    if (!file) this.files.set(key, (file = new PartitionFile(this.columns, this.options.rowGroupRows)));
    return file;
  }
}

function decode(field: string): string {
  return field.includes("\\") ? (parquetValue("string", false, field, "partition") as string) : field;
}

/** Each line's fields as byte ranges of a journal chunk (whole lines, tab-separated, seq last). */
class LineFields {
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  count = 0;
  start = 0;
  end = -1;
  /** Where the last field (the seq) starts. */
  seqStart = 0;
  /** The line holds a backslash (an escape or a NULL): only then do the columns look for one. */
  escaped = false;
  private nextBackslash: number;

  constructor(
    private readonly chunk: Buffer,
    private readonly fields: number,
  ) {
    this.starts = new Int32Array(fields + 1);
    this.ends = new Int32Array(fields + 1);
    this.nextBackslash = chunk.indexOf(0x5c);
  }

  /** Moves to the next whole line; false at the chunk's end. */
  next(): boolean {
    this.start = this.end + 1;
    if (this.start >= this.chunk.length) return false;
    const end = this.chunk.indexOf(0x0a, this.start);
    if (end < 0) return false;
    this.end = end;
    // One search for the next backslash serves every line before it: the chunk is scanned once, not per line.
    if (this.nextBackslash >= 0 && this.nextBackslash < this.start) this.nextBackslash = this.chunk.indexOf(0x5c, this.start);
    this.escaped = this.nextBackslash >= 0 && this.nextBackslash < end;
    let count = 0;
    for (let at = this.start; ; ) {
      const tab = this.chunk.indexOf(0x09, at);
      const fieldEnd = tab < 0 || tab > end ? end : tab;
      if (count <= this.fields) {
        this.starts[count] = at;
        this.ends[count] = fieldEnd;
      }
      count++;
      if (fieldEnd === end) {
        this.seqStart = at;
        break;
      }
      at = tab + 1;
    }
    this.count = count;
    return true;
  }
}

/** The file of the last line's partition, looked up again only when its model, version or hour differ. */
class PartitionCache {
  private current: PartitionFile | undefined;
  private readonly previous = new Int32Array(6).fill(-1);

  constructor(
    private readonly chunk: Buffer,
    private readonly lines: LineFields,
    private readonly modelField: number,
    private readonly versionField: number,
    private readonly timeField: number,
  ) {}

  fileOf(create: (model: string, version: string, time: string) => PartitionFile): PartitionFile {
    const { starts, ends } = this.lines;
    const p = this.previous;
    if (this.current && this.same(this.modelField, p, 0) && this.same(this.versionField, p, 2) && this.same(this.timeField, p, 4)) return this.current;
    const text = (field: number) => (field < 0 ? "" : this.chunk.toString("utf8", starts[field], ends[field]));
    this.current = create(text(this.modelField), text(this.versionField), text(this.timeField));
    this.remember(this.modelField, p, 0);
    this.remember(this.versionField, p, 2);
    this.remember(this.timeField, p, 4);
    return this.current;
  }

  /** Where a field's compared bytes end: the whole field, but a time's first 13 (its hour). */
  private comparedEnd(field: number): number {
    const end = this.lines.ends[field]!;
    return field === this.timeField ? Math.min(end, this.lines.starts[field]! + 13) : end;
  }

  private remember(field: number, p: Int32Array, at: number): void {
    p[at] = field < 0 ? 0 : this.lines.starts[field]!;
    p[at + 1] = field < 0 ? 0 : this.comparedEnd(field);
  }

  private same(field: number, p: Int32Array, at: number): boolean {
    return field < 0 || this.equal(this.lines.starts[field]!, this.comparedEnd(field), p[at]!, p[at + 1]!);
  }

  private equal(start: number, end: number, previousStart: number, previousEnd: number): boolean {
    if (end - start !== previousEnd - previousStart) return false;
    for (let i = 0; i < end - start; i++) if (this.chunk[start + i] !== this.chunk[previousStart + i]) return false;
    return true;
  }
}
