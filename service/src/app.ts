/**
 * buildApp(config): the whole service as a tree of encapsulated Fastify plugins, without listening, so tests
 * drive it with app.inject() and server.ts adds the socket and signals.
 */
import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import { Registry } from "prom-client";
import { REQUEST_ID_HEADER, ROUTES, type HttpDropReason, type PredictionLogEntry } from "./contract";
import type { ServiceConfig } from "./config";
import { errorHandler } from "./errors";
import { httpProtectionPlugin } from "./http/plugin";
import { clientErrorHandler, httpServerFactory } from "./http/server";
import { metricsPlugin } from "./metrics/metrics-plugin";
import { createServiceMetrics } from "./metrics/service-metrics";
import { ModelManager, type ScorerFactory } from "./model/model-manager";
import { batcherMetrics } from "./model/batcher";
import { servingScorerFactory } from "./model/serving-scorer";
import { createPredictor } from "./model/predictor";
import { createShadow } from "./model/shadow";
import { OnlineDrift } from "./online-drift/monitor";
import { predictionLogPlugin } from "./prediction-log/plugin";
import type { CostMatrix } from "./prediction-log/feedback";
import { DEFAULT_RETENTION } from "./prediction-log/schema";
import { createModelSource, type ModelSource } from "./registry/model-source";
import { healthRoutes } from "./routes/health";
import { modelInfoRoutes } from "./routes/model-info";
import { predictRoutes } from "./routes/predict";
import { grpcPlugin } from "./grpc/plugin";
import type { GrpcInferenceServer } from "./grpc/inference-server";
import { v2Routes } from "./v2/routes";
import { createV2Service } from "./v2/service";

export interface AppOverrides {
  /** Where model versions come from. @default the registry or directory named by config.model.uri */
  readonly source?: ModelSource;
  /** How a model package becomes a scorer. @default sessions per INFERENCE_WORKERS behind a MicroBatcher */
  readonly createScorer?: ScorerFactory;
  /** @default JSON logs at config.logLevel */
  readonly logger?: FastifyServerOptions["logger"];
}

export interface ModelportApp extends FastifyInstance {
  readonly models: ModelManager;
  readonly metricsRegistry: Registry;
  /** The serving version's features against its reference (undefined with ONLINE_DRIFT_WINDOW=0). */
  readonly onlineDrift?: OnlineDrift;
  /** The Open Inference Protocol over gRPC: bind it with `grpc.listen(host, port)`; closing the app drains it. */
  readonly grpc: GrpcInferenceServer;
  /** Readiness turns 503 at once; the caller then closes the app (in-flight requests finish). */
  beginShutdown(): void;
}

