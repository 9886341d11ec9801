/**
 * One roll of the object-storage sink as Parquet files: journal lines in, one file per partition out
 * (`…/model=…/version=…/date=YYYY-MM-DD/hour=HH/<replica>-<first seq>.parquet`, Hive layout, UTC hours), each
 * built in memory a row group at a time (Snappy). Pure and synchronous, so it runs on the sink's encoder thread
 * (parquet-encoder.ts) rather than on the event loop that answers /predict; it needs neither the AWS SDK nor fs.
 */
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { PARQUET_LOG, PREDICTION_LOG_COLUMNS as P } from "../contract";
import { PARQUET_STREAMS, parquetSchema, parquetValue, type ParquetColumn, type ParquetStream } from "./parquet-schema";

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
    const index = new Map(columns.map((name, i) => [name, i]));
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
    // ASCII (nearly always): character offsets are byte offsets, and no line needs its UTF-8 length measured.
    const ascii = text.length === data.byteLength;
    const lastSeq = last === undefined ? undefined : BigInt(last);
    const timeField = index.get(PARQUET_STREAMS[this.options.stream].time) ?? -1;
    const modelField = index.get(P.modelName) ?? -1;
    const versionField = index.get(P.modelVersion) ?? -1;
    // Where each Parquet column's value sits in a line (-1: a field this journal segment does not have).
    const fieldOf = this.columns.map((c) => index.get(c.name) ?? -1);
    const byPartition = new Map<string, PartitionFile>();
    let first = "";
    let latest = "";
    let rows = 0;
    let consumed = 0;
    let reachedEnd = false;
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf("\n", start);
      const line = text.slice(start, end);
      const fields = line.split("\t");
      const seq = fields[fields.length - 1]!;
      if (lastSeq !== undefined && BigInt(seq) > lastSeq) {
        reachedEnd = true;
        break;
      }
      first ||= seq;
      this.firstSeq ??= seq;
      latest = seq;
      rows++;
      consumed = ascii ? end + 1 : consumed + Buffer.byteLength(line) + 1;
      start = end + 1;
      try {
        const time = fields[timeField] ?? "";
        const partitionId = `${fields[modelField]}\t${fields[versionField]}\t${time.slice(0, 13)}`;
        let file = byPartition.get(partitionId);
        if (!file) {
          file = this.fileFor(fields[modelField] ?? "", fields[versionField] ?? "", time);
          byPartition.set(partitionId, file);
        }
        file.add(fields, fieldOf);
      } catch (error) {
        this.rejected.push({ id: fields[0] ?? "", message: (error as Error)?.message ?? String(error) });
      }
      if (lastSeq !== undefined && BigInt(seq) === lastSeq) {
        reachedEnd = true;
        break;
      }
    }
    return { rows, bytes: consumed, firstSeq: first, lastSeq: latest, reachedEnd };
  }

  /** The roll's files, each finished (its last row group and footer written). */
  finish(): FinishedRoll {
    return { files: [...this.files].map(([key, file]) => ({ key, body: file.finish() })), rejected: this.rejected };
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

/** One partition's Parquet file of a roll, built in memory a row group at a time. */
class PartitionFile {
  private readonly output = new ByteWriter();
  private readonly writer: ParquetWriter;
  private columns: unknown[][];
  private readonly row: unknown[];
  private rows = 0;

  constructor(
    private readonly spec: readonly ParquetColumn[],
    private readonly rowGroupRows: number,
  ) {
    this.writer = new ParquetWriter({ writer: this.output, schema: parquetSchema(spec), createdBy: "modelport prediction log" });
    this.columns = spec.map(() => []);
    this.row = new Array<unknown>(spec.length);
  }

  /** One line's fields; fieldOf[i] is where column i's value is. Throws (adding nothing) on a value its column cannot hold. */
  add(fields: readonly string[], fieldOf: readonly number[]): void {
    const values = this.row;
    for (let i = 0; i < this.spec.length; i++) {
      const c = this.spec[i]!;
      const at = fieldOf[i]!;
      values[i] = parquetValue(c.kind, c.nullable, at < 0 ? "\\N" : fields[at]!, c.name);
    }
    for (let i = 0; i < values.length; i++) this.columns[i]!.push(values[i]);
    if (++this.rows >= this.rowGroupRows) this.flushGroup();
  }

  finish(): Uint8Array {
    this.flushGroup();
    void this.writer.finish();
    return this.output.getBytes();
  }

  private flushGroup(): void {
    if (this.rows === 0) return;
    void this.writer.write({
      // Statistics for the short columns (created_at ranges let engines skip row groups), not the features JSON.
      columnData: this.spec.map((c, i) => ({
        name: c.name,
        data: this.columns[i]! as never,
        nullable: c.nullable,
        statistics: c.name !== P.features,
        ...(c.encoding ? { encoding: c.encoding } : {}),
      })),
      rowGroupSize: this.rows,
    });
    this.columns = this.spec.map(() => []);
    this.rows = 0;
  }
}
