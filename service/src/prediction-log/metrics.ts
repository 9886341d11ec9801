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
  readonly spillErrors: Counter;
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
  /** Bytes the local journal holds on disk, and its cap. */
  spillBytes(): number;
  spillLimitBytes(): number;
}

/** For a disabled prediction log: every gauge reads 0. */
export const NO_DEPTHS: DepthSource = { queueDepth: () => 0, spillDepth: () => 0, spillBytes: () => 0, spillLimitBytes: () => 0 };

export function createPredictionLogMetrics(registry: Registry, depths: DepthSource): PredictionLogMetrics {
  const registers = [registry];
  new Gauge({
    name: METRICS.predictionLogQueueDepth,
    help: "Prediction-log entries in the local journal waiting for their batch write (the normal backlog).",
    registers,
    collect() {
      this.set(depths.queueDepth());
    },
  });
  new Gauge({
    name: METRICS.predictionLogSpillDepth,
    help: "Prediction-log entries in the local journal beyond the sink's normal backlog (the sink is down or behind).",
    registers,
    collect() {
      this.set(depths.spillDepth());
    },
  });
  new Gauge({
    name: METRICS.predictionLogSpillBytes,
    help: "Bytes the prediction log's local journal (queue and spill) holds on disk.",
    registers,
    collect() {
      this.set(depths.spillBytes());
    },
  });
  new Gauge({
    name: METRICS.predictionLogSpillLimitBytes,
    help: "Cap on prediction_log_spill_bytes (PREDICTION_LOG_SPILL_MAX_BYTES); entries beyond it are dropped and counted.",
    registers,
    collect() {
      this.set(depths.spillLimitBytes());
    },
  });
  const dropped = new Counter({
    name: METRICS.predictionLogDroppedTotal,
    help: "Prediction-log entries lost, by reason: the spill cap reached or its disk failing, a machine crash found at start, a row the sink refuses.",
    labelNames: ["reason"] as const,
    registers,
  });
  // Zero series for every reason, so an alert on increase() sees the first drop.
  for (const reason of PREDICTION_LOG_DROP_REASONS) dropped.inc({ reason }, 0);
  return {
    written: new Counter({
      name: METRICS.predictionLogWrittenTotal,
      help: "Rows this replica stored in the prediction log's sink (queue and replay).",
      registers,
    }),
    spilled: new Counter({
      name: METRICS.predictionLogSpilledTotal,
      help: "Prediction-log entries that joined the local journal while the sink was behind (down or slow).",
      registers,
    }),
    replayed: new Counter({
      name: METRICS.predictionLogReplayedTotal,
      help: "Spilled prediction-log entries (and entries left by an earlier run) written to the sink.",
      registers,
    }),
    dropped,
    spillErrors: new Counter({
      name: METRICS.predictionLogSpillErrorsTotal,
      help: "Failed writes to the prediction log's spill directory (read-only, full, I/O error); entries then wait in memory.",
      registers,
    }),
    writeDuration: new Histogram({
      name: METRICS.predictionLogWriteDurationSeconds,
      help: "Duration of one prediction-log batch write to the sink, failed attempts included (seconds).",
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
