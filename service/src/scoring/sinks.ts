/**
 * Output files that appear whole or not at all. Local: written to a temp file beside the target, fsynced and
 * renamed over it at the end (an atomic replace on one filesystem). S3: a multipart upload, completed only at
 * the end and aborted on failure, so readers never see part of an object. A crashed run can leave a temp file
 * (`.<name>.tmp-*`) or an incomplete multipart upload, never a half output: an S3 lifecycle rule
 * (AbortIncompleteMultipartUpload) clears the latter.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ScoringInputError } from "./errors";

export interface OutputSink {
  readonly uri: string;
  /** Appends bytes; resolves when they are buffered or sent (hold the next write until then). */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the output visible, whole. */
  commit(): Promise<void>;
  /** Removes everything written; the target is left as it was. Never throws. */
  abort(): Promise<void>;
  readonly bytesWritten: number;
}

export function openSink(uri: string, s3: () => S3Client): Promise<OutputSink> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
  if (match) return S3MultipartSink.start(uri, match[1]!, match[2]!, s3());
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new ScoringInputError(`${uri}: outputs are local paths or s3://bucket/key`);
  return LocalFileSink.open(uri);
}

class LocalFileSink implements OutputSink {
  bytesWritten = 0;

  private constructor(
    readonly uri: string,
    private readonly target: string,
    private readonly temp: string,
    private readonly file: FileHandle,
  ) {}

  static async open(uri: string): Promise<LocalFileSink> {
    const target = resolve(uri);
    const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    const file = await mkdir(dirname(target), { recursive: true }).then(() => open(temp, "wx")).catch((error: Error) => {
      throw new ScoringInputError(`cannot write ${uri}: ${error.message}`);
    });
    return new LocalFileSink(uri, target, temp, file);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) at += (await this.file.write(bytes, at, bytes.byteLength - at)).bytesWritten;
    this.bytesWritten += bytes.byteLength;
  }

  async commit(): Promise<void> {
    await this.file.sync();
    await this.file.close();
    await rename(this.temp, this.target);
  }

  async abort(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.temp, { force: true }).catch(() => undefined);
  }
}

/** S3's smallest part (except the last) is 5 MiB, and an upload has at most 10,000 parts. */
const FIRST_PART_BYTES = 8 * 1024 * 1024;
const PARTS_PER_DOUBLING = 1000;

class S3MultipartSink implements OutputSink {
  bytesWritten = 0;
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private readonly parts: { PartNumber: number; ETag: string }[] = [];

  private constructor(
    readonly uri: string,
    private readonly bucket: string,
    private readonly key: string,
    private readonly uploadId: string,
    private readonly client: S3Client,
  ) {}

  static async start(uri: string, bucket: string, key: string, client: S3Client): Promise<S3MultipartSink> {
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).catch((error: Error) => {
      throw new ScoringInputError(`cannot write ${uri}: ${error.name}: ${error.message}`);
    });
    if (!created.UploadId) throw new Error(`${uri}: S3 started a multipart upload without an UploadId`);
    return new S3MultipartSink(uri, bucket, key, created.UploadId, client);
  }

  /** Parts double in size every 1000, so 10,000 parts reach far past any output (8 MiB ... 4 GiB). */
  private get partBytes(): number {
    return FIRST_PART_BYTES * 2 ** Math.floor(this.parts.length / PARTS_PER_DOUBLING);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.buffered.push(bytes);
    this.bufferedBytes += bytes.byteLength;
    this.bytesWritten += bytes.byteLength;
    if (this.bufferedBytes >= this.partBytes) await this.uploadPart();
  }

  private async uploadPart(): Promise<void> {
    const body = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    const PartNumber = this.parts.length + 1;
    const part = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId, PartNumber, Body: body }));
    if (!part.ETag) throw new Error(`${this.uri}: S3 accepted part ${PartNumber} without an ETag`);
    this.parts.push({ PartNumber, ETag: part.ETag });
  }

  async commit(): Promise<void> {
    // The last part may be small; an empty output still needs one (empty) part.
    if (this.bufferedBytes > 0 || this.parts.length === 0) await this.uploadPart();
    await this.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
    );
  }

  async abort(): Promise<void> {
    this.buffered = [];
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId })).catch(() => undefined);
  }
}
