/**
 * In-process shadow (challenger) scoring: a sample of the requests the primary answered is scored again by the
 * shadow model AFTER the primary response has been sent, so the shadow never changes an answer or delays one.
 * Its outputs are exported with variant="shadow" (predictions_total, prediction_latency_seconds,
 * prediction_probability) and written to the prediction log, where they line up with the primary's rows by
 * features and time. Shadow work the shadow's own batcher refuses (queue full, deadline) is shed and counted in
 * predictions_rejected_total{variant="shadow"}: the challenger must never build up a backlog behind the champion.
 */
import type { FastifyBaseLogger } from "fastify";
import type { PredictionLogEntry } from "../contract";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { ScoredWork } from "../routes/predict";
import type { ModelManager } from "./model-manager";
import { createPredictor } from "./predictor";
import { ScoringRejectedError } from "./types";

const VARIANT = "shadow";

export interface ShadowOptions {
  /** The shadow model's own manager (variant "shadow"): it loads, polls and hot-swaps the challenger. */
  readonly models: Pick<ModelManager, "acquire">;
  /** Share of primary requests scored by the shadow, 0..1 (SHADOW_SAMPLE_RATE). */
  readonly sampleRate: number;
  readonly metrics: ServiceMetrics;
  /** Deadline for one shadow run. */
  readonly timeoutMs: number;
  readonly recordPrediction?: (entry: PredictionLogEntry) => void;
  readonly log: FastifyBaseLogger;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * The after-response hook that scores a sample of requests with the shadow model (never throws): records
 * through its column contract, tensors through its graph, with the shadow's own task metrics and log entries.
 */
export function createShadow(options: ShadowOptions): (work: ScoredWork) => void {
  const { models, sampleRate, metrics, log } = options;
  const random = options.random ?? Math.random;
  const predictor = createPredictor({ variant: VARIANT, metrics, requestTimeoutMs: options.timeoutMs, recordPrediction: options.recordPrediction });

  async function score(work: ScoredWork): Promise<void> {
    const rows = work.records?.length ?? work.tensors?.rows ?? 1;
    const lease = models.acquire();
    if (!lease) {
      metrics.rejected.inc({ model: "", variant: VARIANT, reason: "model_unavailable" }, rows);
      return;
    }
    const model = lease.model;
    try {
      if (work.records && model.task.tabular) {
        await predictor.records(model, work.records, performance.now());
      } else if (work.tensors) {
        await predictor.tensors(model, { ...work.tensors, key: model.batchAxis ? work.tensors.key : undefined }, [], performance.now());
      }
    } catch (error) {
      // Refusals and failures are counted by the predictor (rejected, or outcome="error"); only failures are logged.
      if (!(error instanceof ScoringRejectedError)) {
        log.warn({ err: error, model: model.identity.name, version: model.identity.version }, "shadow model failed to score; the primary answer was not affected");
      }
    } finally {
      lease.release();
    }
  }

  return (work) => {
    if (sampleRate <= 0 || random() >= sampleRate) return;
    void score(work);
  };
}
