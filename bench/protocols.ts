/**
 * The benchmark's protocol rows: the Open Inference Protocol over REST (POST /v2/models/{name}/infer, JSON, driven
 * by wrk) against the same request over gRPC (ModelInfer with typed contents, and with raw_input_contents, driven
 * by bench/grpc-load.ts), on the same service process, at the same number of requests in flight, alternating
 * over rounds so a noisy moment hits every side; the row keeps the round with the median gRPC/REST ratio. Each
 * request's answer is checked once before the load (the same outputs over both protocols). Floors: the bare
 * Fastify route under wrk and a bare grpc-js server under the gRPC generator, the transports' own ceilings here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ENV, GRPC_METHODS } from "../service/src/contract";
import { inferenceServiceDefinition } from "../service/src/grpc/proto";
import { freePort, waitFor } from "../test/support/net";
import { inferenceClient, modelExampleTensors, rawRequest, responseTensors, typedRequest, type JsonTensor } from "../test/support/grpc-client";
import { startService } from "../test/support/service-process";
import type { GrpcLoadResult } from "./grpc-load";
import type { WrkResult } from "./wrk";

export interface ProtocolModel {
  /** Row label, e.g. "flight-delay (binary, 1 row)". */
  readonly label: string;
  readonly dir: string;
  /** The request's input tensors; @default the model's input example, first row */
  readonly inputs?: readonly JsonTensor[];
}

export interface ProtocolRow {
  readonly model: string;
  readonly concurrency: number;
  /** The median round's figures. */
  readonly rest: WrkResult;
  readonly typed: GrpcLoadResult;
  readonly raw: GrpcLoadResult;
  /** gRPC req/s / REST req/s, median over rounds, and every round's. */
  readonly typedRatio: number;
  readonly rawRatio: number;
  readonly typedRatios: readonly number[];
  readonly rawRatios: readonly number[];
}

export interface ProtocolFloor {
  readonly concurrency: number;
  readonly bareHttp: WrkResult;
  readonly bareGrpc: GrpcLoadResult;
}

export interface ProtocolBench {
  readonly rows: ProtocolRow[];
  readonly floor: ProtocolFloor;
}

export interface ProtocolBenchOptions {
  readonly models: readonly ProtocolModel[];
  readonly concurrency: number;
  readonly rounds: number;
  readonly durationS: number;
  /** One unmeasured second per side first. */
  readonly warmUp: boolean;
  readonly outDir: string;
  readonly wrk: (url: string, body: unknown, connections: number, seconds: number) => Promise<WrkResult>;
  readonly startBare: () => Promise<{ url: string; stop(): Promise<void> }>;
  readonly serviceEnv: (modelDir: string, extra: Record<string, string>) => Record<string, string>;
  readonly log: (line: string) => void;
}

