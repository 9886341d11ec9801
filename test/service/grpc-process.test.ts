/**
 * The real process over gRPC, with the prediction log on a real PostgreSQL: SIGTERM under a gRPC load lets every
 * call in flight answer, refuses later ones with UNAVAILABLE (never INTERNAL or a reset mid-answer), exits 0, and
 * every prediction a gRPC answer carried is in the log exactly once, with its features.
 */
import * as grpc from "@grpc/grpc-js";
import { EMBEDDED_MODEL_DIR, ENV, PREDICTION_LOG_COLUMNS as C, PREDICTION_LOG_TABLE } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { inferenceClient, modelExampleTensors, responseParameters, typedRequest } from "../support/grpc-client";
import { sleep } from "../support/net";
import { TestPostgres } from "../support/postgres";
import { startService } from "../support/service-process";

let pg: TestPostgres;
beforeAll(async () => {
  pg = await TestPostgres.start();
}, 60000);
afterAll(() => pg?.destroy());

it("drains gRPC calls on SIGTERM and logs every prediction they answered, exactly once", async () => {
  const url = await pg.createDatabase("grpc");
  const service = await startService({ env: { [ENV.predictionLogUrl]: url, [ENV.shutdownDelaySeconds]: "0.5", [ENV.podName]: "replica-g" } });
  const inputs = await modelExampleTensors(`${projectRoot()}/${EMBEDDED_MODEL_DIR}`, 2);
  const request = typedRequest("flight-delay", inputs);
  const client = inferenceClient(service.grpcAddress);
  const answered: string[] = [];
  const refused: number[] = [];
  let stopped = false;
  const caller = async () => {
    while (!stopped) {
      try {
        answered.push(...String(responseParameters(await client.modelInfer(request)).prediction_ids).split(","));
      } catch (error) {
        refused.push((error as grpc.ServiceError).code);
        return; // a closing server answers every later call the same way
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, caller));
  await sleep(1500);
  const exit = service.stop("SIGTERM");
  expect(await exit).toBe(0);
  stopped = true;
  await load;
  client.close();
  expect(answered.length).toBeGreaterThan(50);
  expect(new Set(refused)).toEqual(refused.length > 0 ? new Set([grpc.status.UNAVAILABLE]) : new Set());
  const rows = await pg.query<{ id: string; hour: string }>(
    `SELECT ${C.predictionId}::text AS id, ${C.features}->>'hour' AS hour FROM ${PREDICTION_LOG_TABLE} WHERE ${C.replica} = 'replica-g'`,
    [],
    "grpc",
  );
  expect(rows.length).toBe(answered.length);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(answered));
  expect(new Set(rows.map((r) => r.hour))).toEqual(new Set(inputs.find((t) => t.name === "hour")!.data.map(String)));
}, 60000);
