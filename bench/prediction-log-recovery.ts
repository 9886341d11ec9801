/**
 * `node dist/bench/prediction-log-recovery.js [--rounds N] [--outage-s S] [--rate R]`
 *
 * How the prediction-log writer behaves through a database outage (a real PostgreSQL stopped with an immediate
 * shutdown, then started again): write attempts made while it is down and entries keep arriving (`--rate` per
 * second), and how long after the database is back the writer is healthy again. The outage is long enough for
 * the backoff to reach its ceiling. Prints one JSON line per round and a summary.
 */
import { mkdtempSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { METRICS, type PredictionLogEntry } from "../service/src/contract";
import { PostgresSink } from "../service/src/prediction-log/postgres-sink";
import { PredictionLogWriter, createPool } from "../service/src/prediction-log/writer";
import { TestPostgres } from "../test/support/postgres";

const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

function entry(): PredictionLogEntry {
  return {
    predictionId: randomUUID(),
    modelName: "flight-delay",
    modelVersion: "3",
    variant: "stable",
    createdAt: new Date(),
    task: "binary",
    features: { hour: 17, distance: 1846, origin: "ORD" },
    probability: 0.4,
    label: 0,
    value: null,
    latencyMs: 0.3,
    fallback: false,
  };
}

async function attempts(registry: Registry): Promise<number> {
  const { values } = await registry.getSingleMetric(METRICS.predictionLogWriteDurationSeconds)!.get();
  return values.find((v) => String((v as { metricName?: string }).metricName).endsWith("_count"))?.value ?? 0;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function main(): Promise<void> {
  const rounds = arg("--rounds", 3);
  const outageS = arg("--outage-s", 15);
  const rate = arg("--rate", 2000);
  const pg = await TestPostgres.start();
  const results: Array<{ attemptsWhileDown: number; recordedWhileDown: number; recoveryMs: number }> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const pool = createPool(await pg.createDatabase(`recovery_${round}`), "recovery");
      const registry = new Registry();
      const writer = new PredictionLogWriter({ sink: new PostgresSink({ pool }), replica: "r", spillDir: mkdtempSync(join(tmpdir(), "recovery-")), logger: SILENT, registry });
      writer.start();
      await until(() => writer.status().healthy, 30_000);
      await pg.stop("immediate");
      const before = await attempts(registry);
      let recorded = 0;
      const started = Date.now();
      while (Date.now() - started < outageS * 1000) {
        for (let i = 0; i < rate / 50; i++, recorded++) writer.record(entry());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const attemptsWhileDown = (await attempts(registry)) - before;
      await pg.start();
      const back = Date.now();
      await until(() => writer.status().healthy, 60_000);
      const recoveryMs = Date.now() - back;
      results.push({ attemptsWhileDown, recordedWhileDown: recorded, recoveryMs });
      console.log(JSON.stringify({ round, outageS, rate, attemptsWhileDown, recordedWhileDown: recorded, recoveryMs }));
      await writer.close(5000);
      await pool.end();
    }
  } finally {
    await pg.destroy();
  }
  const recovery = results.map((r) => r.recoveryMs).sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      summary: { rounds, outageS, rate, recoveryMsMedian: recovery[Math.floor(recovery.length / 2)], recoveryMsMax: recovery.at(-1), attemptsWhileDownMax: Math.max(...results.map((r) => r.attemptsWhileDown)) },
    }),
  );
}

void main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
