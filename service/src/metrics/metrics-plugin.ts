/**
 * GET /metrics plus RED metrics for every route. Registered at the root (fastify-plugin) so the hook sees
 * every route; the label is the route template, never the raw URL, to keep cardinality bounded.
 */
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { ROUTES } from "../contract";
import type { ServiceMetrics } from "./service-metrics";

export const metricsPlugin = fp<{ registry: Registry; metrics: ServiceMetrics }>(
  async (app, { registry, metrics }) => {
    app.addHook("onResponse", async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? "unmatched", status_code: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
    app.get(ROUTES.metrics, async (_request, reply) => {
      void reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "modelport-metrics" },
);
