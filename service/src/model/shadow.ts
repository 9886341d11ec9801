/**
 * In-process shadow (challenger) scoring: a sample of the requests the primary answered is scored again by the
 * shadow model AFTER the primary response has been sent, so the shadow never changes an answer or delays one.
 * Its outputs are exported with variant="shadow" (predictions_total, prediction_latency_seconds,
 * prediction_probability) and written to the prediction log, where they line up with the primary's rows by
 * features and time. Shadow work the shadow's own batcher refuses (queue full, deadline) is shed and counted in
 * predictions_rejected_total{variant="shadow"}: the challenger must never build up a backlog behind the champion.
 */
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { PredictionLogEntry } from "../contract";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { ModelManager } from "./model-manager";
import { ScoringRejectedError, type FeatureRecord } from "./types";

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

/** The after-response hook that scores a sample of requests with the shadow model (never throws). */
export function createShadow(options: ShadowOptions): (records: readonly FeatureRecord[]) => void {
  const { models, sampleRate, metrics, log } = options;
  const random = options.random ?? Math.random;

  async function score(records: readonly FeatureRecord[]): Promise<void> {
    const lease = models.acquire();
    if (!lease) {
      metrics.rejected.inc({ model: "", variant: VARIANT, reason: "model_unavailable" }, records.length);
      return;
    }
    const model = lease.model;
    const labels = { model: model.identity.name, version: model.identity.version, variant: VARIANT };
    try {
      const started = performance.now();
      const probabilities = await model.scorer.score(records, { deadline: started + options.timeoutMs });
      const latencyMs = performance.now() - started;
      const createdAt = new Date();
      for (let i = 0; i < records.length; i++) {
        const probability = probabilities[i]!;
        const label = probability >= model.threshold ? 1 : 0;
        metrics.predictions.inc({ ...labels, outcome: label === 1 ? "positive" : "negative" });
        metrics.latency.observe(labels, latencyMs / 1000);
        metrics.probability.observe(labels, probability);
        options.recordPrediction?.({
          predictionId: randomUUID(),
          modelName: model.identity.name,
          modelVersion: model.identity.version,
          variant: VARIANT,
          createdAt,
          task: "binary",
          features: records[i]!,
          probability,
          label,
          value: null,
          latencyMs,
          fallback: false,
        });
      }
    } catch (error) {
      if (error instanceof ScoringRejectedError) {
        metrics.rejected.inc({ model: model.identity.name, variant: VARIANT, reason: error.reason }, records.length);
      } else {
        metrics.predictions.inc({ ...labels, outcome: "error" }, records.length);
        log.warn({ err: error, model: model.identity.name, version: model.identity.version }, "shadow model failed to score; the primary answer was not affected");
      }
    } finally {
      lease.release();
    }
  }

  return (records) => {
    if (sampleRate <= 0 || random() >= sampleRate) return;
    void score(records);
  };
}
