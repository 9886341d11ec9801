// The benchmark's gRPC load generator against a real grpc-js server that watches it: it keeps exactly the
// requested number of calls in flight, over the requested number of connections, counts every answered call once
// (the server's count and its count agree), reports latencies no shorter than the server's own delay, in order,
// and counts failed calls by status instead of timing them.
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { percentile, runGrpcLoad } from "../../bench/grpc-load";
import { GRPC_METHODS } from "../../service/src/contract";
import { inferenceServiceDefinition } from "../../service/src/grpc/proto";

const DELAY_MS = 5;

interface Watched {
  readonly address: string;
  answered: number;
  failed: number;
  inFlight: number;
  maxInFlight: number;
  readonly peers: Set<string>;
  stop(): Promise<void>;
}

/** ModelInfer that waits DELAY_MS, answers the bytes it got, and refuses a request starting with 0xff. */
async function watchedServer(): Promise<Watched> {
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  const infer = inferenceServiceDefinition().ModelInfer!;
  const watched: Watched = {
    address: "",
    answered: 0,
    failed: 0,
    inFlight: 0,
    maxInFlight: 0,
    peers: new Set(),
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService({ ModelInfer: { ...infer, requestDeserialize: identity, responseSerialize: identity } }, {
    ModelInfer: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      watched.peers.add(call.getPeer());
      watched.maxInFlight = Math.max(watched.maxInFlight, ++watched.inFlight);
      void sleep(DELAY_MS).then(() => {
        watched.inFlight--;
        if (call.request[0] === 0xff) {
          watched.failed++;
          callback({ code: grpc.status.INVALID_ARGUMENT, details: "refused" });
        } else {
          watched.answered++;
          callback(null, call.request);
        }
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return Object.assign(watched, { address: `127.0.0.1:${port}` });
}

describe("bench/grpc-load.ts", () => {
  let server: Watched;
  beforeEach(async () => {
    server = await watchedServer();
  });
  afterEach(() => server.stop());

  it("keeps `concurrency` calls in flight over `channels` connections and counts each answer once", async () => {
    const result = await runGrpcLoad({ address: server.address, method: GRPC_METHODS.modelInfer, request: Buffer.from([1, 2, 3]), concurrency: 6, channels: 3, durationS: 0.3 });
    expect(server.maxInFlight).toBe(6);
    expect(server.peers.size).toBe(3);
    expect(result).toMatchObject({ concurrency: 6, channels: 3, errors: {} });
    expect(result.requests).toBe(server.answered);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.rps).toBeCloseTo(result.requests / result.durationS, 6);
    expect(result.p50Ms).toBeGreaterThanOrEqual(DELAY_MS - 1);
    expect(result.p50Ms).toBeLessThanOrEqual(result.p90Ms);
    expect(result.p90Ms).toBeLessThanOrEqual(result.p99Ms);
    expect(result.p99Ms).toBeLessThanOrEqual(result.maxMs);
  });

  it("does not count the warm-up, and never opens more connections than calls", async () => {
    const result = await runGrpcLoad({ address: server.address, method: GRPC_METHODS.modelInfer, request: Buffer.from([1]), concurrency: 2, channels: 8, durationS: 0.2, warmUpS: 0.2 });
    expect(result.channels).toBe(2);
    expect(server.peers.size).toBe(2);
    expect(server.answered).toBeGreaterThan(result.requests);
  });

  it("counts failed calls by status, not as answers", async () => {
    const result = await runGrpcLoad({ address: server.address, method: GRPC_METHODS.modelInfer, request: Buffer.from([0xff]), concurrency: 3, durationS: 0.2 });
    expect(result.requests).toBe(0);
    expect(result.errors).toEqual({ INVALID_ARGUMENT: server.failed });
    expect(Number.isNaN(result.p99Ms)).toBe(true);
  });

  it("refuses a nonsensical load", async () => {
    await expect(runGrpcLoad({ address: server.address, method: GRPC_METHODS.modelInfer, request: Buffer.alloc(0), concurrency: 0, durationS: 1 })).rejects.toThrow(/concurrency/);
  });
});

it("takes nearest-rank percentiles", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  expect([percentile(values, 50), percentile(values, 99), percentile(values, 100), percentile([7], 99)]).toEqual([50, 99, 100, 7]);
  expect(Number.isNaN(percentile([], 50))).toBe(true);
});
