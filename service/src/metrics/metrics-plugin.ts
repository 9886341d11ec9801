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
    // Label children resolved once per (method, route, status): the hot path skips prom-client's label hashing.
    const children = new Map<string, { requests: { inc(): void }; duration: { observe(value: number): void } }>();
    app.addHook("onResponse", async (request, reply) => {
      const route = request.routeOptions.url ?? "unmatched";
      const key = `${request.method} ${reply.statusCode} ${route}`;
      let child = children.get(key);
      if (!child) {
        const labels = { method: request.method, route, status_code: String(reply.statusCode) };
        child = { requests: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
        children.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(reply.elapsedTime / 1000);
    });
    app.get(ROUTES.metrics, async (_request, reply) => {
      void reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "modelport-metrics" },
);
