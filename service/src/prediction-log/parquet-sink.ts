/**
 * The object-storage sink (`PREDICTION_LOG_URL=s3://bucket/prefix`): the journal is cut into rolls (every
 * `rollBytes` of rows, or `rollIntervalMs` after the oldest), and each roll becomes one Parquet file per
 * partition, `<prefix>/<stream>/model=…/version=…/date=YYYY-MM-DD/hour=HH/<replica>-<first seq>.parquet` (Hive
 * layout, UTC hours), uploaded with PutObject; only then is the roll committed in the journal.
 *
 * Exactly once: a roll's range (first and last seq) is recorded in `<stateDir>/s3-roll.json` before its first
 * upload, and a restart redoes that very range, so every file is rewritten under the same key with the same
 * rows: an interrupted roll never leaves a duplicate. Files are built in memory, row group by row group
 * (Snappy), from 4 MiB reads of the journal.
 *
 * S3-compatible servers: the AWS SDK's standard AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style requests
 * then), AWS_REGION, and the usual credential chain (IRSA on EKS).
 */
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { ENV, PARQUET_LOG, PREDICTION_LOG_COLUMNS as P } from "../contract";
import type { JournalChunk, JournalPosition } from "./journal";
import { PARQUET_STREAMS, parquetSchema, parquetValue, type ParquetColumn, type ParquetStream } from "./parquet-schema";
import type { BatchSource, LogSink, RejectedRow, WriteOutcome } from "./stream";

const READ_BYTES = 4 << 20;
const REQUEST_TIMEOUT_MS = 60_000;

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash ("" for the bucket root). */
  readonly prefix: string;
}

