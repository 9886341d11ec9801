/**
 * The real process with the prediction log on a real PostgreSQL: SIGTERM under load loses nothing (one row per
 * answered prediction, same ids), and a database it cannot log into never stops it from serving.
 */
import { ENV, PREDICTION_LOG_COLUMNS as C, PREDICTION_LOG_TABLE, ROUTES } from "../../service/src/contract";
import { TestPostgres } from "../support/postgres";
import { embeddedModel } from "../support/service-app";
import { startService } from "../support/service-process";
import { sleep } from "../support/net";

let pg: TestPostgres;
let example: Record<string, unknown>;

beforeAll(async () => {
  example = { ...(await embeddedModel()).inputExample[0]! };
  pg = await TestPostgres.start();
}, 60000);
afterAll(() => pg?.destroy());

it("flushes every answered prediction on SIGTERM under load: rows = answers, exactly once", async () => {
  const url = await pg.createDatabase("sigterm");
  const service = await startService({ env: { [ENV.predictionLogUrl]: url, [ENV.shutdownDelaySeconds]: "0.5", [ENV.podName]: "replica-a" } });
  const answered = new Set<string>();
  let routable = true;
  const worker = async () => {
    while (routable) {
      // On a loaded machine the readiness probe can notice the drain after the listener closed: a refused
      // connection then is what a load balancer would have stopped routing, not a lost answer.
      const response = await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(example) }).catch(() => undefined);
      if (!response) break;
      expect(response.status).toBe(200);
      answered.add(((await response.json()) as { prediction_id: string }).prediction_id);
    }
  };
  const probe = async () => {
    while (routable) {
      if ((await fetch(service.url + ROUTES.readyz).then((r) => r.status, () => 0)) !== 200) routable = false;
      await sleep(50);
    }
  };
  const load = Promise.all([...Array.from({ length: 16 }, worker), probe()]);
  await sleep(1500);
  const exit = service.stop("SIGTERM");
  await load;
  expect(await exit).toBe(0);
  expect(answered.size).toBeGreaterThan(20);

  const rows = await pg.query<{ id: string; seq: string }>(`SELECT ${C.predictionId}::text AS id, ${C.seq}::text AS seq FROM ${PREDICTION_LOG_TABLE} WHERE ${C.replica} = 'replica-a'`, [], "sigterm");
  expect(rows.length).toBe(answered.size);
  expect(new Set(rows.map((r) => r.id))).toEqual(answered);
  expect(new Set(rows.map((r) => r.seq)).size).toBe(rows.length);
}, 60000);

it("serves predictions with a database it cannot log into, and says so in readiness", async () => {
  const wrong = pg.url("postgres", { password: "wrong-password" });
  const service = await startService({ env: { [ENV.predictionLogUrl]: wrong } });
  try {
    const response = await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(example) });
    expect(response.status).toBe(200);
    const ready = await fetch(service.url + ROUTES.readyz);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { prediction_log: { enabled: boolean; healthy: boolean; reason?: string } };
    expect(body.prediction_log).toMatchObject({ enabled: true, healthy: false });
    expect(body.prediction_log.reason).toMatch(/password|authentication/i);
    expect(service.output()).not.toContain("wrong-password");
  } finally {
    expect(await service.stop()).toBe(0);
  }
}, 60000);
