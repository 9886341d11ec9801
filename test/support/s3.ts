/**
 * A real S3 API on loopback: s3rver (in-process, files in a temp dir) with a client configured the way S3-compatible
 * servers need (path-style, checksums only when required). Used for model artifacts and drift reports.
 *
 * ```ts
 * const s3 = await startS3({ buckets: ["models"] });
 * await s3.uploadDirectory("models", "flight-delay/3", modelDir);
 * // the service reads it with MLFLOW_S3_ENDPOINT_URL=s3.endpoint and AWS_ACCESS_KEY_ID/SECRET = S3_CREDENTIALS
 * await s3.stop();
 * ```
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";

/** s3rver checks signatures against this fixed key pair. */
export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const S3_REGION = "us-east-1";

export interface S3Harness {
  /** http://127.0.0.1:<port>, for MLFLOW_S3_ENDPOINT_URL or an S3 client's `endpoint`. */
  readonly endpoint: string;
  readonly client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Uploads every file under `dir` to s3://bucket/prefix/<relative path>. */
  uploadDirectory(bucket: string, prefix: string, dir: string): Promise<void>;
  /** Environment for a child process or SDK default chain reaching this server. */
  readonly env: Readonly<Record<string, string>>;
  /** An outage: the server stops listening (its data stays); resume() brings it back on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  readonly httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export async function startS3(options: { readonly buckets?: readonly string[] } = {}): Promise<S3Harness> {
  // s3rver ships no type declarations.
  const S3rver = require("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  let server: S3rverInstance | undefined = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: S3_REGION,
    credentials: S3_CREDENTIALS,
    forcePathStyle: true,
    // Without these the SDK streams with checksum trailers, which s3rver stores as part of the object.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    client,
    env: { AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey, AWS_REGION: S3_REGION },
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async uploadDirectory(bucket, prefix, dir) {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      for (const entry of entries.filter((e) => e.isFile())) {
        const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/");
        const key = prefix === "" ? path : `${prefix.replace(/\/+$/, "")}/${path}`;
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(join(entry.parentPath, entry.name)) }));
      }
    },
    async pause() {
      if (!server) return;
      // An outage drops connections too: in-flight and keep-alive ones would otherwise hold close() open.
      const closing = server.close();
      server.httpServer?.closeAllConnections();
      await closing;
      server = undefined;
    },
    async resume() {
      if (server) return;
      // s3rver's listen() never settles on EADDRINUSE: wait until the port is free first.
      await portFree(port);
      server = new S3rver({ address: "127.0.0.1", port, directory, silent: true, configureBuckets: [] });
      await server.run();
    },
    async stop() {
      client.destroy();
      await server?.close().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function portFree(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return;
    if (Date.now() > deadline) throw new Error(`port ${port} is still in use`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
