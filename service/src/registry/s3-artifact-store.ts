/**
 * s3://bucket/prefix read straight from S3 (what MLflow's `get-download-uri` answers when the tracking server does
 * not proxy artifacts). Credentials come from the AWS default chain (IRSA in EKS, env, profile);
 * MLFLOW_S3_ENDPOINT_URL points at an S3-compatible server instead, with path-style addressing.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { ENV } from "../contract";
import type { ArtifactFile, ArtifactStore, ArtifactStoreContext } from "./artifact-store";
import { ModelSourceError } from "./errors";
import { ABORTED, checkRelativePath, TransferGuard, writeBodyToFile, type DownloadLimits } from "./transfer";

/** An S3 client configured the way Modelport reads model artifacts (also what tests hand to their harness). */
export function createS3Client(endpointUrl?: string, connectTimeoutMs?: number): S3Client {
  return new S3Client({
    endpoint: endpointUrl,
    forcePathStyle: endpointUrl !== undefined,
    // The SDK's connect timeout; first byte, idle, rate and deadline are the TransferGuard's.
    ...(connectTimeoutMs !== undefined ? { requestHandler: { connectionTimeout: connectTimeoutMs } } : {}),
    // The SDK needs a region even for a custom endpoint; AWS_REGION wins when set.
    region: process.env[ENV.awsRegion] || "us-east-1",
    // Default checksum mode adds trailers that S3-compatible servers (s3rver, older MinIO) mishandle.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export class S3ArtifactStore implements ArtifactStore {
  private readonly bucket: string;
  /** Key prefix of the model directory, ending in "/" so "model" does not also match "model-2/...". */
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly timeoutMs: number;
  private readonly limits: DownloadLimits;

  constructor(
    readonly uri: string,
    context: ArtifactStoreContext,
  ) {
    const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(uri);
    if (!match) throw new ModelSourceError(`artifact URI ${uri} is not s3://<bucket>/<prefix>`, "UNSUPPORTED_ARTIFACT_URI");
    this.bucket = match[1]!;
    const key = match[2]!.replace(/\/+$/, "");
    this.prefix = key === "" ? "" : `${key}/`;
    this.client = createS3Client(context.s3EndpointUrl, context.limits.connectTimeoutMs);
    this.timeoutMs = context.timeoutMs;
    this.limits = context.limits;
  }

  async list(signal?: AbortSignal): Promise<ArtifactFile[]> {
    const files: ArtifactFile[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.call(`listing of ${this.uri}`, signal, (abortSignal) =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: continuationToken }), { abortSignal }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.endsWith("/")) continue; // "folder" marker objects
        files.push({ path: checkRelativePath(object.Key.slice(this.prefix.length), this.uri), size: object.Size ?? 0 });
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return files;
  }

  async download(file: ArtifactFile, destination: string, signal?: AbortSignal): Promise<void> {
    const what = `download of ${file.path} from ${this.uri}`;
    const guard = new TransferGuard(what, file.size, this.limits, signal);
    // The SDK connects inside send(): its own connectionTimeout covers that, so the first-byte wait starts now.
    guard.connected();
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + file.path }), { abortSignal: guard.signal });
      guard.responded();
      if (!object.Body) throw new ModelSourceError(`S3 answered the ${what} with no body`, "BAD_RESPONSE");
      await writeBodyToFile(object.Body as Readable, destination, guard);
    } catch (error) {
      throw s3Error(error, what, () => guard.error(error), guard);
    } finally {
      guard.finish();
    }
  }

  private async call<T>(what: string, outer: AbortSignal | undefined, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = outer ? AbortSignal.any([deadline, outer]) : deadline;
    try {
      return await send(signal);
    } catch (error) {
      throw s3Error(error, what, () =>
        outer?.aborted
          ? new ModelSourceError(`the S3 ${what} was abandoned`, ABORTED, undefined, { cause: error })
          : deadline.aborted
          ? new ModelSourceError(`S3 did not answer the ${what} within ${this.timeoutMs} ms`, "TIMEOUT", undefined, { cause: error })
          : new ModelSourceError(`S3 is unreachable during the ${what} (${(error as Error).message})`, "UNAVAILABLE", undefined, { cause: error }),
      );
    }
  }
}

/** S3 service errors (NoSuchBucket, AccessDenied, 5xx) keep their status; transport errors go to `otherwise`. */
function s3Error(error: unknown, what: string, otherwise: () => ModelSourceError, guard?: TransferGuard): ModelSourceError {
  if (error instanceof ModelSourceError) return error;
  if (guard?.signal.aborted) return guard.error(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === undefined) return otherwise();
  const name = (error as Error).name;
  const code = status === 404 ? "RESOURCE_DOES_NOT_EXIST" : status === 403 ? "PERMISSION_DENIED" : status === 401 ? "UNAUTHENTICATED" : name;
  return new ModelSourceError(`S3 answered the ${what} with HTTP ${status} ${name}: ${(error as Error).message}`, code, status, { cause: error });
}
