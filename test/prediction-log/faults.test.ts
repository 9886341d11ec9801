/**
 * Fault runs against the real process (node dist/service/src/server.js) under HTTP load, with a real PostgreSQL
 * and a real S3 API (s3rver): SIGKILL with the sink up and down, a sink outage mid-load, a spill capped or
 * on a full disk. Each run compares the prediction ids the client was answered with (accepted) against the rows
 * in the sink after a second process on the same spill directory has written what the first left: every
 * accepted id is there exactly once; rows beyond them are predictions whose answer the kill cut off (in the
 * journal before their answer, so kept, never twice); anything lost is counted. The numbers are printed.
 */
import { ENV, METRICS, PREDICTION_LOG_COLUMNS as C, PREDICTION_LOG_TABLE, ROUTES } from "../../service/src/contract";
import { sleep } from "../support/net";
import { TestPostgres } from "../support/postgres";
import { startS3, type S3Harness } from "../support/s3";
import { embeddedModel } from "../support/service-app";
import { startService, type RunningService } from "../support/service-process";
import { mountSmallDisk, smallDiskAvailable } from "../support/small-disk";
import { readRows } from "./parquet-support";
import { tempDir, waitFor } from "./support";

let pg: TestPostgres;
let s3: S3Harness;
let example: Record<string, unknown>;
beforeAll(async () => {
  example = { ...(await embeddedModel()).inputExample[0]! };
  [pg, s3] = await Promise.all([TestPostgres.start(), startS3({ buckets: ["faults"] })]);
});
afterAll(async () => {
  await Promise.all([pg?.destroy(), s3?.stop()]);
});

interface Load {
  readonly accepted: Set<string>;
  stop(): Promise<void>;
}

/**
 * `workers` clients posting predictions back to back (`batch` records per request to /predict/batch when set);
 * an answer counts as accepted once its body is read.
 */
