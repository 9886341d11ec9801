/**
 * The real process (node dist/service/src/server.js): SIGTERM while the database is down leaves the backlog in
 * the journal under PREDICTION_LOG_SPILL_DIR, and the next process on that directory writes it, so every
 * answered prediction still ends in the table exactly once. (SIGTERM with the database up: test/service/prediction-log-process.test.ts.)
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ENV, PREDICTION_LOG_COLUMNS as C, PREDICTION_LOG_TABLE, ROUTES } from "../../service/src/contract";
import { sleep } from "../support/net";
import { TestPostgres } from "../support/postgres";
import { embeddedModel } from "../support/service-app";
import { startService } from "../support/service-process";
import { tempDir, waitFor } from "./support";

let pg: TestPostgres;
let example: Record<string, unknown>;
beforeAll(async () => {
  example = { ...(await embeddedModel()).inputExample[0]! };
  pg = await TestPostgres.start();
});
afterAll(() => pg?.destroy());

it("SIGTERM with the database down: backlog kept in the journal, written by the next process, every answer in the table once", async () => {
  const url = await pg.createDatabase("process_spill");
  const spillDir = tempDir("spill-");
  const env = { [ENV.predictionLogUrl]: url, [ENV.predictionLogSpillDir]: spillDir, [ENV.podName]: "replica-b", [ENV.shutdownDelaySeconds]: "0" };
  const first = await startService({ env });
  const answered = new Set<string>();
  let running = true;
  const worker = async () => {
    while (running) {
      const response = await fetch(first.url + ROUTES.predict, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(example),
      }).catch(() => undefined);
      if (response?.status === 200) answered.add(((await response.json()) as { prediction_id: string }).prediction_id);
      else await sleep(10);
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, worker));
  await sleep(1000);
  const answeredBeforeOutage = answered.size;
  await pg.stop("immediate");
  await sleep(1000);
  running = false;
  await load;
  const beforeStop = Date.now();
  expect(await first.stop("SIGTERM")).toBe(0);
  const stopMs = Date.now() - beforeStop;
  expect(first.output()).toMatch(/the journal keeps the rest for the next start/);
  expect(readdirSync(join(spillDir, "predictions")).some((f) => f.endsWith(".journal"))).toBe(true);

  await pg.start();
  const second = await startService({ env });
  try {
    const spillDepth = async () => ((await (await fetch(second.url + ROUTES.readyz)).json()) as { prediction_log: { spillDepth: number } }).prediction_log.spillDepth;
    await waitFor(async () => (await spillDepth()) === 0, 20_000, "replay of the journal");
    const rows = await pg.query<{ id: string }>(
      `SELECT ${C.predictionId}::text AS id FROM ${PREDICTION_LOG_TABLE} WHERE ${C.replica} = 'replica-b'`,
      [],
      "process_spill",
    );
    console.log(`process spill test: ${answered.size} answered (${answeredBeforeOutage} before the outage), ${rows.length} rows after replay, SIGTERM to exit ${stopMs} ms`);
    expect(answered.size).toBeGreaterThan(20);
    expect(rows).toHaveLength(answered.size);
    expect(new Set(rows.map((r) => r.id))).toEqual(answered);
  } finally {
    expect(await second.stop()).toBe(0);
  }
});
