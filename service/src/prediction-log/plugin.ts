/**
 * The prediction log as a Fastify plugin: decorates `app.predictionLog` (record + status) for the predict
 * routes, registers POST /feedback, holds every answer until the entries recorded for it are in the local
 * journal (durable before acknowledged, one write per micro-batch: see journal.ts), and on close writes what it can to the
 * sink (the journal keeps the rest for the next start).
 *
 * The URL picks the sink: `postgres://` (COPY into the partitioned table; feedback joined there) or
 * `s3://bucket/prefix` (Parquet files per replica; feedback as its own Parquet stream). Without a URL logging is
 * off: record() does nothing and status() says disabled. The plugin never fails the service for the sink's
 * sake: wrong credentials or an unreachable server leave logging degraded (status().healthy false with the
 * reason, one clear error log line, entries kept in the journal) while the writer retries with backoff.
 */
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import type { ClassLabel } from "../tasks/task";
import { feedbackRoutes, type FeedbackRoutesOptions } from "../routes/feedback";
import { PostgresFeedbackStore, type CostMatrix } from "./feedback";
import { createPredictionLogMetrics, NO_DEPTHS } from "./metrics";
import { ObjectStoreFeedback } from "./object-feedback";
import { ParquetSink, parseS3Url, s3ClientFromEnv } from "./parquet-sink";
import { PostgresSink } from "./postgres-sink";
import type { RetentionPolicy } from "./schema";
import { PredictionLogWriter, createPool, type PredictionLog } from "./writer";

export interface PredictionLogOptions {
  /** postgres:// or s3:// URL; undefined disables logging (and feedback answers 503). */
  readonly url?: string;
  /** Fraction of predictions logged, 0..1. */
  readonly sampleRate: number;
  readonly spillDir: string;
  /** Cap on the journal's disk use (bytes). @default 1 GiB */
  readonly spillMaxBytes?: number;
  /** @default 1000 */
  readonly fsyncIntervalMs?: number;
  /** s3:// sink: roll a Parquet file after this many bytes of rows. @default 64 MiB */
  readonly rollBytes?: number;
  /** s3:// sink: ... or this long after its first row. @default 300000 */
  readonly rollIntervalMs?: number;
  /** POD_NAME or hostname. */
  readonly replica: string;
  /** The app's single registry. */
  readonly registry: Registry;
  readonly costs: CostMatrix;
  /** Per model version cost override (e.g. from registry tags); undefined means `costs`. */
  readonly costsFor?: (model: string, version: string) => CostMatrix | undefined;
  /** A loaded version's class labels, to refuse multiclass feedback naming no class of the model. */
  readonly classesFor?: (model: string, version: string) => readonly ClassLabel[] | undefined;
  /** PostgreSQL: rows per COPY. @default 10000 */
  readonly batchSize?: number;
  /** PostgreSQL: longest an entry waits for its batch. @default 200 */
  readonly flushIntervalMs?: number;
  /** Backlog (rows) counted as the queue; beyond it, spill. @default 10000 */
  readonly maxQueue?: number;
  /** @default 7 days of partitions ahead, 30 days kept */
  readonly retention?: RetentionPolicy;
  /** Time close() spends writing the backlog; keep it under the shutdown grace. @default 5000 */
  readonly closeTimeoutMs?: number;
  /** Environment for the S3 client (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, credentials). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
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
    const feedback = { costs: options.costs, costsFor: options.costsFor, classesFor: options.classesFor };
    if (!options.url) {
      log.info("prediction log disabled (PREDICTION_LOG_URL is not set); POST /feedback answers 503");
      const metrics = createPredictionLogMetrics(options.registry, NO_DEPTHS);
      app.decorate("predictionLog", DISABLED);
      await app.register(feedbackRoutes, { metrics, ...feedback });
      return;
    }
    const common = {
      replica: options.replica,
      spillDir: options.spillDir,
      spillMaxBytes: options.spillMaxBytes,
      fsyncIntervalMs: options.fsyncIntervalMs,
      logger: log,
      registry: options.registry,
      sampleRate: options.sampleRate,
    };
    let writer: PredictionLogWriter;
    let store: FeedbackRoutesOptions["store"];
    let record: PredictionLog["record"];
    let end: () => Promise<void> = async () => undefined;
    if (options.url.startsWith("s3://")) {
      const location = parseS3Url(options.url);
      const s3 = s3ClientFromEnv(options.env ?? process.env);
      const parquet = (stream: "predictions" | "feedback") =>
        new ParquetSink({ client: s3, location, stream, replica: options.replica, rollBytes: options.rollBytes, rollIntervalMs: options.rollIntervalMs, stateDir: `${options.spillDir}/${stream}` });
      writer = new PredictionLogWriter({ ...common, sink: parquet("predictions"), feedbackSink: parquet("feedback") });
      const objectFeedback = new ObjectStoreFeedback(writer);
      record = (entry) => {
        writer.record(entry);
        objectFeedback.remember(entry);
      };
      store = { feedback: objectFeedback, writes: writer };
      end = async () => s3.destroy();
    } else {
      const pool = createPool(options.url, options.replica);
      const sink = new PostgresSink({ pool, log, retention: options.retention, batchRows: options.batchSize, flushIntervalMs: options.flushIntervalMs, windowRows: options.maxQueue });
      writer = new PredictionLogWriter({ ...common, sink });
      record = writer.record;
      store = { feedback: new PostgresFeedbackStore(pool), writes: writer };
      // A statement stuck on a hung server must not hold the shutdown: end() is not awaited past a second.
      end = () => Promise.race([pool.end().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    log.info({ target: writer.predictions.sink.target, sampleRate: options.sampleRate, spillDir: options.spillDir }, "prediction log enabled");
    writer.start();
    app.decorate("predictionLog", { record, status: () => writer.status() });
    // Durable before acknowledged: an answer leaves once the entries recorded for it are in the journal. A batch's
    // entries are written in a microtask before its answers are sent, so a reply is rarely held; one is when its
    // entry is still queued.
    app.addHook("onSend", (_request, _reply, payload, done) => {
      if (!writer.hasPending) return done(null, payload);
      writer.whenWritten(() => done(null, payload));
    });
    await app.register(feedbackRoutes, { store, metrics: writer.metrics, ...feedback });
    app.addHook("onClose", async () => {
      await writer.close(options.closeTimeoutMs ?? 5000);
      await end();
    });
  },
  { name: "modelport-prediction-log", fastify: "5.x" },
);
