/**
 * The plugin under real HTTP load against a real PostgreSQL: nothing accepted is lost, nothing is written
 * twice, through a database crash and through shutdown.
 */
import { Registry } from "prom-client";
import { METRICS } from "../../service/src/contract";
import { PostgresSink } from "../../service/src/prediction-log/postgres-sink";
import { PredictionLogWriter, createPool } from "../../service/src/prediction-log/writer";
import { TestPostgres } from "../support/postgres";
import { buildTestApp, entry, memoryLogger, metricValue, rowCount, tempDir, waitFor, type TestApp } from "./support";

interface LoadResult {
  ok: number;
  failed: number;
  ids: string[];
}

/** `concurrency` clients calling GET /predict back to back until stop() says so. */
async function drive(baseUrl: string, concurrency: number, stop: (done: number) => boolean): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: 0, ids: [] };
  const client = async () => {
    while (!stop(result.ok + result.failed)) {
      try {
        const response = await fetch(`${baseUrl}/predict`);
        if (response.status === 200) {
          result.ok++;
          result.ids.push(((await response.json()) as { prediction_id: string }).prediction_id);
        } else {
          result.failed++;
          await response.arrayBuffer();
        }
      } catch {
        result.failed++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return result;
}

async function listen(app: TestApp["app"]): Promise<string> {
  return app.listen({ port: 0, host: "127.0.0.1" });
}

describe("prediction log under load (real HTTP, real PostgreSQL)", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await TestPostgres.start();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it("writes exactly as many rows as predictions were accepted", async () => {
    const url = await pg.createDatabase("load");
    const t = await buildTestApp({ url });
    try {
      const base = await listen(t.app);
      const result = await drive(base, 50, (done) => done >= 6000);
      expect(result.failed).toBe(0);
      await waitFor(async () => (await rowCount(pg, "load")) >= result.ok && t.app.predictionLog.status().queueDepth === 0, 20_000, "rows");
      const [counts] = await pg.query<{ n: number; ids: number }>(
        "SELECT count(*)::int AS n, count(DISTINCT prediction_id)::int AS ids FROM prediction_log",
        [],
        "load",
      );
      expect(counts).toEqual({ n: result.ok, ids: result.ok });
      expect(await metricValue(t.registry, METRICS.predictionLogWrittenTotal)).toBe(result.ok);
      expect(await metricValue(t.registry, METRICS.predictionLogSpilledTotal)).toBe(0);
    } finally {
      await t.app.close();
    }
  });

  it("survives the database crashing mid-load: every accepted prediction once, in seq order, spill and replay counted", async () => {
    const url = await pg.createDatabase("outage");
    // A small queue so the outage overflows to the spill within a second.
    const t = await buildTestApp({ url, maxQueue: 300, batchSize: 200 });
    try {
      const base = await listen(t.app);
      await waitFor(() => t.app.predictionLog.status().healthy, 10_000, "schema ready");
      const started = Date.now();
      let phase = "before";
      const outage = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await pg.stop("immediate");
        phase = "down";
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(t.app.predictionLog.status()).toMatchObject({ enabled: true, healthy: false });
        expect(t.app.predictionLog.status().spillDepth).toBeGreaterThan(0);
        await pg.start();
        phase = "restarted";
      })();
      const result = await drive(base, 30, () => phase === "restarted" && Date.now() - started > 5000);
      await outage;
      expect(result.failed).toBe(0);
      await waitFor(
        async () => t.app.predictionLog.status().spillDepth === 0 && t.app.predictionLog.status().queueDepth === 0 && (await rowCount(pg, "outage")) >= result.ok,
        30_000,
        "replay",
      );
      const [counts] = await pg.query<{ n: number; ids: number; seqs: number; span: string }>(
        `SELECT count(*)::int AS n, count(DISTINCT prediction_id)::int AS ids, count(DISTINCT seq)::int AS seqs,
                (max(seq) - min(seq) + 1)::text AS span FROM prediction_log WHERE replica = 'replica-a'`,
        [],
        "outage",
      );
      expect(counts).toEqual({ n: result.ok, ids: result.ok, seqs: result.ok, span: String(result.ok) });
      // Rows by seq follow the order record() saw them, and were inserted in that order (xmin never goes back).
      const rows = await pg.query<{ index: number; xmin: string }>(
        `SELECT (features->>'index')::int AS index, xmin::text AS xmin FROM prediction_log ORDER BY seq`,
        [],
        "outage",
      );
      expect(rows.map((r) => r.index)).toEqual(Array.from({ length: result.ok }, (_, i) => i));
      const xmins = rows.map((r) => Number(r.xmin));
      expect(xmins.every((x, i) => i === 0 || x >= xmins[i - 1]!)).toBe(true);
      const spilled = await metricValue(t.registry, METRICS.predictionLogSpilledTotal);
      const replayed = await metricValue(t.registry, METRICS.predictionLogReplayedTotal);
      const written = await metricValue(t.registry, METRICS.predictionLogWrittenTotal);
      console.log(
        `outage test: ${result.ok} predictions accepted, ${counts!.n} rows, spilled ${spilled}, replayed ${replayed}, ` +
          `written_total ${written}, dropped ${await metricValue(t.registry, METRICS.predictionLogDroppedTotal)}`,
      );
      expect(spilled).toBeGreaterThan(0);
      expect(replayed).toBe(spilled);
      expect(await metricValue(t.registry, METRICS.predictionLogDroppedTotal)).toBe(0);
      // A batch committed just before the crash and retried counts once, as the rows do (never more).
      expect(written).toBeLessThanOrEqual(result.ok);
      expect(t.app.predictionLog.status()).toMatchObject({ healthy: true });
      const degraded = t.logs.find((l) => l.level === 50 && /DEGRADED/.test(l.msg));
      expect(degraded).toBeDefined();
      expect(t.logs.some((l) => /the sink is behind/.test(l.msg))).toBe(true);
      expect(t.logs.some((l) => /reachable again/.test(l.msg))).toBe(true);
    } finally {
      await t.app.close();
    }
  });

  it("loses nothing when the app closes under load: written to the table, late entries kept in the journal and written by the next start", async () => {
    const url = await pg.createDatabase("shutdown");
    const spillDir = tempDir("spill-");
    const t = await buildTestApp({ url, spillDir });
    const base = await listen(t.app);
    await waitFor(() => t.app.predictionLog.status().healthy, 10_000, "schema ready");
    let closed = false;
    const load = drive(base, 30, () => closed);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const queuedAtClose = t.app.predictionLog.status().queueDepth;
    // Keep recording through the close and after it, as requests still in flight do.
    const recordOne = () => {
      const e = entry(t.recorded.length);
      t.recorded.push(e);
      t.app.predictionLog.record(e);
    };
    const late = setInterval(recordOne, 1);
    await t.app.close();
    clearInterval(late);
    for (let i = 0; i < 10; i++) recordOne();
    closed = true;
    const result = await load;
    // Requests that finished before the close: all in the table already; only entries recorded after it wait.
    const inTable = await rowCount(pg, "shutdown");
    expect(inTable).toBeGreaterThanOrEqual(result.ok);
    // Entries recorded after the close went to the journal's file; the next start writes them.
    const pool = createPool(url, "next");
    const next = new PredictionLogWriter({ sink: new PostgresSink({ pool }), replica: "replica-a", spillDir, logger: memoryLogger(), registry: new Registry() });
    // Every entry not in the table is in the journal. It can hold a few more: the close waits for the backlog until
    // its deadline (late entries kept it from emptying), and a COPY still in flight then may commit in the database
    // after the journal stopped taking commits; the next start writes those again and the primary key drops them.
    expect(next.status().spillDepth).toBeGreaterThanOrEqual(t.recorded.length - inTable);
    // ... but the checkpoint did move: a journal replayed from its start would hold every entry.
    expect(next.status().spillDepth).toBeLessThan(t.recorded.length - inTable + (inTable >> 1));
    next.start();
    await waitFor(() => next.status().spillDepth === 0, 10_000, "replay");
    await next.close();
    await pool.end();
    const [counts] = await pg.query<{ n: number; ids: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT prediction_id)::int AS ids FROM prediction_log",
      [],
      "shutdown",
    );
    console.log(
      `shutdown test: ${t.recorded.length} recorded (${result.ok} answered over HTTP, ${queuedAtClose} queued at close), ` +
        `${inTable} rows right after close, ${counts!.n} after the next start wrote the late ones`,
    );
    expect(counts).toEqual({ n: t.recorded.length, ids: t.recorded.length });
  });
});
