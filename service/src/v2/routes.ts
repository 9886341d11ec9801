/**
 * Open Inference Protocol (KServe V2) REST routes: server and model health, metadata and inference, so KServe,
 * Triton and MLServer clients can call Modelport unchanged. Infer takes the graph's inputs (any shape the graph
 * allows, every datatype it needs) and returns every graph output by default, or those named; the metadata lists
 * exactly those. Inference goes through the same predictor as /predict (batcher, deadlines, fallback, task
 * metrics, prediction log, shadow). Every error under /v2 is {"error": "..."}: 400 for a bad request, 404 for an
 * unknown model, version or path, 405 for a wrong method, 415 for a wrong content type, 503 while nothing is
 * loaded or the model is overloaded.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsync, FastifyReply, HTTPMethods } from "fastify";
import { ROUTES } from "../contract";
import { tensorsToRecords } from "../model/feeds";
import type { LoadedModel, ModelManager } from "../model/model-manager";
import type { Predictor } from "../model/predictor";
import { ModelRunError, ScoringRejectedError, type FeatureRecord } from "../model/types";
import { projectRoot } from "../paths";
import type { ScoredWork } from "../routes/predict";
import { V2RequestError, decodeInferRequest, encodeTensors, type DecodedInferRequest, type V2InferResponse } from "./codec";

export interface V2RoutesOptions {
  readonly models: Pick<ModelManager, "acquire" | "state" | "current">;
  /** Server readiness (false while shutting down), on top of a model being loaded. */
  readonly ready: () => boolean;
  readonly maxBatchRecords: number;
  readonly predictor: Predictor;
  /** Called after the response is sent (the shadow scores the same work). */
  readonly afterResponse?: (work: ScoredWork) => void;
}

/** ONNX models, in the protocol's platform naming (<framework>_<format>). */
export const V2_PLATFORM = "onnx_onnxv1";

interface ModelParams {
  name: string;
  version?: string;
}

