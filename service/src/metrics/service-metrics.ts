/**
 * The service's own metrics on the app's single prom-client registry. Other parts (batcher, prediction log)
 * register theirs on the same registry; names and buckets come from the contract. What every request touches
 * is a HotCounter/HotHistogram (label sets resolved once); the rest are prom-client's own classes.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from "prom-client";
import { DEFAULT_VALUE_BUCKETS, HTTP_DROP_REASONS, LATENCY_BUCKETS_SECONDS, METRICS, OUTPUT_NORM_BUCKETS, PROBABILITY_BUCKETS } from "../contract";
import { HotCounter, HotHistogram } from "./hot-metrics";

export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

export function createServiceMetrics(registry: Registry) {
  // Default process metrics include nodejs_eventloop_lag_* (event-loop delay) and GC/heap.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const registers = [registry];
  const httpDropped = new Counter({
    name: METRICS.httpConnectionsDroppedTotal,
    help: "Connections the HTTP layer closed to protect the service, by reason (max_connections, pipelining, request_timeout, connection_timeout, malformed).",
    labelNames: ["reason"] as const,
    registers,
  });
  // Every reason from the start, so an alert's rate() has a series before the first drop.
  for (const reason of HTTP_DROP_REASONS) httpDropped.inc({ reason }, 0);
  return {
    httpDropped,
    predictions: new HotCounter({
      name: METRICS.predictionsTotal,
      help: "Predictions answered, by outcome (positive, negative: binary; predicted: other tasks; fallback, error).",
      labelNames: ["model", "version", "variant", "outcome"] as const,
      registers,
    }),
    latency: new HotHistogram({
      name: METRICS.predictionLatencySeconds,
      help: "Time to score one record, queueing included (seconds).",
      labelNames: ["model", "version", "variant"] as const,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    probability: new HotHistogram({
      name: METRICS.predictionProbability,
      help: "Positive-class probability (binary) or the predicted class's probability (multiclass) of answered predictions.",
      labelNames: ["model", "version", "variant"] as const,
      buckets: PROBABILITY_BUCKETS,
      registers,
    }),
    predictionClasses: new HotCounter({
      name: METRICS.predictionClassTotal,
      help: "Classifier answers by predicted class (as the model names its classes).",
      labelNames: ["model", "version", "variant", "class"] as const,
      registers,
    }),
    predictionValue: new HotHistogram({
      name: METRICS.predictionValue,
      help: "Regression: predicted values, in buckets from the version's training distribution.",
      labelNames: ["model", "version", "variant"] as const,
      buckets: DEFAULT_VALUE_BUCKETS,
      registers,
    }),
    predictionOutputNorm: new HotHistogram({
      name: METRICS.predictionOutputNorm,
      help: "Tensor models: L2 norm of each row of the first output.",
      labelNames: ["model", "version", "variant"] as const,
      buckets: OUTPUT_NORM_BUCKETS,
      registers,
    }),
    fallbacks: new HotCounter({
      name: METRICS.predictionsFallbackTotal,
      help: "Predictions answered by the configured fallback instead of the model, by reason.",
      labelNames: ["model", "variant", "reason"] as const,
      registers,
    }),
    rejected: new HotCounter({
      name: METRICS.predictionsRejectedTotal,
      help: "Prediction requests refused with 503 (model unavailable, overload without a fallback), by reason.",
      labelNames: ["model", "variant", "reason"] as const,
      registers,
    }),
    modelLoaded: new Gauge({
      name: METRICS.modelLoaded,
      help: "1 when a model version is loaded and warmed up, else 0.",
      labelNames: ["model", "variant"] as const,
      registers,
    }),
    modelInfo: new Gauge({
      name: METRICS.modelInfo,
      help: "Always 1; labels say which model version is served.",
      labelNames: ["model", "version", "alias", "run_id", "variant", "task", "execution_provider"] as const,
      registers,
    }),
    reloads: new Counter({
      name: METRICS.modelReloadsTotal,
      help: "Model loads and reloads, by result (success, failure, superseded).",
      labelNames: ["model", "variant", "result"] as const,
      registers,
    }),
    baselineHitRate: new Gauge({
      name: METRICS.modelBaselineHitRate,
      help: "Hit rate (accuracy) the served version scored at registration: the baseline live hit rate is compared to.",
      labelNames: ["model", "version"] as const,
      registers,
    }),
    baselineMae: new Gauge({
      name: METRICS.modelBaselineMae,
      help: "Mean absolute error the served regressor scored at registration: the baseline live MAE is compared to.",
      labelNames: ["model", "version"] as const,
      registers,
    }),
    httpRequests: new HotCounter({
      name: METRICS.httpRequestsTotal,
      help: "Requests by route template, method, status code and protocol (gRPC calls: route = method path, status_code = the HTTP status of their gRPC code).",
      labelNames: ["method", "route", "status_code", "protocol"] as const,
      registers,
    }),
    httpDuration: new HotHistogram({
      name: METRICS.httpRequestDurationSeconds,
      help: "Request duration by route template, method, status code and protocol (seconds).",
      labelNames: ["method", "route", "status_code", "protocol"] as const,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
  };
}
