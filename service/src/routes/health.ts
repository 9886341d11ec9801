/**
 * Liveness and readiness. /healthz says the process is up and never looks at the model (a restart would not
 * help a registry outage); /readyz says a model version is loaded and warmed, and why not when it is not, and
 * where reloading stands (desired version, pending or failing reload, last error).
 */
import type { FastifyPluginAsync } from "fastify";
import { ROUTES } from "../contract";
import type { ModelManager } from "../model/model-manager";
import { reloadBody } from "./reload-status";

export interface HealthRoutesOptions {
  readonly models: ModelManager;
  readonly shuttingDown: () => boolean;
  /** Extra readiness detail (e.g. prediction-log health); never makes the service unready by itself. */
  readonly details?: () => Record<string, unknown>;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { models, shuttingDown, details }) => {
  app.get(ROUTES.healthz, async () => ({ status: "ok" }));

  app.get(ROUTES.readyz, async (_request, reply) => {
    const extra = details?.() ?? {};
    if (shuttingDown()) return reply.status(503).send({ status: "not_ready", reason: "shutting down", ...extra });
    const state = models.state();
    const model = models.current;
    if (state.status !== "ready" || !model) {
      return reply.status(503).send({ status: "not_ready", reason: "reason" in state ? state.reason : "no model loaded", ...reloadBody(models), ...extra });
    }
    const id = model.identity;
    return { status: "ready", model: id.name, version: id.version, alias: id.alias ?? null, ...reloadBody(models), ...extra };
  });
};
