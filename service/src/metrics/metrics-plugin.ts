/**
 * GET /metrics plus RED metrics for every route. Registered at the root (fastify-plugin) so the hook sees
 * every route; the label is the route template, never the raw URL, to keep cardinality bounded.
 */
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { ROUTES } from "../contract";
import type { CounterSeries, HistogramSeries } from "./hot-metrics";
import type { ServiceMetrics } from "./service-metrics";

export const metricsPlugin = fp<{ registry: Registry; metrics: ServiceMetrics }>(
  async (app, { registry, metrics }) => {
    // Series resolved once per (method, status, route); a callback hook, so no promise per request.
    const series = new Map<string, { requests: CounterSeries; duration: HistogramSeries }>();
    app.addHook("onResponse", (request, reply, done) => {
      const route = request.routeOptions.url ?? "unmatched";
      const key = `${request.method} ${reply.statusCode} ${route}`;
      let s = series.get(key);
      if (!s) {
        const labels = { method: request.method, route, status_code: String(reply.statusCode) };
        s = { requests: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
        series.set(key, s);
      }
      s.requests.inc();
      s.duration.observe(reply.elapsedTime / 1000);
      done();
    });
    app.get(ROUTES.metrics, async (_request, reply) => {
      void reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "modelport-metrics" },
);