export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new Error(`${url} is not s3://<bucket>[/<prefix>] (bucket names are 3-63 lower-case letters, digits, dots, hyphens)`);
  return { bucket: match[1]!, prefix: (match[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

/** An S3 client from the AWS SDK's standard settings in `env`; path-style whenever an endpoint is set. */
export function s3ClientFromEnv(env: Readonly<Record<string, string | undefined>>): S3Client {
  const endpoint = env[ENV.awsEndpointUrlS3] || env[ENV.awsEndpointUrl] || undefined;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return new S3Client({
    endpoint,
    forcePathStyle: endpoint !== undefined,
    region: env[ENV.awsRegion] || "us-east-1",
    // Explicit keys when the given environment has them; otherwise the SDK's chain (IRSA, instance profile).
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN } } : {}),
    // Checksum trailers on streamed bodies are mishandled by some S3-compatible servers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
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

export interface Partition {
  readonly model: string;
  readonly version: string;
  readonly date: string;
  readonly hour: string;
}

export interface ParquetSinkOptions {
  readonly client: S3Client;
  readonly location: S3Location;
  readonly stream: ParquetStream;
  readonly replica: string;
  /** Where the in-progress roll is recorded (the stream's journal directory). */
  readonly stateDir: string;
  /** Bytes of journal rows per roll (the files are several times smaller). @default 64 MiB */
  readonly rollBytes?: number;
  /** Longest a row waits for its roll. @default 5 minutes */
  readonly rollIntervalMs?: number;
  /** Rows per row group in a file. @default 50000 */
  readonly rowGroupRows?: number;
}

interface RollRange {
  readonly firstSeq: string;
  readonly lastSeq: string;
}

export class ParquetSink implements LogSink {
  readonly target: string;
  readonly batch: LogSink["batch"];
  readonly window: LogSink["window"];
  private readonly client: S3Client;
  private readonly location: S3Location;
  private readonly stream: ParquetStream;
  private readonly replica: string;
  private readonly rollFile: string;
  private readonly rollBytes: number;
  private readonly rowGroupRows: number;
  private readonly columns: readonly ParquetColumn[];
  /** The last roll was uploaded and committed: its record can go. */
  private rollCommitted = false;

  constructor(options: ParquetSinkOptions) {
    this.client = options.client;
    this.location = options.location;
    this.stream = options.stream;
    this.replica = options.replica;
    this.rollFile = join(options.stateDir, "s3-roll.json");
    this.rollBytes = options.rollBytes ?? 64 << 20;
    this.rowGroupRows = options.rowGroupRows ?? 50_000;
    this.columns = PARQUET_STREAMS[options.stream].columns;
    this.target = `s3://${this.location.bucket}${this.location.prefix ? `/${this.location.prefix}` : ""}`;
    this.batch = { maxRows: Number.POSITIVE_INFINITY, maxBytes: this.rollBytes, maxWaitMs: options.rollIntervalMs ?? 5 * 60_000 };
    this.window = { rows: Number.POSITIVE_INFINITY, bytes: 2 * this.rollBytes };
  }

  async prepare(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }), { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  }

  async write(source: BatchSource): Promise<WriteOutcome> {
    if (this.rollCommitted) {
      rmSync(this.rollFile, { force: true });
      this.rollCommitted = false;
    }
    const redo = this.readRoll();
    let roll = await this.collect(source, redo);
    if (redo && roll.rows === 0) {
      // A roll committed just before a crash left its record behind: nothing of it is left to redo.
      rmSync(this.rollFile, { force: true });
      roll = await this.collect(source, undefined);
    }
    if (roll.rows === 0) return { end: roll.end, rows: 0, lastSeq: "0", written: 0, rejected: roll.rejected };
    if (!redo) this.writeRoll({ firstSeq: roll.firstSeq, lastSeq: roll.lastSeq });
    for (const [key, file] of roll.files) {
      const body = file.finish();
      await this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: body, ContentLength: body.length, ContentType: "application/vnd.apache.parquet" }),
        { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
    }
    this.rollCommitted = true;
    return { end: roll.end, rows: roll.rows, lastSeq: roll.lastSeq, written: roll.rows - roll.rejected.length, rejected: roll.rejected };
  }

  async close(): Promise<void> {
    if (this.rollCommitted) rmSync(this.rollFile, { force: true });
  }

  /** Reads one roll's lines (or exactly the recorded range) into per-partition files. */
  private async collect(source: BatchSource, redo: RollRange | undefined) {
    const files = new Map<string, PartitionFile>();
    const rejected: RejectedRow[] = [];
    const last = redo ? BigInt(redo.lastSeq) : undefined;
    let position: JournalPosition = source.start;
    let rows = 0;
    let bytes = 0;
    let firstSeq = "";
    let lastSeq = "";
    for (;;) {
      const chunk = await source.read(position, redo ? READ_BYTES : Math.min(READ_BYTES, this.rollBytes - bytes), Number.POSITIVE_INFINITY);
      if (!chunk) break;
      const taken = this.take(chunk, last, files, rejected, firstSeq === "" ? undefined : firstSeq);
      if (taken.rows > 0) {
        firstSeq ||= taken.firstSeq;
        lastSeq = taken.lastSeq;
      }
      rows += taken.rows;
      bytes += taken.bytes;
      position = { segment: chunk.start.segment, offset: chunk.start.offset + taken.bytes };
      if (taken.reachedEnd || (!redo && bytes >= this.rollBytes)) break;
    }
    return { files, rejected, rows, end: position, firstSeq, lastSeq };
  }

  /** Adds the chunk's lines (up to seq `last`) to their partitions' files. */
  private take(chunk: JournalChunk, last: bigint | undefined, files: Map<string, PartitionFile>, rejected: RejectedRow[], rollFirstSeq: string | undefined) {
    const index = new Map(chunk.columns.map((name, i) => [name, i]));
    const text = chunk.data.toString("utf8");
    const timeField = index.get(PARQUET_STREAMS[this.stream].time) ?? -1;
    const modelField = index.get(P.modelName) ?? -1;
    const versionField = index.get(P.modelVersion) ?? -1;
    // Where each Parquet column's value sits in a line (-1: a field this journal segment does not have).
    const fieldOf = this.columns.map((c) => index.get(c.name) ?? -1);
    const byPartition = new Map<string, PartitionFile>();
    let firstSeq = "";
    let lastSeq = "";
    let rows = 0;
    let consumed = 0;
    let reachedEnd = false;
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf("\n", start);
      const line = text.slice(start, end);
      const fields = line.split("\t");
      const seq = fields[fields.length - 1]!;
      if (last !== undefined && BigInt(seq) > last) {
        reachedEnd = true;
        break;
      }
      firstSeq ||= seq;
      lastSeq = seq;
      rows++;
      consumed += Buffer.byteLength(line) + 1;
      start = end + 1;
      try {
        const time = fields[timeField] ?? "";
        const partitionId = `${fields[modelField]}\t${fields[versionField]}\t${time.slice(0, 13)}`;
        let file = byPartition.get(partitionId);
        if (!file) {
          const partition: Partition = { model: decode(fields[modelField] ?? ""), version: decode(fields[versionField] ?? ""), date: time.slice(0, 10), hour: time.slice(11, 13) };
          if (!/^\d{4}-\d{2}-\d{2}$/.test(partition.date) || !/^\d{2}$/.test(partition.hour)) throw new Error(`no partition time in "${time.slice(0, 40)}"`);
          const key = parquetKey(this.location, this.stream, partition, this.replica, rollFirstSeq ?? firstSeq);
          file = files.get(key);
          if (!file) files.set(key, (file = new PartitionFile(this.columns, this.rowGroupRows)));
          byPartition.set(partitionId, file);
        }
        file.add(fields, fieldOf);
      } catch (error) {
        rejected.push({ id: fields[0] ?? "", error });
      }
      if (last !== undefined && BigInt(seq) === last) {
        reachedEnd = true;
        break;
      }
    }
    return { rows, bytes: consumed, firstSeq, lastSeq, reachedEnd };
  }

  private readRoll(): RollRange | undefined {
    try {
      const roll = JSON.parse(readFileSync(this.rollFile, "utf8")) as RollRange;
      return /^\d+$/.test(roll.firstSeq) && /^\d+$/.test(roll.lastSeq) ? roll : undefined;
    } catch {
      return undefined;
    }
  }

  private writeRoll(roll: RollRange): void {
    writeFileSync(`${this.rollFile}.tmp`, JSON.stringify(roll));
    renameSync(`${this.rollFile}.tmp`, this.rollFile);
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
