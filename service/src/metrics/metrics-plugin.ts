/**
 * GET /metrics plus RED metrics for every route. Registered at the root (fastify-plugin) so its hooks see
 * every route; the label is the route template, never the raw URL, to keep cardinality bounded.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onResponseHookHandler } from "fastify";
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { ROUTES } from "../contract";
import type { CounterSeries, HistogramSeries } from "./hot-metrics";
import type { ServiceMetrics } from "./service-metrics";

/** Requests that matched no route (404s, bad methods) share one label value instead of their raw URLs. */
export const UNMATCHED_ROUTE = "unmatched";

export const metricsPlugin = fp<{ registry: Registry; metrics: ServiceMetrics }>(
  async (app, { registry, metrics }) => {
    /** Counts one answer of `route`; series resolved once per (method, status), no promise per request. */
    const recorder = (route: string) => {
      const series = new Map<string, { requests: CounterSeries; duration: HistogramSeries }>();
      return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
        const key = `${request.method} ${reply.statusCode}`;
        let s = series.get(key);
        if (!s) {
          const labels = { method: request.method, route, status_code: String(reply.statusCode), protocol: "http" };
          s = { requests: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
          series.set(key, s);
        }
        s.requests.inc();
        s.duration.observe(reply.elapsedTime / 1000);
        done();
      };
    };
    // Each route gets its own hook knowing its template (request.routeOptions builds a fresh object per read).
    app.addHook("onRoute", (route) => {
      const hook = recorder(route.url) as onResponseHookHandler;
      route.onResponse = route.onResponse === undefined ? [hook] : [...[route.onResponse].flat(), hook];
    });
    const unmatched = recorder(UNMATCHED_ROUTE);
    app.addHook("onResponse", (request, reply, done) => (request.is404 ? unmatched(request, reply, done) : done()));

    app.get(ROUTES.metrics, async (_request, reply) => {
      void reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "modelport-metrics" },
);