function drive(service: RunningService, workers = 8, batch?: number): Load {
  const accepted = new Set<string>();
  let running = true;
  const route = batch ? ROUTES.predictBatch : ROUTES.predict;
  const body = JSON.stringify(batch ? Array.from({ length: batch }, () => example) : example);
  const worker = async () => {
    while (running) {
      try {
        const response = await fetch(service.url + route, { method: "POST", headers: { "content-type": "application/json" }, body });
        if (response.status !== 200) {
          await response.arrayBuffer();
          continue;
        }
        const answer = (await response.json()) as { prediction_id?: string; predictions?: Array<{ prediction_id: string }> };
        for (const p of answer.predictions ?? [answer as { prediction_id: string }]) accepted.add(p.prediction_id);
      } catch {
        await sleep(5); // the process is gone: a request in flight is not accepted
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    accepted,
    async stop() {
      running = false;
      await all;
    },
  };
}

async function status(service: RunningService): Promise<{ healthy: boolean; queueDepth: number; spillDepth: number }> {
  return ((await (await fetch(service.url + ROUTES.readyz)).json()) as { prediction_log: { healthy: boolean; queueDepth: number; spillDepth: number } }).prediction_log;
}

async function metric(service: RunningService, name: string, reason?: string): Promise<number> {
  const text = await (await fetch(service.url + ROUTES.metrics)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => reason === undefined || l.includes(`reason="${reason}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/** Starts a second process on the same spill directory and waits until it has written everything. */
async function recover(env: Record<string, string>): Promise<{ service: RunningService; lost: number; unreadable: number }> {
  const service = await startService({ env });
  await waitFor(async () => {
    const s = await status(service);
    return s.healthy && s.queueDepth === 0 && s.spillDepth === 0;
  }, 60_000, "the next process writing the journal");
  return { service, lost: await metric(service, METRICS.predictionLogDroppedTotal, "lost"), unreadable: await metric(service, METRICS.predictionLogDroppedTotal, "spill_unreadable") };
}

async function postgresRows(database: string, replica: string): Promise<string[]> {
  const rows = await pg.query<{ id: string }>(`SELECT ${C.predictionId}::text AS id FROM ${PREDICTION_LOG_TABLE} WHERE ${C.replica} = $1`, [replica], database);
  return rows.map((r) => r.id);
}

function report(run: string, accepted: Set<string>, rows: readonly string[], extra: Record<string, number> = {}) {
  const distinct = new Set(rows);
  const missing = [...accepted].filter((id) => !distinct.has(id)).length;
  console.log(
    `fault run ${run}: accepted ${accepted.size}, rows ${rows.length}, distinct ${distinct.size}, missing ${missing}, ` +
      `rows beyond the accepted (answers cut off by the kill) ${distinct.size - (accepted.size - missing)}` +
      Object.entries(extra).map(([k, v]) => `, ${k} ${v}`).join(""),
  );
  return { distinct, missing };
}

it("SIGKILL under load, database up: every accepted prediction in the table once after the next start", async () => {
  const database = "kill_up";
  const url = await pg.createDatabase(database);
  const env = { [ENV.predictionLogUrl]: url, [ENV.predictionLogSpillDir]: tempDir("spill-"), [ENV.podName]: "kill-up" };
  const first = await startService({ env });
  const load = drive(first);
  await sleep(2500);
  first.process.kill("SIGKILL");
  await first.exited;
  await load.stop();
  const next = await recover(env);
  try {
    const rows = await postgresRows(database, "kill-up");
    const { distinct, missing } = report("SIGKILL, database up", load.accepted, rows, { lost: next.lost });
    expect(load.accepted.size).toBeGreaterThan(20);
    expect(missing).toBe(0);
    expect(distinct.size).toBe(rows.length);
    expect(next.lost + next.unreadable).toBe(0);
  } finally {
    await next.service.stop();
  }
}, 180_000);

it("SIGKILL under load while the database is down: the journal keeps everything for the next start", async () => {
  const database = "kill_down";
  const url = await pg.createDatabase(database);
  const env = { [ENV.predictionLogUrl]: url, [ENV.predictionLogSpillDir]: tempDir("spill-"), [ENV.podName]: "kill-down" };
  const first = await startService({ env });
  const load = drive(first);
  await sleep(1000);
  await pg.stop("immediate");
  await sleep(2000);
  first.process.kill("SIGKILL");
  await first.exited;
  await load.stop();
  await pg.start();
  const next = await recover(env);
  try {
    const rows = await postgresRows(database, "kill-down");
    const { distinct, missing } = report("SIGKILL, database down", load.accepted, rows, { lost: next.lost });
    expect(load.accepted.size).toBeGreaterThan(20);
    expect(missing).toBe(0);
    expect(distinct.size).toBe(rows.length);
    expect(next.lost + next.unreadable).toBe(0);
  } finally {
    await next.service.stop();
  }
}, 180_000);

it("database down mid-load and back: every accepted prediction once, none dropped, recovery soon after it returns", async () => {
  const database = "outage";
  const url = await pg.createDatabase(database);
  const env = { [ENV.predictionLogUrl]: url, [ENV.predictionLogSpillDir]: tempDir("spill-"), [ENV.podName]: "outage" };
  const service = await startService({ env });
  try {
    const load = drive(service);
    await sleep(1000);
    await pg.stop("immediate");
    await sleep(4000); // long enough for the backoff to reach its ceiling
    await pg.start();
    const back = Date.now();
    await waitFor(async () => (await status(service)).healthy, 30_000, "recovery");
    const recoveryMs = Date.now() - back;
    await load.stop();
    await waitFor(async () => {
      const s = await status(service);
      return s.queueDepth === 0 && s.spillDepth === 0;
    }, 30_000, "backlog written");
    const rows = await postgresRows(database, "outage");
    const { distinct, missing } = report("database down mid-load", load.accepted, rows, {
      "recovery after the database was back (ms)": recoveryMs,
      dropped: await metric(service, METRICS.predictionLogDroppedTotal),
    });
    expect(missing).toBe(0);
    expect(distinct.size).toBe(rows.length);
    // The process never died: no answer was cut off, so rows are exactly the accepted ids.
    expect(distinct).toEqual(load.accepted);
    expect(await metric(service, METRICS.predictionLogDroppedTotal)).toBe(0);
  } finally {
    await service.stop();
  }
}, 180_000);

it("S3 sink: SIGKILL under load while S3 is down; the next start uploads every accepted prediction once", async () => {
  const env = {
    ...s3.env,
    [ENV.awsEndpointUrlS3]: s3.endpoint,
    [ENV.predictionLogUrl]: "s3://faults/kill",
    [ENV.predictionLogRollSeconds]: "1",
    [ENV.predictionLogSpillDir]: tempDir("spill-"),
    [ENV.podName]: "s3-kill",
  };
  const first = await startService({ env });
  const load = drive(first);
  await sleep(1500);
  await s3.pause();
  await sleep(1500);
  first.process.kill("SIGKILL");
  await first.exited;
  await load.stop();
  await s3.resume();
  const next = await recover(env);
  try {
    await next.service.stop(); // its own roll (nothing new) is flushed on SIGTERM
    const rows = (await readRows(s3.client, "faults", "kill/predictions/")).map((r) => r.prediction_id as string);
    const { distinct, missing } = report("S3, SIGKILL while S3 down", load.accepted, rows, { lost: next.lost });
    expect(load.accepted.size).toBeGreaterThan(20);
    expect(missing).toBe(0);
    expect(distinct.size).toBe(rows.length);
    expect(next.lost + next.unreadable).toBe(0);
  } finally {
    await next.service.stop();
  }
}, 180_000);

it("spill capped while the database is down: what exceeds the cap is dropped and counted, everything else written", async () => {
  const database = "capped";
  const url = await pg.createDatabase(database);
  const env = {
    [ENV.predictionLogUrl]: url,
    [ENV.predictionLogSpillDir]: tempDir("spill-"),
    [ENV.podName]: "capped",
    [ENV.predictionLogSpillMaxBytes]: String(16 * 2 ** 20),
  };
  await pg.stop("immediate");
  const service = await startService({ env });
  try {
    // Batches of 100 records until the cap is reached, answered all the while.
    const load = drive(service, 8, 100);
    await waitFor(async () => (await metric(service, METRICS.predictionLogDroppedTotal, "spill_full")) > 0, 120_000, "drops at the cap");
    await sleep(500);
    await load.stop();
    const bytes = await metric(service, METRICS.predictionLogSpillBytes);
    expect(bytes).toBeLessThanOrEqual(16 * 2 ** 20);
    const dropped = await metric(service, METRICS.predictionLogDroppedTotal, "spill_full");
    await pg.start();
    await waitFor(async () => {
      const s = await status(service);
      return s.healthy && s.queueDepth === 0 && s.spillDepth === 0;
    }, 60_000, "backlog written");
    const rows = await postgresRows(database, "capped");
    const answered = load.accepted.size;
    console.log(`fault run spill cap 16 MiB, database down: answered ${answered}, rows ${rows.length}, dropped spill_full ${dropped}, spill bytes at the cap ${bytes}`);
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.length + dropped).toBe(answered);
  } finally {
    await service.stop();
    await pg.start();
  }
}, 180_000);

const disk = smallDiskAvailable() ? it : it.skip;
disk("a full spill disk (a real 256 KiB tmpfs) with the database down: entries wait in memory; SIGTERM counts those it cannot keep", async () => {
  const small = mountSmallDisk(256 * 1024);
  let service: RunningService | undefined;
  let next: RunningService | undefined;
  try {
    const database = "full_disk";
    const url = await pg.createDatabase(database);
    const env = { [ENV.predictionLogUrl]: url, [ENV.predictionLogSpillDir]: small.dir, [ENV.podName]: "full-disk" };
    await pg.stop("immediate");
    service = await startService({ env });
    const load = drive(service, 8, 50);
    await waitFor(async () => (await metric(service!, METRICS.predictionLogSpillErrorsTotal)) > 0, 60_000, "the disk filling up");
    await sleep(1000);
    await load.stop();
    const errors = await metric(service, METRICS.predictionLogSpillErrorsTotal);
    const ready = (await (await fetch(service.url + ROUTES.readyz)).json()) as { prediction_log: { spill: { writable: boolean; reason: string } } };
    expect(ready.prediction_log.spill).toMatchObject({ writable: false, reason: expect.stringMatching(/ENOSPC|no space/) });
    expect(await service.stop()).toBe(0);
    const output = service.output().split("\n");
    const droppedAtExit = output
      .filter((l) => l.includes("entries dropped"))
      .map((l) => JSON.parse(l) as { reason: string; lost: number })
      .filter((l) => l.reason === "spill_write_failed")
      .reduce((sum, l) => sum + l.lost, 0);
    // Spill errors are logged rate-limited: a handful of lines, not one per entry.
    const errorLines = output.filter((l) => l.includes("cannot write the spill directory")).length;
    await pg.start();
    const recovered = await recover(env);
    next = recovered.service;
    const rows = await postgresRows(database, "full-disk");
    report("full 256 KiB spill disk, database down, SIGTERM", load.accepted, rows, {
      "dropped at exit (held in memory)": droppedAtExit,
      "spill errors": errors,
      "spill error log lines": errorLines,
    });
    expect(new Set(rows).size).toBe(rows.length);
    // Every accepted prediction is either in the table or counted as dropped.
    expect(rows.filter((id) => load.accepted.has(id)).length + droppedAtExit).toBe(load.accepted.size);
    expect(droppedAtExit).toBeGreaterThan(0);
    expect(errorLines).toBeLessThan(10);
  } finally {
    await service?.stop();
    await next?.stop();
    await pg.start();
    small.unmount();
  }
}, 180_000);