export async function benchProtocols(o: ProtocolBenchOptions): Promise<ProtocolBench> {
  const infer = inferenceServiceDefinition().ModelInfer!;
  const grpcLoad = async (address: string, request: unknown, name: string, seconds: number) => {
    const file = join(o.outDir, `grpc-request-${name}-${process.pid}.bin`);
    await writeFile(file, infer.requestSerialize(request));
    return runGrpcLoadProcess(address, GRPC_METHODS.modelInfer, file, o.concurrency, seconds);
  };
  const rows: ProtocolRow[] = [];
  for (const model of o.models) {
    const inputs = model.inputs ?? (await modelExampleTensors(model.dir, 1));
    // A deadline far beyond any wait at this concurrency: capacity, not shedding.
    const service = await startService({ env: o.serviceEnv(model.dir, { [ENV.requestTimeoutMs]: "30000" }) });
    try {
      const name = await servedName(service.url);
      const url = `${service.url}/v2/models/${name}/infer`;
      const body = { inputs };
      const typed = typedRequest(name, inputs);
      const raw = rawRequest(name, inputs);
      await checkSameAnswers(url, service.grpcAddress, body, typed, raw);
      if (o.warmUp) {
        await o.wrk(url, body, o.concurrency, 1);
        await grpcLoad(service.grpcAddress, typed, "typed", 1);
        await grpcLoad(service.grpcAddress, raw, "raw", 1);
      }
      const rounds: { rest: WrkResult; typed: GrpcLoadResult; raw: GrpcLoadResult }[] = [];
      for (let round = 0; round < o.rounds; round++) {
        rounds.push({
          rest: await o.wrk(url, body, o.concurrency, o.durationS),
          typed: await grpcLoad(service.grpcAddress, typed, "typed", o.durationS),
          raw: await grpcLoad(service.grpcAddress, raw, "raw", o.durationS),
        });
      }
      const typedRatios = rounds.map((r) => r.typed.rps / r.rest.rps);
      const rawRatios = rounds.map((r) => r.raw.rps / r.rest.rps);
      const median = [...rounds].sort((a, b) => a.typed.rps / a.rest.rps - b.typed.rps / b.rest.rps)[Math.floor(rounds.length / 2)]!;
      const row = { model: model.label, concurrency: o.concurrency, ...median, typedRatio: medianOf(typedRatios), rawRatio: medianOf(rawRatios), typedRatios, rawRatios };
      rows.push(row);
      o.log(
        `protocols ${model.label} c=${o.concurrency}: REST ${row.rest.rps.toFixed(0)} req/s p99 ${row.rest.p99Ms.toFixed(2)} ms, ` +
          `gRPC typed ${row.typed.rps.toFixed(0)} req/s p99 ${row.typed.p99Ms.toFixed(2)} ms (${(100 * row.typedRatio).toFixed(0)}%), ` +
          `gRPC raw ${row.raw.rps.toFixed(0)} req/s p99 ${row.raw.p99Ms.toFixed(2)} ms (${(100 * row.rawRatio).toFixed(0)}%)`,
      );
    } finally {
      await service.stop();
    }
  }

  const bare = await o.startBare();
  const bareGrpc = await startBareGrpc();
  try {
    const inputs = o.models[0]!.inputs ?? (await modelExampleTensors(o.models[0]!.dir, 1));
    const bareHttp = await o.wrk(`${bare.url}/predict`, { inputs }, o.concurrency, o.durationS);
    const grpc = await grpcLoad(bareGrpc.address, typedRequest("bare", inputs), "bare", o.durationS);
    o.log(`protocols floor c=${o.concurrency}: bare Fastify ${bareHttp.rps.toFixed(0)} req/s, bare grpc-js ${grpc.rps.toFixed(0)} req/s`);
    return { rows, floor: { concurrency: o.concurrency, bareHttp, bareGrpc: grpc } };
  } finally {
    await Promise.all([bare.stop(), bareGrpc.stop()]);
  }
}

async function servedName(url: string): Promise<string> {
  return ((await (await fetch(`${url}/readyz`)).json()) as { model: string }).model;
}

/** One call each way before the load: the same outputs over REST and gRPC (typed and raw), or the bench stops. */
async function checkSameAnswers(url: string, grpcAddress: string, body: unknown, typed: unknown, raw: unknown): Promise<void> {
  const rest = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!rest.ok) throw new Error(`REST ${url} answered ${rest.status}: ${await rest.text()}`);
  const expected = ((await rest.json()) as { outputs: JsonTensor[] }).outputs;
  const client = inferenceClient(grpcAddress);
  try {
    for (const [name, request] of [["typed", typed], ["raw", raw]] as const) {
      const outputs = responseTensors(await client.modelInfer(request as never));
      if (!isDeepStrictEqual(outputs, expected)) throw new Error(`gRPC (${name}) answered other outputs than REST for the same request`);
    }
  } finally {
    client.close();
  }
}

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** bench/grpc-load.ts in its own process (as wrk is), so the generator never shares the service's event loop. */
function runGrpcLoadProcess(address: string, method: string, requestFile: string, concurrency: number, seconds: number): Promise<GrpcLoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, "grpc-load.js"), address, method, requestFile, String(concurrency), String(seconds)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = output.split("\n").find((l) => l.startsWith("GRPC_LOAD_RESULT "));
      if (code !== 0 || !line) return reject(new Error(`grpc-load exited with ${code}:\n${output}`));
      resolve(JSON.parse(line.slice("GRPC_LOAD_RESULT ".length)) as GrpcLoadResult);
    });
  });
}

async function startBareGrpc(): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, "bare-grpc-server.js")], {
    env: { ...process.env, [ENV.grpcPort]: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  await waitFor(`the bare gRPC server on ${port}`, async () => (output.includes("listening") ? true : undefined), 15000, 50);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
