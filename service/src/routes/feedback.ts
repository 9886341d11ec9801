/**
 * POST /feedback: ground-truth labels for logged predictions.
 *
 * Body: `{"items": [{"prediction_id": "<uuid from the prediction response>", "actual": ...}, ...]}` (1 to
 * 1000 items); a bare item or a bare array of items is accepted as the same. `actual` is what the prediction's
 * task takes: 0 or 1 (binary), the class label (multiclass, one of the model's classes while this replica knows
 * the version), the observed number (regression); an item that does not fit its prediction fails the whole
 * request with 400 naming it, before anything is stored. Each item gets a status:
 * - `accepted`: stored, and counted for the version and variant that made the prediction, as its task judges it
 *   (model_feedback_total and model_business_cost_total; multiclass model_confusion_total; regression absolute
 *   and squared error sums). Fallback answers are stored but not counted: they are not the model's;
 * - `duplicate`: that prediction already has a label (the first one wins, across replicas too), ignored;
 * - `unknown`: not in the prediction log (never served, sampled out, or expired by retention);
 * - `pending`: not in the table yet, and this replica still has unwritten entries (queue or spill) that could be
 *   it. Before answering `unknown`, the route waits (bounded) until every entry this replica logged before the
 *   request is written, so a label sent right after its prediction is not wrongly refused.
 *
 * Status: 200 when every item is accepted or duplicate; otherwise 503 + Retry-After if any is pending (or the
 * database is unreachable), else 404. The body always lists every item, and resending the whole batch is safe.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Pool } from "pg";
import { ROUTES } from "../contract";
import { RequestProblem, errorBody } from "../errors";
import type { FieldProblem } from "../model/request-schema";
import { businessCosts, findPredictions, storeFeedback, type CostMatrix, type FeedbackItem, type LoggedPrediction } from "../prediction-log/feedback";
import type { PredictionLogMetrics } from "../prediction-log/metrics";
import { TASK_DEFINITIONS, type ClassLabel, type Judgement } from "../tasks";

export const FEEDBACK_MAX_ITEMS = 1000;
const UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const RETRY_AFTER_SECONDS = "5";

export const feedbackBodySchema = {
  type: "object",
  required: ["items"],
  additionalProperties: false,
  properties: {
    items: {
      type: "array",
      minItems: 1,
      maxItems: FEEDBACK_MAX_ITEMS,
      items: {
        type: "object",
        required: ["prediction_id", "actual"],
        additionalProperties: false,
        properties: {
          prediction_id: { type: "string", pattern: UUID_PATTERN },
          // What fits is the prediction's task's call, once it is found; here only the JSON type.
          actual: { anyOf: [{ type: "number" }, { type: "string", maxLength: 256 }] },
        },
      },
    },
  },
} as const;

interface FeedbackBody {
  items: Array<{ prediction_id: string; actual: number | string }>;
}

export type FeedbackStatus = "accepted" | "duplicate" | "unknown" | "pending";

/** The writer's side of "is this prediction maybe still on its way to the table?". */
export interface PendingWrites {
  hasUnsettled(): boolean;
  flush(timeoutMs: number): Promise<boolean>;
}

export interface FeedbackRoutesOptions {
  /** Undefined when the prediction log is disabled: the route answers 503 saying so. */
  readonly store?: { readonly pool: Pool; readonly writes: PendingWrites };
  readonly metrics: Pick<PredictionLogMetrics, "feedback" | "businessCost" | "confusion" | "absoluteError" | "squaredError">;
  readonly costs: CostMatrix;
  /** Per model version costs (e.g. from registry tags); undefined falls back to `costs`. */
  readonly costsFor?: (model: string, version: string) => CostMatrix | undefined;
  /** A loaded version's class labels: multiclass labels outside them are refused. Undefined: not known here. */
  readonly classesFor?: (model: string, version: string) => readonly ClassLabel[] | undefined;
  /** Longest wait for this replica's unwritten entries before answering unknown. @default 2000 */
  readonly flushTimeoutMs?: number;
}

