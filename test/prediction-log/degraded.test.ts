/**
 * A database that is wrong or missing when the service starts must not take predictions down: the plugin
 * registers, predictions are served, status() and the log say logging is degraded, entries spill, and once the
 * database is there everything lands in the table.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { METRICS } from "../../service/src/contract";
import { TestPostgres } from "../support/postgres";
import { mountSmallDisk, smallDiskAvailable } from "../support/small-disk";
import { buildTestApp, metricValue, rowCount, tempDir, waitFor } from "./support";

describe("prediction log with a bad database at start", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await TestPostgres.start();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it("wrong credentials: serves predictions, reports degraded with the reason, logs one clear error", async () => {
    const url = pg.url("postgres", { password: "wrong-password" });
    const t = await buildTestApp({ url, maxQueue: 20 });
    try {
      await t.app.ready();
      for (let i = 0; i < 50; i++) expect((await t.app.inject({ method: "GET", url: "/predict" })).statusCode).toBe(200);
      await waitFor(() => /password authentication failed/.test(t.app.predictionLog.status().reason ?? ""), 10_000, "degraded status");
      expect(t.app.predictionLog.status()).toMatchObject({ enabled: true, healthy: false, queueDepth: 20, spillDepth: 30 });
      const errors = t.logs.filter((l) => l.level === 50 && /DEGRADED/.test(l.msg));
      // Once, not once per retry.
      expect(errors).toHaveLength(1);
      expect(JSON.stringify(errors[0])).toContain("password authentication failed");
      expect(JSON.stringify(t.logs)).not.toContain("wrong-password");
      expect(await metricValue(t.registry, METRICS.predictionLogQueueDepth)).toBe(20);
      expect(await metricValue(t.registry, METRICS.predictionLogSpillDepth)).toBe(30);
      expect(await metricValue(t.registry, METRICS.predictionLogDroppedTotal)).toBe(0);
    } finally {
      await t.app.close();
    }
  });

  it("unreachable at start: serves, degrades, then migrates and writes everything once the database comes up", async () => {
    const late = await TestPostgres.start();
    await late.createDatabase("late");
    await late.stop("fast");
    const t = await buildTestApp({ url: late.url("late"), maxQueue: 20 });
    try {
      await t.app.ready();
      for (let i = 0; i < 50; i++) expect((await t.app.inject({ method: "GET", url: "/predict" })).statusCode).toBe(200);
      await waitFor(() => /ECONNREFUSED/.test(t.app.predictionLog.status().reason ?? ""), 10_000, "degraded status");
      expect(t.app.predictionLog.status()).toMatchObject({ healthy: false, spillDepth: 30 });
      await late.start();
      await waitFor(async () => (await rowCount(late, "late")) === 50 && t.app.predictionLog.status().spillDepth === 0, 30_000, "recovery");
      expect(t.app.predictionLog.status()).toMatchObject({ healthy: true, queueDepth: 0, spillDepth: 0 });
      expect(t.logs.some((l) => /schema migrations applied/.test(l.msg))).toBe(true);
    } finally {
      await t.app.close();
      await late.destroy();
    }
  });

  it("spill directory unusable at start: still serves, readiness says so, entries wait in memory, and those a shutdown cannot keep are counted", async () => {
    const file = join(tempDir("not-a-dir-"), "file");
    writeFileSync(file, "");
    const t = await buildTestApp({ url: pg.url("postgres", { password: "wrong-password" }), spillDir: join(file, "spill") });
    try {
      for (let i = 0; i < 25; i++) expect((await t.app.inject({ method: "GET", url: "/predict" })).statusCode).toBe(200);
      expect(t.app.predictionLog.status().spill).toMatchObject({ writable: false, reason: expect.stringMatching(/ENOTDIR.*held in memory only/) });
      expect(await metricValue(t.registry, METRICS.predictionLogDroppedTotal)).toBe(0);
      expect(t.logs.some((l) => l.level === 50 && /spill directory unusable/.test(l.msg))).toBe(true);
    } finally {
      await t.app.close();
    }
    // The database never took them and the disk cannot keep them past the process: counted as dropped.
    expect(await metricValue(t.registry, METRICS.predictionLogDroppedTotal, { reason: "spill_write_failed" })).toBe(25);
  });

  const disk = smallDiskAvailable() ? it : it.skip;
  disk("a read-only spill directory (a real read-only tmpfs) is detected at start and named in the status, serving goes on", async () => {
    const small = mountSmallDisk(1 << 20);
    try {
      small.readOnly();
      const t = await buildTestApp({ url: pg.url("postgres", { password: "wrong-password" }), spillDir: small.dir });
      try {
        expect((await t.app.inject({ method: "GET", url: "/predict" })).statusCode).toBe(200);
        expect(t.app.predictionLog.status().spill).toMatchObject({ writable: false, reason: expect.stringMatching(/EROFS|read-only/) });
        expect(t.logs.filter((l) => l.level === 50 && /spill directory unusable/.test(l.msg))).toHaveLength(1);
      } finally {
        await t.app.close();
      }
    } finally {
      small.unmount();
    }
  });
});