export async function buildApp(config: ServiceConfig, overrides: AppOverrides = {}): Promise<ModelportApp> {
  const registry = new Registry();
  const metrics = createServiceMetrics(registry);
  const countDrop = (reason: HttpDropReason) => metrics.httpDropped.inc({ reason });
  const app = Fastify({
    logger: overrides.logger ?? { level: config.logLevel },
    bodyLimit: config.limits.bodyLimitBytes,
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: () => randomUUID(),
    // Per-request access logs would cost more than the model at these rates; predictions go to the prediction log.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Timeouts, connection cap and pipelining bound (HTTP_* settings), every drop counted.
    serverFactory: httpServerFactory(config.http, countDrop),
    clientErrorHandler: clientErrorHandler(countDrop),
  });

  const inferenceMetrics = batcherMetrics(registry);
  const source =
    overrides.source ??
    createModelSource(config.model.uri, {
      ...config.mlflow,
      cacheDir: config.model.cacheDir,
      download: config.model.download,
    });
  const models = new ModelManager({
    uri: config.model.uri,
    variant: config.model.variant,
    source,
    createScorer:
      overrides.createScorer ?? servingScorerFactory({ inference: config.inference, variant: config.model.variant, metrics: inferenceMetrics }),
    pollIntervalMs: config.model.pollIntervalMs,
    baselineMetric: config.baselineMetric,
    fallback: config.fallback,
    metrics,
    log: app.log.child({ component: "model-manager" }),
  });
  // The challenger: its own manager (polling, hot swap, variant="shadow" metrics), scored after responses.
  const shadow = config.shadow;
  const shadowModels =
    shadow &&
    new ModelManager({
      uri: shadow.uri,
      variant: "shadow",
      source: createModelSource(shadow.uri, { ...config.mlflow, cacheDir: config.model.cacheDir, download: config.model.download }),
      createScorer: servingScorerFactory({ inference: config.inference, variant: "shadow", metrics: inferenceMetrics }),
      pollIntervalMs: config.model.pollIntervalMs,
      baselineMetric: config.baselineMetric,
      metrics,
      log: app.log.child({ component: "shadow-model-manager" }),
    });
  let shuttingDown = false;
  const loadedVersion = (model: string, version: string) =>
    [models.current, shadowModels?.current].find((m) => m?.identity.name === model && m.identity.version === version);

  // Online drift of the serving version's inputs: fed by the predictor, tested off the request path.
  const onlineDrift =
    config.onlineDrift.window > 0
      ? new OnlineDrift({ settings: config.onlineDrift, variant: config.model.variant, registry, current: () => models.current, log: app.log.child({ component: "online-drift" }) })
      : undefined;

  app.decorate("models", models);
  app.decorate("metricsRegistry", registry);
  app.decorate("onlineDrift", onlineDrift);
  app.decorate("beginShutdown", () => {
    shuttingDown = true;
  });
  app.setErrorHandler(errorHandler);
  // Set when the request starts (headers go out with the answer), in a callback hook: no promise per request.
  app.addHook("onRequest", (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.addHook("onReady", async () => {
    models.start();
    shadowModels?.start();
    onlineDrift?.start();
  });
  app.addHook("onClose", async () => {
    await Promise.all([models.stop(), shadowModels?.stop(), onlineDrift?.stop()]);
  });

  await app.register(httpProtectionPlugin, { bodyLimitBytes: config.limits.bodyLimitBytes, bodyMaxKeys: config.limits.bodyMaxKeys });
  await app.register(metricsPlugin, { registry, metrics });
  await app.register(predictionLogPlugin, {
    ...config.predictionLog,
    retention: { ...DEFAULT_RETENTION, retentionDays: config.predictionLog.retentionDays },
    replica: config.replica,
    registry,
    costs: config.costs,
    // Feedback is costed with the matrix of the version that made the prediction, and checked against its
    // classes, while it is still loaded.
    costsFor: (model, version) => {
      const served = loadedVersion(model, version);
      return served && costMatrixFromTags(served.identity.tags, config.costs);
    },
    classesFor: (model, version) => loadedVersion(model, version)?.task.classes,
    // Leave part of the shutdown grace for the listener to close after the queue is written or spilled.
    closeTimeoutMs: Math.max(1000, Math.min(5000, config.shutdownGraceMs / 2)),
  });
  await app.register(healthRoutes, {
    models,
    shuttingDown: () => shuttingDown,
    details: () => ({ prediction_log: app.predictionLog.status() }),
  });
  await app.register(modelInfoRoutes, { models, variant: config.model.variant });
  // /predict, /predict/batch and V2 infer score through one predictor (deadline, fallback, task metrics, log) and
  // hand their work to the shadow after responding. With logging off no entry is even built for it.
  const recordPrediction = app.predictionLog.status().enabled ? (entry: PredictionLogEntry) => app.predictionLog.record(entry) : undefined;
  const predictor = createPredictor({
    variant: config.model.variant,
    metrics,
    requestTimeoutMs: config.inference.requestTimeoutMs,
    recordPrediction,
    observeRecords: onlineDrift?.observe,
  });
  const afterResponse =
    shadow && shadowModels
      ? createShadow({
          models: shadowModels,
          sampleRate: shadow.sampleRate,
          metrics,
          timeoutMs: config.inference.requestTimeoutMs,
          recordPrediction,
          log: app.log.child({ component: "shadow" }),
        })
      : undefined;
  await app.register(predictRoutes, { models, variant: config.model.variant, metrics, predictor, afterResponse, maxBatchRecords: config.limits.maxBatchRecords });
  // The protocol's operations once, for REST and gRPC alike.
  const v2 = createV2Service({ models, ready: () => !shuttingDown, maxBatchRecords: config.limits.maxBatchRecords, predictor, afterResponse });
  await app.register(v2Routes, { prefix: ROUTES.v2.server, service: v2 });
  // After the prediction log: its onClose (waiting for gRPC calls in flight) then runs before the log's.
  await app.register(grpcPlugin, {
    service: v2,
    metrics,
    maxMessageBytes: config.grpc.maxMessageBytes,
    requestTimeoutMs: config.inference.requestTimeoutMs,
    drainTimeoutMs: Math.max(1000, config.shutdownGraceMs / 2),
  });
  return app as unknown as ModelportApp;
}

/**
 * Registry tags `cost_false_positive` / `cost_false_negative` (binary), `cost_misclassification` (multiclass) and
 * `cost_per_unit_error` (regression) on the model version override the configured costs.
 */
export function costMatrixFromTags(tags: Readonly<Record<string, string>>, defaults: CostMatrix): CostMatrix {
  const read = (tag: string, fallback: number | undefined) => {
    const value = Number(tags[tag]);
    return tags[tag] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  return {
    falsePositive: read("cost_false_positive", defaults.falsePositive)!,
    falseNegative: read("cost_false_negative", defaults.falseNegative)!,
    misclassification: read("cost_misclassification", defaults.misclassification),
    perUnitError: read("cost_per_unit_error", defaults.perUnitError),
  };
}
