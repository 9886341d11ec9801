/**
 * The benchmark's baseline: a bare Fastify process with one POST route that parses the JSON body and answers a
 * constant prediction. The service's req/s is reported as a share of this, so the figure says what the model,
 * validation, batching and metrics cost on top of Node + Fastify on the same machine.
 */
import Fastify from "fastify";
import { ENV, ROUTES } from "../service/src/contract";

const ANSWER = { prediction_id: "00000000-0000-0000-0000-000000000000", probability: 0.5, label: 0, fallback: false };

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  app.post(ROUTES.predict, async () => ANSWER);
  await app.listen({ port: Number(process.env[ENV.port] ?? 0), host: "127.0.0.1" });
  const address = app.server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : 0}\n`);
  process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
}

void main();