const ALL_METHODS: HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Registered under the /v2 prefix, so its 404 handler and error handler cover every /v2 URL. */
export const v2Routes: FastifyPluginAsync<V2RoutesOptions> = async (app, options) => {
  const { models, predictor } = options;
  const server = { name: "modelport", version: packageVersion(), extensions: [] as string[] };
  const path = (route: string) => route.slice(ROUTES.v2.server.length) || "/";

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, "V2 request failed");
    void reply.status(status).send({ error: status === 500 ? "internal error while serving the request; see the service log" : clientMessage(error) });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: `no Open Inference Protocol route ${request.method} ${request.url.split("?")[0]}; routes are /v2, /v2/health/{live,ready}, /v2/models/{name}[/versions/{version}][/ready|/infer]`,
    });
  });

  /** The served model if the URL names it (and its version, when given); else the reply is sent. */
  const served = (params: ModelParams, reply: FastifyReply): LoadedModel | undefined => {
    const model = models.current;
    if (!model) {
      void reply.status(503).header("retry-after", "5").send({ error: `no model loaded yet: ${notLoadedReason(models)}` });
      return undefined;
    }
    return matches(model, params, reply) ? model : undefined;
  };

  const matches = (model: LoadedModel, { name, version }: ModelParams, reply: FastifyReply): boolean => {
    const id = model.identity;
    if (name !== id.name) {
      void reply.status(404).send({ error: `unknown model "${name}"; this server serves "${id.name}"` });
      return false;
    }
    if (version !== undefined && version !== id.version) {
      void reply.status(404).send({ error: `model "${name}" has no version "${version}" here; serving version "${id.version}"` });
      return false;
    }
    return true;
  };

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
  app.get("/", async () => server);
  only("/", ["GET"]);
  app.get(path(ROUTES.v2.live), async () => ({ live: true }));
  only(path(ROUTES.v2.live), ["GET"]);
  // The protocol answers "not ready" with a 4xx status.
  app.get(path(ROUTES.v2.ready), async (_request, reply) => {
    const ready = options.ready() && models.current !== undefined;
    return reply.status(ready ? 200 : 400).send({ ready });
  });
  only(path(ROUTES.v2.ready), ["GET"]);

  for (const route of [ROUTES.v2.model, ROUTES.v2.modelVersion]) {
    app.get<{ Params: ModelParams }>(path(route), async (request, reply) => {
      const model = served(request.params, reply);
      if (!model) return reply;
      return { name: model.identity.name, versions: [model.identity.version], platform: V2_PLATFORM, inputs: model.io.inputs, outputs: model.io.outputs };
    });
    only(path(route), ["GET"]);
  }

  for (const route of [ROUTES.v2.modelReady, ROUTES.v2.modelVersionReady]) {
    app.get<{ Params: ModelParams }>(path(route), async (request, reply) => {
      const model = models.current;
      if (!model) return reply.status(400).send({ name: request.params.name, ready: false });
      if (!matches(model, request.params, reply)) return reply;
      const ready = options.ready();
      return reply.status(ready ? 200 : 400).send({ name: model.identity.name, ready });
    });
    only(path(route), ["GET"]);
  }

  for (const route of [ROUTES.v2.infer, ROUTES.v2.inferVersion]) {
    app.post<{ Params: ModelParams }>(path(route), async (request, reply) => {
      // Pin the version for the whole request, like /predict: a hot swap cannot mix versions.
      const lease = models.acquire();
      if (!lease) return reply.status(503).header("retry-after", "5").send({ error: `no model loaded yet: ${notLoadedReason(models)}` });
      try {
        const model = lease.model;
        if (!matches(model, request.params, reply)) return reply;
        const decoded = decodeInferRequest(request.body, { inputs: model.contract.inputs, outputs: model.contract.outputs, batchAxis: model.batchAxis }, { maxRows: options.maxBatchRecords });
        const records = model.task.tabular ? checkedRecords(model, decoded) : undefined;
        const work = { tensors: decoded.tensors, rows: decoded.rows, key: model.batchAxis ? decoded.key : undefined };
        let result;
        try {
          result = await predictor.tensors(model, work, decoded.outputs, performance.now() - reply.elapsedTime, records);
        } catch (error) {
          if (error instanceof ModelRunError) return reply.status(400).send({ error: `the model cannot run on these inputs: ${error.message}` });
          if (!(error instanceof ScoringRejectedError)) throw error;
          return reply.status(503).header("retry-after", "1").send({ error: `model overloaded (${error.reason}); retry later` });
        }
        const { predictions, tensors } = result;
        if (options.afterResponse) {
          const hook = options.afterResponse;
          reply.raw.once("finish", () => hook(records ? { records, tensors: work } : { tensors: work }));
        }
        const response: V2InferResponse = {
          model_name: model.identity.name,
          model_version: model.identity.version,
          id: decoded.id ?? request.id,
          // OIP parameter values are scalars, so the ids (one per row, what POST /feedback takes) travel as one
          // comma-separated string.
          parameters: { fallback: predictions.some((p) => p.fallback), prediction_ids: predictions.map((p) => p.prediction_id).join(",") },
          outputs: encodeTensors(tensors, decoded.outputs),
        };
        return response;
      } finally {
        lease.release();
      }
    });
    only(path(route), ["POST"]);
  }
};

/**
 * The request's rows as named columns, checked against the version's feature spec (the same contract /predict
 * enforces): the first problem is answered 400, naming the row, the column and, when it differs, the input.
 */
function checkedRecords(model: LoadedModel, decoded: DecodedInferRequest): FeatureRecord[] {
  const feeds = model.contract.scorer.feeds;
  const records = tensorsToRecords(feeds, decoded.tensors, decoded.rows);
  records.forEach((record, row) => {
    const problem = model.validator.validate(record)[0];
    if (!problem) return;
    const input = feeds.find((f) => f.columns.some((c) => c.name === problem.field))?.input;
    const where = input && input !== problem.field ? `column "${problem.field}" of input "${input}"` : `input "${problem.field}"`;
    throw new V2RequestError(`${where} row ${row}: ${problem.problem}`);
  });
  return records;
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

function notLoadedReason(models: Pick<ModelManager, "state">): string {
  const state = models.state();
  return "reason" in state ? state.reason : "loading";
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
