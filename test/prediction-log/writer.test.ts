import { newPredictionId } from "../../service/src/model/prediction-id";
import { execFile } from "node:child_process";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Registry } from "prom-client";
import { METRICS } from "../../service/src/contract";
import { MIGRATIONS, MIGRATIONS_TABLE, maintain, migrate } from "../../service/src/prediction-log/schema";
import { PostgresSink, type PostgresSinkOptions } from "../../service/src/prediction-log/postgres-sink";
import { PredictionLogWriter, createPool, type PredictionLogWriterOptions } from "../../service/src/prediction-log/writer";
import { TestPostgres } from "../support/postgres";
import { entry, memoryLogger, metricValue, rowCount, tempDir, waitFor } from "./support";

const run = promisify(execFile);
const root = join(__dirname, "..", "..");

describe("prediction-log schema and writer (real PostgreSQL)", () => {
  let pg: TestPostgres;
  const pools: Array<ReturnType<typeof createPool>> = [];
  const writers: PredictionLogWriter[] = [];
  beforeAll(async () => {
    pg = await TestPostgres.start();
  });
  afterEach(async () => {
    await Promise.all(writers.splice(0).map((w) => w.close(1000)));
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  const pool = (url: string) => {
    const p = createPool(url, "test");
    pools.push(p);
    return p;
  };
  const writer = (options: Partial<PredictionLogWriterOptions> & Partial<PostgresSinkOptions> & { pool: PostgresSinkOptions["pool"] }) => {
    const w = new PredictionLogWriter({
      replica: "r1",
      spillDir: tempDir("spill-"),
      logger: memoryLogger(),
      registry: new Registry(),
      fsyncIntervalMs: 0,
      sink: new PostgresSink(options),
      ...options,
    });
    writers.push(w);
    return w;
  };

  it("applies each migration once when several replicas start together, and again is a no-op", async () => {
    const url = await pg.createDatabase("migrations");
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(pool(url))));
    expect(results.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(pool(url))).toEqual([]);
    const applied = await pg.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`, [], "migrations");
    expect(applied).toHaveLength(MIGRATIONS.length);
  });

  it("keeps daily partitions ahead, drops expired ones, and keeps concurrent maintenance safe", async () => {
    const url = await pg.createDatabase("partitions");
    await migrate(pool(url));
    await pg.query(`CREATE TABLE prediction_log_p20000101 PARTITION OF prediction_log FOR VALUES FROM ('2000-01-01') TO ('2000-01-02')`, [], "partitions");
    await Promise.all(Array.from({ length: 3 }, () => maintain(pool(url), { daysAhead: 3, retentionDays: 30 })));
    const parts = (
      await pg.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'prediction_log'::regclass`,
        [],
        "partitions",
      )
    ).map((r) => r.name);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");
    expect(parts).toEqual(expect.arrayContaining(["prediction_log_default", `prediction_log_p${day(-1)}`, `prediction_log_p${day(0)}`, `prediction_log_p${day(3)}`]));
    expect(parts).not.toContain("prediction_log_p20000101");
    // The drift job's query prunes to the window's partitions.
    const [plan] = await pg.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (FORMAT TEXT) SELECT * FROM prediction_log WHERE model_name = 'm' AND created_at >= '${new Date().toISOString()}' AND created_at < '${new Date(Date.now() + 3_600_000).toISOString()}'`,
      [],
      "partitions",
    );
    expect(JSON.stringify(plan)).not.toContain("prediction_log_default");
  });

  it("writes every recorded entry once, in seq order, and measures throughput", async () => {
    const url = await pg.createDatabase("throughput");
    const registry = new Registry();
    const w = writer({ pool: pool(url), registry });
    w.start();
    await waitFor(() => w.status().healthy, 10_000, "schema ready");
    const total = 50_000;
    const entries = Array.from({ length: total }, (_, i) => entry(i));
    const started = process.hrtime.bigint();
    for (const e of entries) w.record(e);
    await waitFor(async () => (await rowCount(pg, "throughput")) === total, 60_000, "all rows");
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`prediction-log writer (COPY): ${total} rows in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} rows/s`);
    const [check] = await pg.query<{ n: number; ids: number; seqs: number; span: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT prediction_id)::int AS ids, count(DISTINCT seq)::int AS seqs, (max(seq) - min(seq) + 1)::text AS span FROM prediction_log`,
      [],
      "throughput",
    );
    expect(check).toEqual({ n: total, ids: total, seqs: total, span: String(total) });
    expect(await metricValue(registry, METRICS.predictionLogWrittenTotal)).toBe(total);
  });

  it("drops only the row the database refuses (NUL in a jsonb string), counted, and writes the rest of its batch", async () => {
    const url = await pg.createDatabase("poison");
    const registry = new Registry();
    const logger = memoryLogger();
    const w = writer({ pool: pool(url), registry, logger });
    w.start();
    for (let i = 0; i < 10; i++) w.record(entry(i, i === 4 ? { features: { index: i, origin: "S\u0000FO" } } : {}));
    expect(await w.flush(10_000)).toBe(true);
    expect(await rowCount(pg, "poison")).toBe(9);
    expect(await metricValue(registry, METRICS.predictionLogDroppedTotal, { reason: "rejected" })).toBe(1);
    expect(await metricValue(registry, METRICS.predictionLogWrittenTotal)).toBe(9);
    expect(logger.lines.some((l) => l.level === "error" && /refused by the sink/.test(l.msg))).toBe(true);
  });

  it("samples by prediction id at the configured rate (the service's UUIDv7 ids, made within a few ms: their first bits are all one time)", async () => {
    const url = await pg.createDatabase("sampling");
    const w = writer({ pool: pool(url), sampleRate: 0.25 });
    w.start();
    for (let i = 0; i < 4000; i++) w.record(entry(i, { predictionId: newPredictionId() }));
    expect(await w.flush(10_000)).toBe(true);
    const rows = await rowCount(pg, "sampling");
    expect(rows).toBeGreaterThan(800);
    expect(rows).toBeLessThan(1200);
  });

  it("database down at shutdown: the journal keeps everything; the next start writes it in order, exactly once, a torn line counted", async () => {
    const url = await pg.createDatabase("restart");
    const spillDir = tempDir("spill-");
    const first = writer({ pool: pool(url), spillDir, windowRows: 100 });
    first.start();
    await waitFor(() => first.status().healthy, 10_000, "schema ready");
    await pg.stop("immediate");
    for (let i = 0; i < 250; i++) first.record(entry(i));
    await first.close(500);
    expect(first.status()).toMatchObject({ queueDepth: 100, spillDepth: 150 });
    // A torn last line, as a machine crash mid-write would leave it: skipped and counted, nothing else lost.
    const journalDir = join(spillDir, "predictions");
    const newest = readdirSync(journalDir).filter((f) => f.endsWith(".journal")).sort().at(-1)!;
    appendFileSync(join(journalDir, newest), "00000000-0000");

    await pg.start();
    const registry = new Registry();
    const second = writer({ pool: pool(url), spillDir, registry });
    expect(second.status().spillDepth).toBe(250);
    second.start();
    for (let i = 250; i < 300; i++) second.record(entry(i));
    await waitFor(async () => (await rowCount(pg, "restart")) === 300 && second.status().spillDepth === 0, 20_000, "replay");
    // Entries recorded while an earlier run's backlog is being written wait behind it (that keeps seq order).
    expect(await metricValue(registry, METRICS.predictionLogSpilledTotal)).toBe(50);
    expect(await metricValue(registry, METRICS.predictionLogReplayedTotal)).toBe(300);
    expect(await metricValue(registry, METRICS.predictionLogDroppedTotal, { reason: "spill_unreadable" })).toBe(1);
    expect(await metricValue(registry, METRICS.predictionLogDroppedTotal, { reason: "lost" })).toBe(0);
    const rows = await pg.query<{ index: number }>(`SELECT (features->>'index')::int AS index FROM prediction_log ORDER BY seq`, [], "restart");
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it("moves the previous release's spill files into the journal once (an upgrade in place loses none of them)", async () => {
    const url = await pg.createDatabase("legacy");
    const spillDir = tempDir("spill-");
    const row = (i: number) =>
      JSON.stringify({
        prediction_id: `00000000-0000-4000-8000-00000000000${i}`,
        model_name: "flight-delay",
        model_version: "3",
        variant: "stable",
        created_at: new Date().toISOString(),
        features: { index: i },
        probability: 0.9,
        label: 1,
        latency_ms: 0.5,
        fallback: false,
        replica: "r1",
        seq: String(1000 + i),
      });
    const file = join(spillDir, `spill-${"1000".padStart(20, "0")}.jsonl`);
    writeFileSync(file, `${[0, 1, 2].map(row).join("\n")}\n`);
    // The first line was already replayed before the upgrade.
    writeFileSync(file.replace(/\.jsonl$/, ".offset"), String(row(0).length + 1));
    const w = writer({ pool: pool(url), spillDir });
    expect(readdirSync(spillDir).filter((f) => f.startsWith("spill-"))).toEqual([]);
    w.start();
    expect(await w.flush(20_000)).toBe(true);
    const rows = await pg.query<{ index: number; task: string; label: string }>(`SELECT (features->>'index')::int AS index, task, label FROM prediction_log ORDER BY seq`, [], "legacy");
    expect(rows).toEqual([
      { index: 1, task: "binary", label: "1" },
      { index: 2, task: "binary", label: "1" },
    ]);
  });

  it("keeps its backoff while the database is down and entries pile up: no reconnect attempt per entry", async () => {
    const url = await pg.createDatabase("backoff");
    const registry = new Registry();
    const w = writer({ pool: pool(url), registry, batchRows: 100 });
    w.start();
    await waitFor(() => w.status().healthy, 10_000, "schema ready");
    await pg.stop("immediate");
    try {
      const attempts = async () => {
        const { values } = await registry.getSingleMetric(METRICS.predictionLogWriteDurationSeconds)!.get();
        return values.find((v) => String((v as { metricName?: string }).metricName).endsWith("_count"))?.value ?? 0;
      };
      const before = await attempts();
      // 5000 entries over about two seconds, each turn's worth past a batch: the old writer woke from its backoff
      // for every one of them once the queue held a batch (thousands of attempts).
      for (let i = 0; i < 50; i++) {
        for (let j = 0; j < 100; j++) w.record(entry(i * 100 + j));
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      const made = (await attempts()) - before;
      console.log(`prediction-log writer: ${made} write attempts while the database was down and 5000 entries arrived`);
      expect(made).toBeLessThan(30);
      expect(w.status()).toMatchObject({ healthy: false, queueDepth: expect.any(Number) });
    } finally {
      await pg.start();
    }
    expect(await w.flush(20_000)).toBe(true);
    expect(await rowCount(pg, "backoff")).toBe(5000);
  });

  it("migrate CLI: applies the schema, and fails clearly without leaking the password", async () => {
    const url = await pg.createDatabase("cli");
    const cli = join(root, "dist", "service", "src", "prediction-log", "migrate-cli.js");
    const ok = await run(process.execPath, [cli], { env: { ...process.env, PREDICTION_LOG_URL: url } });
    expect(JSON.parse(ok.stdout)).toMatchObject({ applied: MIGRATIONS.map((m) => m.version), retentionDays: 30 });
    const wrong = pg.url("cli", { password: "not-the-password" });
    const failed = await run(process.execPath, [cli], { env: { ...process.env, PREDICTION_LOG_URL: wrong } }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/password authentication failed/);
    expect(failed.stderr).not.toContain("not-the-password");
    const missing = await run(process.execPath, [cli], { env: { ...process.env, PREDICTION_LOG_URL: "" } }).catch((e) => e);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("PREDICTION_LOG_URL");
  });
});
