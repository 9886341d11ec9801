/**
 * The service dashboard's rows on how the process runs, the same for every task: micro-batching, the
 * prediction log and the Node.js runtime with model reloads.
 */
import { LABEL, METRICS, bucket, maxBy, perServingProcess, selector, sumBy } from "../alerts/promql";
import type { ModelDashboardContext } from "./context";
import { type DashboardLayout, RATE_WINDOW } from "./panels";
import { scope, served } from "./scope";

export function runtimeRows(layout: DashboardLayout, ctx: ModelDashboardContext): void {
  const processScope = scope([LABEL.variant]);
  const perProcess = (metric: string, fn = "rate") =>
    sumBy([LABEL.variant], perServingProcess(fn === "rate" ? `rate(${metric}[${RATE_WINDOW}])` : metric, processScope));
  layout
    .row("Batching")
    .timeseries({
      title: "Batch size p50 / p95",
      description: "Records per ONNX Runtime run. Near 1 under load = batching is not kicking in; at BATCH_MAX_SIZE = saturated.",
      queries: [
        { expr: `histogram_quantile(0.5, ${sumBy([LABEL.variant, LABEL.le], `rate(${selector(bucket(METRICS.inferenceBatchSize), served)}[${RATE_WINDOW}])`)})`, legend: "{{variant}} p50" },
        { expr: `histogram_quantile(0.95, ${sumBy([LABEL.variant, LABEL.le], `rate(${selector(bucket(METRICS.inferenceBatchSize), served)}[${RATE_WINDOW}])`)})`, legend: "{{variant}} p95" },
      ],
      unit: "short",
      width: 8,
    })
    .timeseries({
      title: "Batch queue wait p99",
      description: "Time a record waited for a batch slot. Rising = the model cannot keep up (scale out).",
      queries: [{ expr: `histogram_quantile(0.99, ${sumBy([LABEL.variant, LABEL.le], `rate(${selector(bucket(METRICS.inferenceQueueWaitSeconds), served)}[${RATE_WINDOW}])`)})`, legend: "{{variant}} p99" }],
      unit: "s",
      width: 8,
    })
    .timeseries({
      title: "Batch queue depth",
      description: "Records waiting for a batch slot, per variant. When it reaches MAX_QUEUE requests are shed (fallback or 503).",
      queries: [{ expr: sumBy([LABEL.variant], selector(METRICS.inferenceQueueDepth, served)), legend: "{{variant}}" }],
      unit: "short",
      width: 8,
    });

  layout
    .row("Prediction log")
    .timeseries({
      title: "Prediction log flow",
      description: "Records written to Postgres, spilled to the local file (database slow or down), replayed from it, and dropped (lost). Dropped must stay 0.",
      queries: [
        { expr: perProcess(METRICS.predictionLogWrittenTotal), legend: "{{variant}} written" },
        { expr: perProcess(METRICS.predictionLogSpilledTotal), legend: "{{variant}} spilled" },
        { expr: perProcess(METRICS.predictionLogReplayedTotal), legend: "{{variant}} replayed" },
        // The dropped counter has a reason label and appears only at the first loss: show 0 until then.
        { expr: `${perProcess(METRICS.predictionLogDroppedTotal)}\nor\n0 * ${perProcess(METRICS.predictionLogWrittenTotal)}`, legend: "{{variant}} dropped" },
      ],
      unit: "reqps",
      steps: [],
      width: 8,
    })
    .timeseries({
      title: "Prediction log backlog",
      description: "Records waiting in memory and in the spill file. A growing spill depth fires PredictionLogLoss (the disk will fill; see the platform runbook).",
      queries: [
        { expr: perProcess(METRICS.predictionLogQueueDepth, "gauge"), legend: "{{variant}} queue" },
        { expr: perProcess(METRICS.predictionLogSpillDepth, "gauge"), legend: "{{variant}} spill file" },
      ],
      unit: "short",
      width: 8,
    })
    .timeseries({
      title: "Prediction log write p99",
      description: "Duration of one batch INSERT. Slow writes come before spilling.",
      queries: [
        {
          expr: `histogram_quantile(0.99, ${sumBy([LABEL.variant, LABEL.le], perServingProcess(`rate(${bucket(METRICS.predictionLogWriteDurationSeconds)}[${RATE_WINDOW}])`, processScope))})`,
          legend: "{{variant}} p99",
        },
      ],
      unit: "s",
      width: 8,
    });

  layout
    .row("Runtime and reloads")
    .timeseries({
      title: "Event-loop lag p99",
      description: "Delay of the Node.js event loop per replica. Above a few ms, every request waits: CPU saturation or a synchronous model run.",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.instance], perServingProcess(METRICS.eventLoopLagP99Seconds, processScope)), legend: "{{variant}} {{instance}}" }],
      unit: "s",
      width: 8,
    })
    .timeseries({
      title: "CPU and memory per replica",
      description: "CPU cores used and resident memory per replica.",
      queries: [
        { expr: maxBy([LABEL.variant, LABEL.instance], perServingProcess(`rate(${METRICS.processCpuSecondsTotal}[${RATE_WINDOW}])`, processScope)), legend: "{{variant}} {{instance}} CPU cores" },
        { expr: maxBy([LABEL.variant, LABEL.instance], perServingProcess(METRICS.processResidentMemoryBytes, processScope)), legend: "{{variant}} {{instance}} RSS bytes" },
      ],
      unit: "short",
      width: 8,
    })
    .timeseries({
      title: "Model loads by result",
      description: "Model loads and hot reloads per hour by result. Failures fire ModelReloadFailing.",
      alert: ctx.alert("ModelReloadFailing"),
      queries: [{ expr: `3600 * ${sumBy([LABEL.variant, LABEL.result], `rate(${selector(METRICS.modelReloadsTotal, served)}[${RATE_WINDOW}])`)}`, legend: "{{variant}} {{result}}" }],
      unit: "short",
      width: 8,
    });
}
