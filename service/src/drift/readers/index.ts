/**
 * Opens a table by URI: a local path (or file://) or s3://bucket/key, as CSV, NDJSON or Parquet chosen by the
 * extension (.csv, .ndjson/.jsonl/.json, .parquet/.pq; a trailing .gz is gunzipped for the text formats).
 * Everything streams: text formats chunk by chunk, Parquet by row group (ranged GETs on S3).
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { asyncBufferFromFile, cachedAsyncBuffer, type AsyncBuffer } from "hyparquet";
import { DriftInputError } from "../errors";
import type { ColumnBatch } from "./batch";
import { readCsv } from "./csv";
import { readNdjson } from "./ndjson";
import { readParquet } from "./parquet";

export type TableFormat = "csv" | "ndjson" | "parquet";

export interface TableLocation {
  readonly uri: string;
  readonly format: TableFormat;
  readonly gzip: boolean;
  readonly s3?: { readonly bucket: string; readonly key: string };
  readonly path?: string;
}

export function parseTableUri(uri: string): TableLocation {
  const lower = uri.toLowerCase();
  const gzip = lower.endsWith(".gz");
  const base = gzip ? lower.slice(0, -3) : lower;
  const format: TableFormat | undefined = base.endsWith(".csv")
    ? "csv"
    : /\.(ndjson|jsonl|json)$/.test(base)
      ? "ndjson"
      : /\.(parquet|pq)$/.test(base)
        ? "parquet"
        : undefined;
  if (!format) throw new DriftInputError(`${uri}: unknown table format; use a .csv, .ndjson/.jsonl or .parquet file`);
  if (format === "parquet" && gzip) throw new DriftInputError(`${uri}: Parquet compresses internally; a gzipped Parquet file is not supported`);
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
  if (s3) return { uri, format, gzip, s3: { bucket: s3[1], key: s3[2] } };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !lower.startsWith("file://")) {
    throw new DriftInputError(`${uri}: only local paths, file:// and s3:// URIs are supported`);
  }
  return { uri, format, gzip, path: lower.startsWith("file://") ? fileURLToPath(uri) : uri };
}

export interface OpenTableOptions {
  /** Columns the caller needs (Parquet and NDJSON read only these; CSV reads its header). Undefined: all. */
  readonly columns?: readonly string[];
  /** Needed for s3:// URIs. */
  readonly s3Client?: () => S3Client;
  /** What the table is, for error messages: "reference", "current". */
  readonly role: string;
  /** Rows per batch of the text formats. @default BATCH_ROWS */
  readonly batchRows?: number;
}

/** Streams the table's batches; any failure to open or parse becomes a DriftInputError naming the table. */
export async function* openTable(uri: string, options: OpenTableOptions): AsyncGenerator<ColumnBatch> {
  const location = parseTableUri(uri);
  const describe = (error: unknown) =>
    error instanceof DriftInputError ? error : new DriftInputError(`cannot read the ${options.role} data ${uri}: ${(error as Error).message}`, { cause: error });
  try {
    if (location.path) {
      const info = await stat(location.path);
      if (!info.isFile()) throw new Error("not a regular file");
    }
    if (location.format === "parquet") {
      yield* readParquet(await openParquetBuffer(location, options), options.columns);
      return;
    }
    let bytes: AsyncIterable<Buffer> = location.path ? createReadStream(location.path, { highWaterMark: 1 << 20 }) : await s3Stream(location, options);
    if (location.gzip) bytes = Readable.from(bytes).pipe(createGunzip());
    yield* location.format === "csv" ? readCsv(bytes, { batchRows: options.batchRows }) : readNdjson(bytes, options.columns, options.batchRows);
  } catch (error) {
    throw describe(error);
  }
}

/** Random access to a Parquet table (a local file, or an S3 object read by ranged GETs), for reading row groups. */
export async function openParquetBuffer(location: TableLocation, options: Pick<OpenTableOptions, "s3Client">): Promise<AsyncBuffer> {
  if (location.path) {
    const info = await stat(location.path);
    if (!info.isFile()) throw new Error("not a regular file");
    return asyncBufferFromFile(location.path);
  }
  return s3AsyncBuffer(location, options);
}

function client(options: Pick<OpenTableOptions, "s3Client">, uri: string): S3Client {
  if (!options.s3Client) throw new DriftInputError(`${uri}: no S3 client configured`);
  return options.s3Client();
}

async function s3Stream(location: TableLocation, options: OpenTableOptions): Promise<AsyncIterable<Buffer>> {
  const object = await client(options, location.uri).send(new GetObjectCommand({ Bucket: location.s3!.bucket, Key: location.s3!.key }));
  if (!object.Body) throw new Error("S3 returned no body");
  return object.Body as Readable;
}

/** Random access to an S3 object for Parquet: HEAD for the size, then ranged GETs (cached, coalesced by hyparquet). */
async function s3AsyncBuffer(location: TableLocation, options: Pick<OpenTableOptions, "s3Client">): Promise<AsyncBuffer> {
  return s3ObjectBuffer(client(options, location.uri), location.s3!.bucket, location.s3!.key);
}

export async function s3ObjectBuffer(s3: S3Client, bucket: string, key: string): Promise<AsyncBuffer> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const byteLength = Number(head.ContentLength ?? 0);
  return cachedAsyncBuffer({
    byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const last = (end ?? byteLength) - 1;
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${last}` }));
      const bytes = await object.Body!.transformToByteArray();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  });
}
