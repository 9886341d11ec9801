/**
 * "<model> service": the dashboard on-call opens first. Top row answers "is it broken, since when, which
 * version"; the rows below go from traffic and latency to model quality, canary comparison, batching, the
 * prediction log and the runtime. Queries come from the same builders as the alerts, thresholds from the same
 * defaults, so a red panel and a firing alert mean the same thing.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { DEFAULT_MODEL_THRESHOLDS } from "../alerts/types";
import {
  CANARY,
  LABEL,
  METRICS,
  PROMETHEUS_ALERTS,
  STABLE,
  Scope,
  bucket,
  eq,
  hitRate,
  http5xxRatio,
  httpRequestRate,
  latencyQuantile,
  matches,
  maxBy,
  ne,
  oneOf,
  perServingProcess,
  positiveRatio,
  predictionErrorRatio,
  predictionRate,
  selector,
  sumBy,
  SHADOW,
  baselineHitRate,
  businessCostPerFeedback,
  businessCostRate,
} from "../alerts/promql";
import { DashboardLayout, LOADED_MAPPINGS, RATE_WINDOW, datasourceVariable, labelVariable, newDashboard } from "./panels";

export const MODEL_VARIABLE = "$model";
export const VARIANT_VARIABLE = "$variant";

const modelMatcher = eq(LABEL.model, MODEL_VARIABLE);
const variantMatcher = matches(LABEL.variant, VARIANT_VARIABLE);
/** Everything of the selected model and variants, kept by `by`. */
const scope = (by: readonly string[], matchers: readonly string[] = [modelMatcher, variantMatcher]): Scope => ({ matchers, by });
/** Stable and canary of the selected model, whatever $variant says: the comparison row. */
const stableVsCanary = (by: readonly string[]) => scope(by, [modelMatcher, oneOf(LABEL.variant, [STABLE, CANARY])]);

