/**
 * The benchmark's baseline: a bare Fastify process with a /predict and a V2 infer route that parse the JSON body
 * and answer a constant prediction. The service's req/s is reported as a share of this, so the figure says what the model,
 * validation, batching and metrics cost on top of Node + Fastify on the same machine.
 */
import Fastify from "fastify";
import { ENV, ROUTES } from "../service/src/contract";

const ANSWER = { prediction_id: "00000000-0000-0000-0000-000000000000", probability: 0.5, label: 0, fallback: false };
/** What a V2 infer answer to the bench's one-row requests looks like, for the Open Inference Protocol baseline. */
const V2_ANSWER = {
  model_name: "bare",
  model_version: "1",
  id: "bare",
  parameters: { fallback: false, prediction_ids: ANSWER.prediction_id },
  outputs: [{ name: "output", datatype: "FP32", shape: [1, 2], data: [0.5, 0.5] }],
};

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  app.post(ROUTES.predict, async () => ANSWER);
  app.post(ROUTES.v2.infer, async () => V2_ANSWER);
  await app.listen({ port: Number(process.env[ENV.port] ?? 0), host: "127.0.0.1" });
  const address = app.server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : 0}\n`);
  process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
}

void main();
