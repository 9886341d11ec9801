/**
 * POST /predict (one record) and POST /predict/batch (an array of records), for versions with a column contract
 * and a tabular task (binary, multiclass, regression); the answer's shape is the task's. The body is validated
 * against the SERVED version's contract (derived from its signature and feature spec) before the handler runs; the
 * request keeps a lease on that version, so a hot swap mid-request cannot mix versions. A tensor model answers 400
 * pointing at the Open Inference Protocol route.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preValidationHookHandler } from "fastify";
import { ROUTES, type Variant } from "../contract";
import { RequestProblem, errorBody, invalidFields } from "../errors";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { LoadedModel, ModelLease, ModelManager } from "../model/model-manager";
import type { Predictor } from "../model/predictor";
import type { FieldProblem } from "../model/request-schema";
import { ScoringRejectedError, type FeatureRecord, type TensorRequest } from "../model/types";
import type { Prediction } from "../tasks/task";

export type { Prediction };

/** What a request scored, for the after-response hook (the shadow scores the same). */
export interface ScoredWork {
  readonly records?: readonly FeatureRecord[];
  readonly tensors?: TensorRequest;
}

export interface PredictRoutesOptions {
  readonly models: ModelManager;
  readonly variant: Variant;
  readonly metrics: ServiceMetrics;
  readonly maxBatchRecords: number;
  readonly predictor: Predictor;
  /** Called after the response is sent, e.g. to score a shadow model on the same records. */
  readonly afterResponse?: (work: ScoredWork) => void;
}

declare module "fastify" {
  interface FastifyRequest {
    modelLease?: ModelLease;
  }
}

const predictionProperties = {
  prediction_id: { type: "string" },
  probability: { type: "number" },
  label: { type: "integer" },
  fallback: { type: "boolean" },
} as const;
const servedProperties = {
  model: { type: "string" },
  version: { type: "string" },
  variant: { type: "string" },
  threshold: { type: "number" },
} as const;

/**
 * Scores records with a leased version through the predictor, counting the deadline from the request's arrival
 * (so time spent parsing and validating under load is included), and schedules the after-response hook.
 */
export type Predict = (model: LoadedModel, records: readonly FeatureRecord[], reply: FastifyReply) => Promise<Prediction[]>;

export function createPredict(predictor: Predictor, afterResponse?: (work: ScoredWork) => void): Predict {
  return async (model, records, reply) => {
    const predictions = await predictor.records(model, records, performance.now() - reply.elapsedTime);
    if (afterResponse) reply.raw.once("finish", () => afterResponse({ records }));
    return predictions;
  };
}

