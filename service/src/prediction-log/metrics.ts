/**
 * Prediction-log and feedback metrics on the app's registry. Everything is a counter or a per-replica gauge,
 * so `sum(rate(...))` and `sum(...)` across replicas give the fleet's truth (the replica is the scrape's pod
 * label, never a label we add).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { FEEDBACK_OUTCOMES, LATENCY_BUCKETS_SECONDS, METRICS, MODEL_LABELS, PREDICTION_LOG_DROP_REASONS } from "../contract";

export type DropReason = (typeof PREDICTION_LOG_DROP_REASONS)[number];
export type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];

export interface PredictionLogMetrics {
  readonly written: Counter;
  readonly spilled: Counter;
  readonly replayed: Counter;
  readonly dropped: Counter<"reason">;
  readonly writeDuration: Histogram;
  readonly feedback: Counter<"model" | "version" | "variant" | "outcome">;
  readonly businessCost: Counter<"model" | "version" | "variant">;
  readonly confusion: Counter<"model" | "version" | "variant" | "actual" | "predicted">;
  readonly absoluteError: Counter<"model" | "version" | "variant">;
  readonly squaredError: Counter<"model" | "version" | "variant">;
}

/** Live values the gauges read at scrape time. */
export interface DepthSource {
  queueDepth(): number;
  spillDepth(): number;
}

export function createPredictionLogMetrics(registry: Registry, depths: DepthSource): PredictionLogMetrics {
  const registers = [registry];
  new Gauge({
    name: METRICS.predictionLogQueueDepth,
    help: "Prediction-log entries waiting in memory for a batch write.",
    registers,
    collect() {
      this.set(depths.queueDepth());
    },
  });
  new Gauge({
    name: METRICS.predictionLogSpillDepth,
    help: "Prediction-log entries in the local spill files, not yet replayed to the database.",
    registers,
    collect() {
      this.set(depths.spillDepth());
    },
  });
  const dropped = new Counter({
    name: METRICS.predictionLogDroppedTotal,
    help: "Prediction-log entries lost, by reason; stays 0 unless the spill disk fails.",
    labelNames: ["reason"] as const,
    registers,
  });
  // Zero series for every reason, so an alert on increase() sees the first drop.
  for (const reason of PREDICTION_LOG_DROP_REASONS) dropped.inc({ reason }, 0);
  return {
    written: new Counter({
      name: METRICS.predictionLogWrittenTotal,
      help: "Rows this replica inserted into the prediction log (queue and replay).",
      registers,
    }),
    spilled: new Counter({
      name: METRICS.predictionLogSpilledTotal,
      help: "Prediction-log entries written to the local spill file (database slow or down, or shutting down).",
      registers,
    }),
    replayed: new Counter({
      name: METRICS.predictionLogReplayedTotal,
      help: "Spilled prediction-log entries replayed into the database.",
      registers,
    }),
    dropped,
    writeDuration: new Histogram({
      name: METRICS.predictionLogWriteDurationSeconds,
      help: "Duration of one prediction-log batch insert, failed attempts included (seconds).",
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    feedback: new Counter({
      name: METRICS.modelFeedbackTotal,
      help: "Ground-truth labels joined with logged predictions, by outcome (binary tp, fp, tn, fn; multiclass correct, incorrect; regression observed).",
      labelNames: [...MODEL_LABELS, "outcome"] as const,
      registers,
    }),
    businessCost: new Counter({
      name: METRICS.modelBusinessCostTotal,
      help: "Cost of the model's errors: the cost matrix (classifiers), the cost per unit of absolute error (regression).",
      labelNames: [...MODEL_LABELS] as const,
      registers,
    }),
    confusion: new Counter({
      name: METRICS.modelConfusionTotal,
      help: "Multiclass ground truth by actual and predicted class (the confusion matrix).",
      labelNames: [...MODEL_LABELS, "actual", "predicted"] as const,
      registers,
    }),
    absoluteError: new Counter({
      name: METRICS.modelFeedbackAbsoluteErrorTotal,
      help: "Regression ground truth: sum of |actual - predicted| (MAE = rate of this / rate of model_feedback_total).",
      labelNames: [...MODEL_LABELS] as const,
      registers,
    }),
    squaredError: new Counter({
      name: METRICS.modelFeedbackSquaredErrorTotal,
      help: "Regression ground truth: sum of (actual - predicted)^2 (RMSE = sqrt of its rate over the rate of model_feedback_total).",
      labelNames: [...MODEL_LABELS] as const,
      registers,
    }),
  };
}
