/**
 * The prediction log as a Fastify plugin: decorates `app.predictionLog` (record + status) for the predict
 * routes, registers POST /feedback, and on close writes or spills everything still queued.
 *
 * Without a URL logging is off: record() does nothing and status() says disabled. With one, the plugin never
 * fails the service for the database's sake: wrong credentials or an unreachable server at start leave logging
 * degraded (status().healthy false with the reason, one clear error log line, entries queued then spilled) while
 * the writer retries with backoff.
 */
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { feedbackRoutes } from "../routes/feedback";
import type { ClassLabel } from "../tasks/task";
import type { CostMatrix } from "./feedback";
import { createPredictionLogMetrics } from "./metrics";
import type { RetentionPolicy } from "./schema";
import { PredictionLogWriter, createPool, describeTarget, type PredictionLog } from "./writer";

export interface PredictionLogOptions {
  /** postgres:// URL; undefined disables logging (and feedback answers 503). */
  readonly url?: string;
  /** Fraction of predictions logged, 0..1. */
  readonly sampleRate: number;
  readonly spillDir: string;
  /** POD_NAME or hostname. */
  readonly replica: string;
  /** The app's single registry. */
  readonly registry: Registry;
  readonly costs: CostMatrix;
  /** Per model version cost override (e.g. from registry tags); undefined means `costs`. */
  readonly costsFor?: (model: string, version: string) => CostMatrix | undefined;
  /** A loaded version's class labels, to refuse multiclass feedback naming no class of the model. */
  readonly classesFor?: (model: string, version: string) => readonly ClassLabel[] | undefined;
  /** @default 500 */
  readonly batchSize?: number;
  /** @default 200 */
  readonly flushIntervalMs?: number;
  /** Entries held in memory before spilling. @default 10000 */
  readonly maxQueue?: number;
  /** @default 7 days of partitions ahead, 30 days kept */
  readonly retention?: RetentionPolicy;
  /** Time close() spends writing the queue before spilling the rest; keep it under the shutdown grace. @default 5000 */
  readonly closeTimeoutMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    predictionLog: PredictionLog;
  }
}

const DISABLED: PredictionLog = {
  record: () => undefined,
  status: () => ({ enabled: false, healthy: true, reason: "disabled: PREDICTION_LOG_URL is not set", queueDepth: 0, spillDepth: 0 }),
};

export const predictionLogPlugin = fp<PredictionLogOptions>(
  async (app, options) => {
    const log = app.log.child({ component: "prediction-log" });
    if (!options.url) {
      log.info("prediction log disabled (PREDICTION_LOG_URL is not set); POST /feedback answers 503");
      const metrics = createPredictionLogMetrics(options.registry, { queueDepth: () => 0, spillDepth: () => 0 });
      app.decorate("predictionLog", DISABLED);
      await app.register(feedbackRoutes, { metrics, costs: options.costs, costsFor: options.costsFor, classesFor: options.classesFor });
      return;
    }
    const pool = createPool(options.url, options.replica);
    const writer = new PredictionLogWriter({
      pool,
      replica: options.replica,
      spillDir: options.spillDir,
      logger: log,
      registry: options.registry,
      sampleRate: options.sampleRate,
      batchSize: options.batchSize,
      flushIntervalMs: options.flushIntervalMs,
      maxQueue: options.maxQueue,
      retention: options.retention,
    });
    log.info({ target: describeTarget(pool), sampleRate: options.sampleRate, spillDir: options.spillDir }, "prediction log enabled");
    writer.start();
    app.decorate("predictionLog", { record: writer.record, status: () => writer.status() });
    await app.register(feedbackRoutes, {
      store: { pool, writes: writer },
      metrics: writer.metrics,
      costs: options.costs,
      costsFor: options.costsFor,
      classesFor: options.classesFor,
    });
    app.addHook("onClose", async () => {
      await writer.close(options.closeTimeoutMs ?? 5000);
      // A statement stuck on a hung server must not hold the shutdown: end() is not awaited past a second.
      await Promise.race([pool.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    });
  },
  { name: "modelport-prediction-log", fastify: "5.x" },
);
