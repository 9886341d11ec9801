/**
 * A closed-loop gRPC load generator, the counterpart of wrk for the benchmark's gRPC rows: `concurrency` calls in
 * flight at all times, each caller sending its next call when the previous one is answered, spread over
 * `channels` HTTP/2 connections (grpc-js channels with their own subchannel pools, so they do not share one
 * connection). It sends one pre-serialized request message over and over and does not decode the answers (wrk
 * does not parse its JSON either), so both generators spend their time on the transport, not on the payload.
 * Latency is measured per call from send to answer; percentiles are exact (every latency is kept).
 *
 *   node dist/bench/grpc-load.js <host:port> <method path> <request file> <concurrency> <seconds> [channels] [warm-up seconds]
 *
 * prints `GRPC_LOAD_RESULT {json}`.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";

export interface GrpcLoadOptions {
  /** host:port of the gRPC server. */
  readonly address: string;
  /** Full method path, e.g. /inference.GRPCInferenceService/ModelInfer. */
  readonly method: string;
  /** The serialized request message. */
  readonly request: Uint8Array;
  /** Calls in flight at once. */
  readonly concurrency: number;
  readonly durationS: number;
  /** HTTP/2 connections the calls are spread over. @default min(4, concurrency) */
  readonly channels?: number;
  /** Unmeasured seconds first (JIT, connections, the server's own warm-up). @default 0 */
  readonly warmUpS?: number;
  /** Deadline of each call. @default 10 s */
  readonly callTimeoutMs?: number;
}

export interface GrpcLoadResult {
  readonly concurrency: number;
  readonly channels: number;
  readonly durationS: number;
  /** Calls answered OK. */
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Calls that ended with another status, by status code name. */
  readonly errors: Readonly<Record<string, number>>;
}

const identity = (bytes: Buffer) => bytes;

export async function runGrpcLoad(options: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const { concurrency, durationS } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  if (!(durationS > 0)) throw new RangeError(`duration must be > 0 s, got ${durationS}`);
  const channelCount = Math.max(1, Math.min(options.channels ?? 4, concurrency));
  const clients = Array.from(
    { length: channelCount },
    () => new grpc.Client(options.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": -1 }),
  );
  const request = Buffer.from(options.request.buffer, options.request.byteOffset, options.request.byteLength);
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const call = (client: grpc.Client) =>
    new Promise<number>((resolve) => {
      client.makeUnaryRequest(options.method, identity, identity, request, { deadline: Date.now() + timeoutMs }, (error) => resolve(error ? error.code : grpc.status.OK));
    });

  /** Every caller loops until `until`; latencies and statuses recorded only when `record` is set. */
  const drive = async (until: number, record: boolean) => {
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    let lastAnswer = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, i) => {
        const client = clients[i % channelCount]!;
        while (performance.now() < until) {
          const sent = performance.now();
          const code = await call(client);
          lastAnswer = performance.now();
          if (!record) continue;
          if (code === grpc.status.OK) latencies.push(lastAnswer - sent);
          else errors[grpc.status[code] ?? String(code)] = (errors[grpc.status[code] ?? String(code)] ?? 0) + 1;
        }
      }),
    );
    return { latencies, errors, lastAnswer };
  };

  try {
    await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())))));
    if (options.warmUpS) await drive(performance.now() + options.warmUpS * 1000, false);
    const start = performance.now();
    const { latencies, errors, lastAnswer } = await drive(start + durationS * 1000, true);
    const seconds = (lastAnswer - start) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      concurrency,
      channels: channelCount,
      durationS: seconds,
      requests: latencies.length,
      rps: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      errors,
    };
  } finally {
    for (const client of clients) client.close();
  }
}

/** Nearest-rank percentile of sorted values (NaN when there are none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

if (require.main === module) {
  const [address, method, file, concurrency, seconds, channels, warmUp] = process.argv.slice(2);
  if (!address || !method || !file || !concurrency || !seconds) {
    console.error("usage: grpc-load <host:port> <method path> <request file> <concurrency> <seconds> [channels] [warm-up seconds]");
    process.exit(2);
  }
  runGrpcLoad({
    address,
    method,
    request: readFileSync(file),
    concurrency: Number(concurrency),
    durationS: Number(seconds),
    channels: channels ? Number(channels) : undefined,
    warmUpS: warmUp ? Number(warmUp) : undefined,
  }).then(
    (result) => process.stdout.write(`GRPC_LOAD_RESULT ${JSON.stringify(result)}\n`),
    (error: Error) => {
      console.error(`grpc-load failed: ${error.message}`);
      process.exit(1);
    },
  );
}
