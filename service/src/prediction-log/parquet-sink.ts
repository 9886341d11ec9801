/**
 * The object-storage sink (`PREDICTION_LOG_URL=s3://bucket/prefix`): the journal is cut into rolls (every
 * `rollBytes` of rows, or `rollIntervalMs` after the oldest), and each roll becomes one Parquet file per
 * partition, `<prefix>/<stream>/model=…/version=…/date=YYYY-MM-DD/hour=HH/<replica>-<first seq>.parquet` (Hive
 * layout, UTC hours), uploaded with PutObject; only then is the roll committed in the journal.
 *
 * Exactly once: a roll's range (first and last seq) is recorded in `<stateDir>/s3-roll.json` before its first
 * upload, and a restart redoes that very range, so every file is rewritten under the same key with the same
 * rows: an interrupted roll never leaves a duplicate. Files are built in memory, row group by row group
 * (Snappy), from 4 MiB reads of the journal, on the sink's encoder thread (parquet-encoder.ts): the event loop
 * only reads the journal and uploads.
 *
 * S3-compatible servers: the AWS SDK's standard AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style requests
 * then), AWS_REGION, and the usual credential chain (IRSA on EKS).
 */
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENV } from "../contract";
import type { JournalPosition } from "./journal";
import { ParquetEncoder } from "./parquet-encoder";
import type { S3Location } from "./parquet-roll";
import type { ParquetStream } from "./parquet-schema";
import type { BatchSource, LogSink, WriteOutcome } from "./stream";

export { hivePathValue, parquetKey, type Partition, type S3Location } from "./parquet-roll";

const READ_BYTES = 4 << 20;
const REQUEST_TIMEOUT_MS = 60_000;

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
  private readonly encoder = new ParquetEncoder();
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
    if (roll.rows === 0) return { end: roll.end, rows: 0, lastSeq: "0", written: 0, rejected: [] };
    if (!redo) this.writeRoll({ firstSeq: roll.firstSeq, lastSeq: roll.lastSeq });
    const { files, rejected: refused } = await this.encoder.finish();
    const rejected = refused.map(({ id, message }) => ({ id, error: new Error(message) }));
    for (const { key, body } of files) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: body, ContentLength: body.length, ContentType: "application/vnd.apache.parquet" }),
        { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
    }
    this.rollCommitted = true;
    return { end: roll.end, rows: roll.rows, lastSeq: roll.lastSeq, written: roll.rows - rejected.length, rejected };
  }

  async close(): Promise<void> {
    if (this.rollCommitted) rmSync(this.rollFile, { force: true });
    await this.encoder.close();
  }

  /** Hands one roll's lines (or exactly the recorded range) to the encoder; finish() then gives its files. */
  private async collect(source: BatchSource, redo: RollRange | undefined) {
    this.encoder.begin({ location: this.location, stream: this.stream, replica: this.replica, rowGroupRows: this.rowGroupRows });
    let position: JournalPosition = source.start;
    let rows = 0;
    let bytes = 0;
    let firstSeq = "";
    let lastSeq = "";
    for (;;) {
      const chunk = await source.read(position, redo ? READ_BYTES : Math.min(READ_BYTES, this.rollBytes - bytes), Number.POSITIVE_INFINITY);
      if (!chunk) break;
      const taken = await this.encoder.take(chunk.data, chunk.columns, redo?.lastSeq);
      if (taken.rows > 0) {
        firstSeq ||= taken.firstSeq;
        lastSeq = taken.lastSeq;
      }
      rows += taken.rows;
      bytes += taken.bytes;
      position = { segment: chunk.start.segment, offset: chunk.start.offset + taken.bytes };
      if (taken.reachedEnd || (!redo && (bytes >= this.rollBytes || !before(position, source.end)))) break;
    }
    return { rows, end: position, firstSeq, lastSeq };
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


function before(a: JournalPosition, b: JournalPosition): boolean {
  return a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
}