export function serviceDashboard(model: string, uid: string, runbookUrl: string): dashboard.Dashboard {
  const t = DEFAULT_MODEL_THRESHOLDS;
  const builder = newDashboard({
    uid,
    title: `${model} service`,
    description: `Inference service of ${model}: health, traffic, latency, model quality, canary and prediction log. Runbook: ${runbookUrl}`,
    tags: ["modelport", "model", model],
  })
    .withVariable(datasourceVariable())
    .withVariable(
      labelVariable({
        name: "model",
        label: "Model",
        query: `label_values(${METRICS.modelInfo}, ${LABEL.model})`,
        description: "Model served (the model label of model_info).",
        preselect: model,
      }),
    )
    .withVariable(
      labelVariable({
        name: "variant",
        label: "Variant",
        query: `label_values(${selector(METRICS.modelInfo, [modelMatcher])}, ${LABEL.variant})`,
        description: "stable, canary or shadow.",
        multi: true,
      }),
    )
    .link(new dashboard.DashboardLinkBuilder("Runbook").type(dashboard.DashboardLinkType.Link).url(runbookUrl).targetBlank(true).icon("doc"))
    .link(new dashboard.DashboardLinkBuilder("Modelport dashboards").type(dashboard.DashboardLinkType.Dashboards).tags(["modelport"]).asDropdown(true).includeVars(true).keepTime(true));
  const layout = new DashboardLayout(builder);
  const all = scope([]);
  const byVariant = scope([LABEL.variant]);
  const served = [modelMatcher, variantMatcher];

  layout
    .row("Is it broken? Since when? Which version?")
    .stat({
      title: "Model loaded",
      description: "Lowest model_loaded over the replicas of each variant: NOT LOADED means at least one replica serves nothing (ModelNotLoaded pages when no replica has it).",
      queries: [{ expr: `min by (${LABEL.variant}) (${selector(METRICS.modelLoaded, [...served, ne(LABEL.variant, SHADOW)])})`, legend: "{{variant}}", instant: true }],
      mappings: LOADED_MAPPINGS,
      steps: [],
      graph: false,
      textMode: common.BigValueTextMode.ValueAndName,
      width: 4,
    })
    .stat({
      title: "Firing alerts",
      description: "Alerts firing for this model right now (Prometheus ALERTS). Details and runbook links in Alertmanager.",
      queries: [{ expr: `sum(${selector(PROMETHEUS_ALERTS, [eq("alertstate", "firing"), modelMatcher])}) or vector(0)`, legend: "firing", instant: true }],
      steps: [{ value: 1, color: "red" }],
      graph: false,
      width: 3,
    })
    .stat({
      title: "Requests/s",
      description: "Inference requests per second over the selected variants (probes and /metrics excluded).",
      queries: [{ expr: httpRequestRate(all, RATE_WINDOW), legend: "req/s" }],
      unit: "reqps",
      width: 4,
    })
    .stat({
      title: "5xx ratio",
      description: `Share of inference requests answered 5xx. HighErrorRate fires above ${t.errorRatio * 100}% for 5 minutes.`,
      queries: [{ expr: http5xxRatio(all, RATE_WINDOW), legend: "5xx" }],
      unit: "percentunit",
      steps: [{ value: t.errorRatio / 2, color: "yellow" }, { value: t.errorRatio, color: "red" }],
      decimals: 2,
      width: 4,
    })
    .stat({
      title: "p99 latency",
      description: `p99 time to score a record, batch queueing included. HighLatency fires above ${t.latencyP99Seconds * 1000} ms for 5 minutes.`,
      queries: [{ expr: latencyQuantile(0.99, all, RATE_WINDOW), legend: "p99" }],
      unit: "s",
      steps: [{ value: t.latencyP99Seconds / 2, color: "yellow" }, { value: t.latencyP99Seconds, color: "red" }],
      width: 4,
    })
    .stat({
      title: "Served version",
      description: "Registry version each variant serves now (model_info), with the alias it follows.",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.version, LABEL.alias], selector(METRICS.modelInfo, served)), legend: "{{variant}}: v{{version}} @{{alias}}", instant: true }],
      textMode: common.BigValueTextMode.Name,
      graph: false,
      steps: [],
      width: 5,
    })
    .stateTimeline({
      title: "Served version over time",
      description: "Which version each variant served when: a colour change is a deploy or an alias move (the 'since when').",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.version], selector(METRICS.modelInfo, served)), legend: "{{variant}} v{{version}}" }],
      steps: [],
    })
    .stateTimeline({
      title: "Model loaded per replica",
      description: "model_loaded per replica: red stretches are replicas without a model (loading, failed reload, crash).",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.instance], selector(METRICS.modelLoaded, served)), legend: "{{variant}} {{instance}}" }],
      mappings: LOADED_MAPPINGS,
      steps: [],
    });

  layout
    .row("Traffic and latency")
    .timeseries({
      title: "Requests/s by route and status",
      description: "Inference requests per second by route template and HTTP status. 4xx are callers' bad input; 5xx are ours.",
      queries: [{ expr: httpRequestRate(scope([LABEL.route, LABEL.statusCode]), RATE_WINDOW), legend: "{{route}} {{status_code}}" }],
      unit: "reqps",
      stack: true,
    })
    .timeseries({
      title: "Prediction latency p50 / p99",
      description: `Time to score one record, queueing included, per variant. Dashed line: the ${t.latencyP99Seconds * 1000} ms p99 SLO.`,
      queries: [
        { expr: latencyQuantile(0.5, byVariant, RATE_WINDOW), legend: "{{variant}} p50" },
        { expr: latencyQuantile(0.99, byVariant, RATE_WINDOW), legend: "{{variant}} p99" },
      ],
      unit: "s",
      steps: [{ value: t.latencyP99Seconds, color: "red" }],
    })
    .timeseries({
      title: "Error ratios",
      description: "5xx share of inference requests, and share of predictions that ended in a model error, per variant.",
      queries: [
        { expr: http5xxRatio(byVariant, RATE_WINDOW), legend: "{{variant}} 5xx" },
        { expr: predictionErrorRatio(byVariant, RATE_WINDOW), legend: "{{variant}} model errors" },
      ],
      unit: "percentunit",
      min: 0,
      steps: [{ value: t.errorRatio, color: "red" }],
    })
    .timeseries({
      title: "Fallbacks and rejections",
      description: "Answers given by the fallback instead of the model, and requests refused with 503, per reason. Both mean the model could not answer in time.",
      queries: [
        // Fallback and rejection counters appear at their first event: a zero line per variant until then.
        { expr: `${sumBy([LABEL.variant, LABEL.reason], `rate(${selector(METRICS.predictionsFallbackTotal, served)}[${RATE_WINDOW}])`)}\nor\n0 * ${predictionRate(byVariant, RATE_WINDOW)}`, legend: "fallback {{variant}} {{reason}}" },
        { expr: `${sumBy([LABEL.variant, LABEL.reason], `rate(${selector(METRICS.predictionsRejectedTotal, served)}[${RATE_WINDOW}])`)}\nor\n0 * ${predictionRate(byVariant, RATE_WINDOW)}`, legend: "rejected {{variant}} {{reason}}" },
      ],
      unit: "reqps",
    });

  layout
    .row("Predictions")
    .timeseries({
      title: "Positive rate, 1 h vs 24 h",
      description: `Share of model answers that were positive over the last hour and the last day. PredictionDistributionShift fires when they differ by more than ${t.positiveRateShift * 100} points.`,
      queries: [
        { expr: positiveRatio(byVariant, "1h"), legend: "{{variant}} last 1h" },
        { expr: positiveRatio(byVariant, "1d"), legend: "{{variant}} last 24h" },
      ],
      unit: "percentunit",
      min: 0,
      max: 1,
    })
    .heatmap({
      title: "Probability distribution",
      description: "Positive-class probabilities over time (0.05 buckets). A band moving up or down is a distribution shift; a band at the threshold means undecided inputs.",
      queries: [{ expr: sumBy([LABEL.le], `rate(${selector(bucket(METRICS.predictionProbability), served)}[${RATE_WINDOW}])`), legend: "{{le}}", format: prometheus.PromQueryFormat.Heatmap }],
      unit: "short",
    })
    .timeseries({
      title: "Predictions/s by outcome",
      description: "positive, negative, fallback and error answers per second, per variant.",
      queries: [{ expr: predictionRate(scope([LABEL.variant, LABEL.outcome]), RATE_WINDOW), legend: "{{variant}} {{outcome}}" }],
      unit: "reqps",
      stack: true,
    });

  layout
    .row("Ground truth and business")
    .timeseries({
      title: "Hit rate vs baseline",
      description: `Live hit rate ((tp+tn)/all labelled, 6 h window) per version and variant, against the hit rate the version scored at registration. HitRateBelowBaseline fires below ${(1 - t.hitRateRelativeDrop) * 100}% of the baseline with at least ${t.minFeedback} labels.`,
      queries: [
        { expr: hitRate(scope([LABEL.variant, LABEL.version]), "6h"), legend: "{{variant}} v{{version}} live" },
        { expr: baselineHitRate([modelMatcher], [LABEL.version]), legend: "v{{version}} baseline" },
        { expr: `${1 - t.hitRateRelativeDrop} * ${baselineHitRate([modelMatcher], [LABEL.version])}`, legend: "v{{version}} alert threshold" },
      ],
      unit: "percentunit",
      max: 1,
    })
    .timeseries({
      title: "Business cost",
      description: "Cost-matrix-weighted errors per hour, and per labelled prediction (6 h window). BusinessCostHigh compares the latter with its 7-day average.",
      queries: [
        { expr: `3600 * ${businessCostRate(byVariant, RATE_WINDOW)}`, legend: "{{variant}} cost/h" },
        { expr: businessCostPerFeedback(byVariant, "6h"), legend: "{{variant}} cost per labelled prediction" },
      ],
      unit: "short",
    })
    .timeseries({
      title: "Feedback by outcome",
      description: "Labelled predictions (ground truth received) per hour by outcome: tp, fp, tn, fn.",
      queries: [{ expr: `3600 * ${sumBy([LABEL.outcome], `rate(${selector(METRICS.modelFeedbackTotal, served)}[${RATE_WINDOW}])`)}`, legend: "{{outcome}}" }],
      unit: "short",
      stack: true,
    });

  layout
    .row("Stable vs canary")
    .timeseries({
      title: "5xx ratio: stable vs canary",
      description: `CanaryWorseThanStable fires when the canary's 5xx ratio exceeds stable's by ${t.canaryErrorRatioMargin * 100} points.`,
      queries: [{ expr: http5xxRatio(stableVsCanary([LABEL.variant]), RATE_WINDOW), legend: "{{variant}}" }],
      unit: "percentunit",
      width: 8,
    })
    .timeseries({
      title: "p99 latency: stable vs canary",
      description: `CanaryWorseThanStable fires when the canary's p99 exceeds ${t.canaryLatencyFactor}x stable's.`,
      queries: [{ expr: latencyQuantile(0.99, stableVsCanary([LABEL.variant]), RATE_WINDOW), legend: "{{variant}}" }],
      unit: "s",
      width: 8,
    })
    .timeseries({
      title: "Positive rate: stable vs canary",
      description: "Same traffic mix, so the two should overlap; a gap means the versions decide differently.",
      queries: [{ expr: positiveRatio(stableVsCanary([LABEL.variant]), RATE_WINDOW), legend: "{{variant}}" }],
      unit: "percentunit",
      width: 8,
    });

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
      description: "Records waiting in memory and in the spill file. A growing spill depth fires PredictionLogLoss (the disk will fill).",
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
      queries: [{ expr: `3600 * ${sumBy([LABEL.variant, LABEL.result], `rate(${selector(METRICS.modelReloadsTotal, served)}[${RATE_WINDOW}])`)}`, legend: "{{variant}} {{result}}" }],
      unit: "short",
      width: 8,
    });
  return builder.build();
}
