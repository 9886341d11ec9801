/** Shared fixtures for the prediction-log tests: entries, a silent logger that remembers, row counts. */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import type { PredictionLogEntry } from "../../service/src/contract";
import { errorHandler } from "../../service/src/errors";
import { predictionLogPlugin, type PredictionLogOptions } from "../../service/src/prediction-log/plugin";
import type { Logger } from "../../service/src/prediction-log/writer";
import type { TestPostgres } from "../support/postgres";

export function entry(index: number, overrides: Partial<PredictionLogEntry> = {}): PredictionLogEntry {
  const probability = (index % 100) / 100;
  return {
    predictionId: randomUUID(),
    modelName: "flight-delay",
    modelVersion: "3",
    variant: "stable",
    createdAt: new Date(),
    task: "binary",
    features: { index, distance: 500 + index, origin: "SFO" },
    probability,
    label: probability >= 0.5 ? 1 : 0,
    value: null,
    latencyMs: 0.4,
    fallback: false,
    ...overrides,
  };
}

export interface LogLine {
  readonly level: "info" | "warn" | "error";
  readonly obj: object;
  readonly msg: string;
}

/** A Logger that keeps what it was told, for assertions on the clear log line. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function rowCount(pg: TestPostgres, database: string): Promise<number> {
  const [row] = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM prediction_log", [], database);
  return row!.n;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A failing probe (table not created yet, database restarting) counts as "not yet".
  while (!(await Promise.resolve().then(condition).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly registry: Registry;
  /** Entries handed to record(), in order; their index is features.index. */
  readonly recorded: PredictionLogEntry[];
  /** pino lines the app logged (JSON). */
  readonly logs: Array<{ level: number; msg: string; [key: string]: unknown }>;
}

/**
 * A small Fastify app with the plugin and a stand-in predict route (GET /predict records one entry and answers
 * its id), so the tests exercise the plugin as the service uses it, over app.inject() or a real socket.
 */
export async function buildTestApp(options: Partial<PredictionLogOptions> = {}): Promise<TestApp> {
  const logs: TestApp["logs"] = [];
  const app = Fastify({
    logger: { level: "info", stream: { write: (line: string) => void logs.push(JSON.parse(line)) } },
  });
  app.setErrorHandler(errorHandler);
  const registry = new Registry();
  await app.register(predictionLogPlugin, {
    sampleRate: 1,
    spillDir: tempDir("spill-"),
    replica: "replica-a",
    registry,
    costs: { falsePositive: 1, falseNegative: 5 },
    ...options,
  });
  const recorded: PredictionLogEntry[] = [];
  // ?version=4 logs the entry as another model version (another partition for the object-storage sink).
  app.get<{ Querystring: { version?: string } }>("/predict", async (request) => {
    const e = entry(recorded.length, request.query.version ? { modelVersion: request.query.version } : {});
    recorded.push(e);
    app.predictionLog.record(e);
    return { prediction_id: e.predictionId };
  });
  app.get("/status", async () => app.predictionLog.status());
  return { app, registry, recorded, logs };
}

/** Current value of a metric (summed over label sets matching `labels`). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  return values
    .filter((v) => !("metricName" in v && v.metricName !== name))
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
