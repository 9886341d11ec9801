/**
 * The gRPC rows' baseline, as bare-server.ts is the HTTP one: a bare @grpc/grpc-js process serving ModelInfer
 * from the same .proto, decoding each request (as the service must) and answering one constant, pre-serialized
 * response. What the service's gRPC req/s is compared to: Node + grpc-js + protobuf decoding on this machine,
 * and the load generator's own ceiling.
 */
import * as grpc from "@grpc/grpc-js";
import { ENV } from "../service/src/contract";
import { toParameters } from "../service/src/grpc/messages";
import { inferenceServiceDefinition } from "../service/src/grpc/proto";

async function main(): Promise<void> {
  const definition = inferenceServiceDefinition();
  const infer = definition.ModelInfer!;
  const answer = infer.responseSerialize({
    model_name: "bare",
    model_version: "1",
    id: "",
    parameters: toParameters({ fallback: false }),
    outputs: [{ name: "probabilities", datatype: "FP32", shape: [1, 2], contents: { fp32_contents: [0.5, 0.5] } }],
  });
  const server = new grpc.Server();
  server.addService({ ModelInfer: { ...infer, responseSerialize: (bytes: Buffer) => bytes } }, {
    ModelInfer: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, answer),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${Number(process.env[ENV.grpcPort] ?? 0)}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  process.stdout.write(`listening ${port}\n`);
  process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
}

void main();
