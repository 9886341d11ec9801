/**
 * Open Inference Protocol (KServe V2) REST routes: server and model health, metadata and inference, so KServe,
 * Triton and MLServer clients can call Modelport unchanged. Inference goes through the same predict function
 * as /predict (batcher, fallback, metrics, prediction log, shadow), only the wire format differs. Every error
 * is {"error": "..."}: 400 for a bad request, 404 for an unknown model or version, 503 while nothing is loaded
 * or the model is overloaded.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { ROUTES } from "../contract";
import type { LoadedModel, ModelManager } from "../model/model-manager";
import { ScoringRejectedError } from "../model/types";
import { projectRoot } from "../paths";
import type { Predict, Prediction } from "../routes/predict";
import { V2RequestError, decodeInferRequest, encodeOutputs, type V2InferResponse } from "./codec";

export interface V2RoutesOptions {
  readonly models: Pick<ModelManager, "acquire" | "state" | "current">;
  /** Server readiness (false while shutting down), on top of a model being loaded. */
  readonly ready: () => boolean;
  readonly maxBatchRecords: number;
  /** The /predict scoring path (createPredict); rejects with ScoringRejectedError when overloaded without a fallback. */
  readonly predict: Predict;
}

/** ONNX Runtime, in the protocol's platform naming (<framework>_<format>). */
const PLATFORM = "onnxruntime_onnx";

interface ModelParams {
  name: string;
  version?: string;
}

export const v2Routes: FastifyPluginAsync<V2RoutesOptions> = async (app, options) => {
  const { models, predict } = options;
  const server = { name: "modelport", version: packageVersion(), extensions: [] as string[] };

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, "V2 request failed");
    void reply.status(status).send({ error: status === 500 ? "internal error while serving the request; see the service log" : error.message });
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

  app.get(ROUTES.v2.server, async () => server);
  app.get(ROUTES.v2.live, async () => ({ live: true }));
  // The protocol answers "not ready" with a 4xx status.
  app.get(ROUTES.v2.ready, async (_request, reply) => {
    const ready = options.ready() && models.current !== undefined;
    return reply.status(ready ? 200 : 400).send({ ready });
  });

  for (const route of [ROUTES.v2.model, ROUTES.v2.modelVersion]) {
    app.get<{ Params: ModelParams }>(route, async (request, reply) => {
      const model = served(request.params, reply);
      if (!model) return reply;
      return {
        name: model.identity.name,
        versions: [model.identity.version],
        platform: PLATFORM,
        inputs: model.io.inputs,
        outputs: model.io.outputs,
      };
    });
  }

  for (const route of [ROUTES.v2.modelReady, ROUTES.v2.modelVersionReady]) {
    app.get<{ Params: ModelParams }>(route, async (request, reply) => {
      const model = models.current;
      if (!model) return reply.status(400).send({ name: request.params.name, ready: false });
      if (!matches(model, request.params, reply)) return reply;
      const ready = options.ready();
      return reply.status(ready ? 200 : 400).send({ name: model.identity.name, ready });
    });
  }

  for (const route of [ROUTES.v2.infer, ROUTES.v2.inferVersion]) {
    app.post<{ Params: ModelParams }>(route, async (request, reply) => {
      // Pin the version for the whole request, like /predict: a hot swap cannot mix versions.
      const lease = models.acquire();
      if (!lease) return reply.status(503).header("retry-after", "5").send({ error: `no model loaded yet: ${notLoadedReason(models)}` });
      try {
        const model = lease.model;
        if (!matches(model, request.params, reply)) return reply;
        const decoded = decodeInferRequest(request.body, { inputs: model.package.inputs, outputs: model.io.outputs }, options.maxBatchRecords);
        decoded.records.forEach((record, row) => {
          const problem = model.validator.validate(record)[0];
          if (problem) throw new V2RequestError(`input "${problem.field}" row ${row}: ${problem.problem}`);
        });
        let predictions: readonly Prediction[];
        try {
          predictions = await predict(model, decoded.records, reply);
        } catch (error) {
          if (!(error instanceof ScoringRejectedError)) throw error;
          return reply.status(503).header("retry-after", "1").send({ error: `model overloaded (${error.reason}); retry later` });
        }
        const response: V2InferResponse = {
          model_name: model.identity.name,
          model_version: model.identity.version,
          id: decoded.id ?? request.id,
          // OIP parameter values are scalars, so the ids (one per row, what POST /feedback takes) travel as one
          // comma-separated string.
          parameters: { fallback: predictions.some((p) => p.fallback), prediction_ids: predictions.map((p) => p.prediction_id).join(",") },
          outputs: encodeOutputs(decoded.outputs, predictions),
        };
        return response;
      } finally {
        lease.release();
      }
    });
  }
};

function notLoadedReason(models: Pick<ModelManager, "state">): string {
  const state = models.state();
  return "reason" in state ? state.reason : "loading";
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