export const feedbackRoutes: FastifyPluginAsync<FeedbackRoutesOptions> = async (app, options) => {
  const { store, metrics, costs, costsFor } = options;
  const flushTimeoutMs = options.flushTimeoutMs ?? 2000;

  const judge = (prediction: LoggedPrediction, actual: unknown): Judgement | string =>
    TASK_DEFINITIONS[prediction.task].judge(prediction, actual, {
      costs: businessCosts(costsFor?.(prediction.model, prediction.version) ?? costs),
      classes: options.classesFor?.(prediction.model, prediction.version),
    });

  const count = (prediction: LoggedPrediction, judgement: Judgement) => {
    if (prediction.fallback) return;
    const labels = { model: prediction.model, version: prediction.version, variant: prediction.variant };
    metrics.feedback.inc({ ...labels, outcome: judgement.outcome });
    // inc by 0 too, so every version that received feedback has a cost series to divide.
    metrics.businessCost.inc(labels, judgement.cost);
    if (judgement.confusion) metrics.confusion.inc({ ...labels, ...judgement.confusion });
    if (judgement.absoluteError !== undefined) metrics.absoluteError.inc(labels, judgement.absoluteError);
    if (judgement.squaredError !== undefined) metrics.squaredError.inc(labels, judgement.squaredError);
  };

  // One label may come bare ({prediction_id, actual}) and a batch as a plain array: both are read as {items}.
  app.addHook("preValidation", async (request) => {
    const body = request.body;
    if (Array.isArray(body)) request.body = { items: body };
    else if (body !== null && typeof body === "object" && "prediction_id" in body) request.body = { items: [body] };
  });

  app.post<{ Body: FeedbackBody }>(ROUTES.feedback, { schema: { body: feedbackBodySchema } }, async (request, reply) => {
    if (!store) {
      return reply.status(503).send(errorBody(503, "feedback needs the prediction log, which is disabled (PREDICTION_LOG_URL is not set)"));
    }
    // One status per item, in request order; a repeated id within the request is a duplicate of the first.
    const statuses = new Map<string, FeedbackStatus>();
    const ordered: Array<{ id: string; repeated: boolean }> = [];
    const items: Array<{ predictionId: string; actual: number | string; index: number }> = [];
    const seen = new Set<string>();
    request.body.items.forEach((item, index) => {
      const id = item.prediction_id.toLowerCase();
      const repeated = seen.has(id);
      seen.add(id);
      ordered.push({ id, repeated });
      if (!repeated) items.push({ predictionId: id, actual: item.actual, index });
    });

    let unavailable: string | undefined;
    try {
      const ids = items.map((i) => i.predictionId);
      const found = await findPredictions(store.pool, ids);
      let missing = ids.filter((id) => !found.has(id));
      let settled = true;
      if (missing.length > 0 && store.writes.hasUnsettled()) {
        settled = await store.writes.flush(flushTimeoutMs);
        for (const [id, prediction] of await findPredictions(store.pool, missing)) found.set(id, prediction);
        missing = missing.filter((id) => !found.has(id));
      }
      for (const id of missing) statuses.set(id, settled ? "unknown" : "pending");
      const known = items.filter((i) => found.has(i.predictionId));
      const judgements = new Map<string, Judgement>();
      const problems: FieldProblem[] = [];
      for (const item of known) {
        const prediction = found.get(item.predictionId)!;
        const judged = judge(prediction, item.actual);
        if (typeof judged === "string") problems.push({ field: `items.${item.index}.actual`, problem: `${judged} (prediction of a ${prediction.task} model)` });
        else judgements.set(item.predictionId, judged);
      }
      // Nothing of a request with a label that does not fit its prediction is stored: the client fixes and resends.
      if (problems.length > 0) throw new RequestProblem(400, `invalid feedback: ${problems.slice(0, 5).map((p) => `${p.field} ${p.problem}`).join("; ")}`, problems.slice(0, 100));
      const toStore: FeedbackItem[] = known.map((i) => ({ predictionId: i.predictionId, actual: judgements.get(i.predictionId)!.actual, actualValue: judgements.get(i.predictionId)!.actualValue }));
      const stored = await storeFeedback(store.pool, toStore);
      for (const item of known) {
        const accepted = stored.has(item.predictionId);
        statuses.set(item.predictionId, accepted ? "accepted" : "duplicate");
        if (accepted) count(found.get(item.predictionId)!, judgements.get(item.predictionId)!);
      }
    } catch (error) {
      if (error instanceof RequestProblem) throw error;
      request.log.warn({ err: error }, "feedback: prediction log database unavailable");
      unavailable = (error as Error).message;
    }
    if (unavailable !== undefined) {
      return reply
        .status(503)
        .header("retry-after", RETRY_AFTER_SECONDS)
        .send(errorBody(503, "the prediction log database is unavailable; retry later (resending the batch is safe)"));
    }

    const results = ordered.map(({ id, repeated }) => ({ prediction_id: id, status: repeated ? "duplicate" : statuses.get(id)! }));
    const tally = (status: FeedbackStatus) => results.filter((r) => r.status === status).length;
    const summary = { accepted: tally("accepted"), duplicates: tally("duplicate"), unknown: tally("unknown"), pending: tally("pending"), results };
    if (summary.pending > 0) {
      return reply
        .status(503)
        .header("retry-after", RETRY_AFTER_SECONDS)
        .send({
          ...errorBody(503, `${summary.pending} prediction(s) not written to the prediction log yet; retry later (resending the batch is safe)`),
          ...summary,
        });
    }
    if (summary.unknown > 0) {
      const ids = results.filter((r) => r.status === "unknown").map((r) => r.prediction_id);
      return reply
        .status(404)
        .send({ ...errorBody(404, `unknown prediction_id: ${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ` (+${ids.length - 5} more)` : ""}`), ...summary });
    }
    return summary;
  });
};