export const predictRoutes: FastifyPluginAsync<PredictRoutesOptions> = async (app, options) => {
  const { models, variant, metrics } = options;
  const predict = createPredict(options.predictor, options.afterResponse);

  /**
   * Pins the served version and validates against its contract before the route's handler runs. A callback
   * hook per route (it knows which body shape to expect): it runs on every prediction, and an async hook costs a
   * promise and a microtask hop.
   */
  const pinAndValidate =
    (batch: boolean): preValidationHookHandler =>
    (request, reply, done) => {
      const lease = models.acquire();
      if (!lease) {
        const state = models.state();
        metrics.rejected.inc({ model: "", variant, reason: "model_unavailable" });
        // Answered here: done() is not called, so the handler never runs.
        void reply
          .status(503)
          .header("retry-after", "5")
          .send(errorBody(503, `no model loaded yet: ${"reason" in state ? state.reason : "loading"}`));
        return;
      }
      request.modelLease = lease;
      const model = lease.model;
      const task = model.task;
      if (!task.tabular) return done(notTabular(model));
      if (task.checkQuery) {
        const problem = task.checkQuery(request.query);
        if (problem !== undefined) return done(new RequestProblem(400, `invalid request: ${problem}`, [{ field: "querystring.top_k", problem }]));
      }
      done(batch ? validateBatch(request.body, model, options.maxBatchRecords) : validateRecord(request.body, model));
    };
  app.addHook("onResponse", (request, _reply, done) => {
    request.modelLease?.release();
    done();
  });
  app.addHook("onRequestAbort", (request, done) => {
    request.modelLease?.release();
    done();
  });

  /** Predictions, or undefined once a 503 has been sent because the model is overloaded and there is no fallback. */
  async function score(request: FastifyRequest, reply: FastifyReply, records: readonly FeatureRecord[]): Promise<Prediction[] | undefined> {
    try {
      return await predict(request.modelLease!.model, records, reply);
    } catch (error) {
      if (!(error instanceof ScoringRejectedError)) throw error;
      void reply.status(503).header("retry-after", "1").send(errorBody(503, `model overloaded (${error.reason}); retry later`));
      return undefined;
    }
  }

  app.post(
    ROUTES.predict,
    {
      preValidation: pinAndValidate(false),
      schema: {
        response: {
          200: { type: "object", properties: { ...predictionProperties, ...servedProperties } },
        },
      },
    },
    async (request, reply) => {
      const predictions = await score(request, reply, [request.body as FeatureRecord]);
      if (!predictions) return reply;
      const model = request.modelLease!.model;
      return answer(reply, model.task.answerOne(predictions[0]!, model.identity, variant, request.query));
    },
  );

  app.post(
    ROUTES.predictBatch,
    {
      preValidation: pinAndValidate(true),
      schema: {
        response: {
          200: {
            type: "object",
            properties: { ...servedProperties, predictions: { type: "array", items: { type: "object", properties: predictionProperties } } },
          },
        },
      },
    },
    async (request, reply) => {
      const predictions = await score(request, reply, request.body as FeatureRecord[]);
      if (!predictions) return reply;
      const model = request.modelLease!.model;
      return answer(reply, model.task.answerMany(predictions, model.identity, variant, request.query));
    },
  );
};

/**
 * A task's answer: an object is serialized by the route's schema (the binary shape, the hot path); JSON text
 * (the other tasks' shapes) is sent as it is.
 */
function answer(reply: FastifyReply, body: object | string): object | string {
  if (typeof body === "string") void reply.type("application/json; charset=utf-8");
  return body;
}

/** 400 for a version /predict cannot answer (a tensor model, or no column contract), pointing at V2. */
function notTabular(model: LoadedModel): RequestProblem {
  const name = model.identity.name;
  const reason = (model.contract.notTabularReason ?? "").replace(":name", encodeURIComponent(name));
  return new RequestProblem(400, `model "${name}" (task ${model.task.task}) does not answer ${ROUTES.predict}: ${reason}`, [{ field: "(body)", problem: reason }]);
}

function validateRecord(body: unknown, model: LoadedModel): RequestProblem | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return new RequestProblem(400, `${ROUTES.predict} expects one JSON object with the model's features${Array.isArray(body) ? ` (send arrays to ${ROUTES.predictBatch})` : ""}`, [
      { field: "(body)", problem: "must be an object" },
    ]);
  }
  const problems = model.validator.validate(body);
  return problems.length > 0 ? invalidFields(problems) : undefined;
}

function validateBatch(body: unknown, model: LoadedModel, maxBatchRecords: number): RequestProblem | undefined {
  if (!Array.isArray(body)) {
    return new RequestProblem(400, `${ROUTES.predictBatch} expects a JSON array of records`, [{ field: "(body)", problem: "must be an array" }]);
  }
  if (body.length === 0 || body.length > maxBatchRecords) {
    return new RequestProblem(400, `a batch holds 1 to ${maxBatchRecords} records (MAX_BATCH_RECORDS); got ${body.length}`, [
      { field: "(body)", problem: `must hold 1 to ${maxBatchRecords} records` },
    ]);
  }
  const problems: FieldProblem[] = [];
  for (let i = 0; i < body.length && problems.length < 100; i++) {
    for (const p of model.validator.validate(body[i])) problems.push({ field: p.field === "(body)" ? `[${i}]` : `[${i}].${p.field}`, problem: p.problem });
  }
  return problems.length > 0 ? invalidFields(problems) : undefined;
}

