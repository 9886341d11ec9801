/**
 * Open Inference Protocol (KServe V2) REST routes: server and model health, metadata and inference, so KServe,
 * Triton and MLServer clients can call Modelport unchanged. Infer takes the graph's inputs (any shape the graph
 * allows, every datatype it needs) and returns every graph output by default, or those named; the metadata lists
 * exactly those. Inference goes through the same predictor as /predict (batcher, deadlines, fallback, task
 * metrics, prediction log, shadow). Every error under /v2 is {"error": "..."}: 400 for a bad request, 404 for an
 * unknown model, version or path, 405 for a wrong method, 415 for a wrong content type, 503 while nothing is
 * loaded or the model is overloaded.
 */
import type { FastifyPluginAsync, FastifyReply, HTTPMethods } from "fastify";
import { boundedMessage } from "../errors";
import { ROUTES } from "../contract";
import { encodeTensors, type V2InferResponse } from "./codec";
import { V2UnavailableError, type ModelRef, type V2Service } from "./service";

export interface V2RoutesOptions {
  /** The protocol's operations (shared with the gRPC service). */
  readonly service: V2Service;
}

const ALL_METHODS: HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Registered under the /v2 prefix, so its 404 handler and error handler cover every /v2 URL. */
export const v2Routes: FastifyPluginAsync<V2RoutesOptions> = async (app, { service }) => {
  const path = (route: string) => route.slice(ROUTES.v2.server.length) || "/";

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof V2UnavailableError) return unavailable(reply, error);
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, "V2 request failed");
    void reply.status(status).send({ error: status === 500 ? "internal error while serving the request; see the service log" : boundedMessage(clientMessage(error)) });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: `no Open Inference Protocol route ${request.method} ${request.url.split("?")[0]}; routes are /v2, /v2/health/{live,ready}, /v2/models/{name}[/versions/{version}][/ready|/infer]`,
    });
  });

  /** Every other method on a route answers 405 with the methods it takes. */
  const only = (url: string, methods: HTTPMethods[]) => {
    const allowed = methods.includes("GET") ? [...methods, "HEAD" as const] : methods;
    app.route({
      method: ALL_METHODS.filter((m) => !allowed.includes(m)),
      url,
      handler: async (request, reply) =>
        reply
          .status(405)
          .header("allow", allowed.join(", "))
          .send({ error: `method ${request.method} is not allowed on ${request.url.split("?")[0]}; use ${methods.join(" or ")}` }),
    });
  };

  // The protocol's server metadata is GET /v2 (and /v2/, as its REST spec writes it): both, via the prefix.
  app.get("/", async () => service.server);
  only("/", ["GET"]);
  app.get(path(ROUTES.v2.live), async () => ({ live: true }));
  only(path(ROUTES.v2.live), ["GET"]);
  // The protocol answers "not ready" with a 4xx status.
  app.get(path(ROUTES.v2.ready), async (_request, reply) => {
    const ready = service.ready();
    return reply.status(ready ? 200 : 400).send({ ready });
  });
  only(path(ROUTES.v2.ready), ["GET"]);

  for (const route of [ROUTES.v2.model, ROUTES.v2.modelVersion]) {
    app.get<{ Params: ModelRef }>(path(route), async (request) => service.metadata(request.params));
    only(path(route), ["GET"]);
  }

  for (const route of [ROUTES.v2.modelReady, ROUTES.v2.modelVersionReady]) {
    app.get<{ Params: ModelRef }>(path(route), async (request, reply) => {
      const ready = service.modelReady(request.params);
      return reply.status(ready ? 200 : 400).send({ name: request.params.name, ready });
    });
    only(path(route), ["GET"]);
  }

  for (const route of [ROUTES.v2.infer, ROUTES.v2.inferVersion]) {
    app.post<{ Params: ModelRef }>(path(route), async (request, reply) => {
      const answer = await service.infer({
        model: request.params,
        request: () => ({ body: request.body }),
        arrival: request.bodyReceivedAt || performance.now() - reply.elapsedTime,
        defaultId: request.id,
      });
      reply.raw.once("finish", answer.afterResponse);
      const response: V2InferResponse = {
        model_name: answer.model_name,
        model_version: answer.model_version,
        id: answer.id,
        parameters: answer.parameters,
        outputs: encodeTensors(answer.tensors, answer.outputs),
      };
      return response;
    });
    only(path(route), ["POST"]);
  }
};

function unavailable(reply: FastifyReply, error: V2UnavailableError): FastifyReply {
  return reply.status(503).header("retry-after", String(error.retryAfterSeconds)).send({ error: error.message });
}

/** Fastify's own client errors in the protocol's words. */
function clientMessage(error: Error & { code?: string }): string {
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "unsupported content type: send application/json";
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "request body is larger than the limit (BODY_LIMIT_BYTES)";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the body is empty: send an inference request object";
    default:
      return error.message;
  }
}
