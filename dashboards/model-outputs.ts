/**
 * The service dashboard's rows about what the model answers and how right it is, per task: binary (positive
 * rate, probabilities, hit rate), multiclass (class shares, confidence, accuracy, confusion), regression (value
 * distribution, MAE and RMSE against the baseline) and tensor (output norms; no ground truth). Each shift panel
 * draws its alert's threshold and links its runbook section.
 */
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import {
  LABEL,
  METRICS,
  baselineHitRate,
  baselineMae,
  bucket,
  businessCostPerFeedback,
  businessCostRate,
  classShares,
  confusionCounts,
  histogramCdf,
  histogramMean,
  hitRate,
  largestShareGap,
  meanAbsoluteError,
  positiveRatio,
  predictionRate,
  rootMeanSquaredError,
  selector,
  sumBy,
} from "../alerts/promql";
import { percent } from "../alerts/rules/templates";
import type { ModelDashboardContext } from "./context";
import { type DashboardLayout, RATE_WINDOW } from "./panels";
import { modelMatcher, scope, served, stableVsCanary } from "./scope";

const byVariant = scope([LABEL.variant]);
const byVersion = scope([LABEL.variant, LABEL.version]);
const points = (share: number) => `${+(share * 100).toFixed(2)} points`;

function heatmapOf(layout: DashboardLayout, histogram: string, title: string, description: string, unit = "short"): void {
  layout.heatmap({
    title,
    description,
    queries: [{ expr: sumBy([LABEL.le], `rate(${selector(bucket(histogram), served)}[${RATE_WINDOW}])`), legend: "{{le}}", format: prometheus.PromQueryFormat.Heatmap }],
    unit,
  });
}

function outcomesPanel(layout: DashboardLayout, outcomes: string): void {
  layout.timeseries({
    title: "Predictions/s by outcome",
    description: `${outcomes}, fallback and error answers per second, per variant.`,
    queries: [{ expr: predictionRate(scope([LABEL.variant, LABEL.outcome]), RATE_WINDOW), legend: "{{variant}} {{outcome}}" }],
    unit: "reqps",
    stack: true,
  });
}

/** The histogram's binned KS distance, last hour vs last day, per variant and version (versions bring their own buckets). */
function histogramShift(histogram: string): string {
  return largestShareGap(histogramCdf(histogram, byVersion, "1h"), histogramCdf(histogram, byVersion, "1d"), [LABEL.variant, LABEL.version]);
}

/** "Predictions": the distribution of the model's answers now and against the last day. */
export function predictionRow(layout: DashboardLayout, ctx: ModelDashboardContext): void {
  const t = ctx.thresholds;
  layout.row("Predictions");
  switch (ctx.task) {
    case "binary": {
      const alert = ctx.alert("PredictionDistributionShift");
      layout
        .timeseries({
          title: "Positive rate, 1 h vs 24 h",
          description: "Share of model answers that were positive over the last hour and the last day, per variant.",
          queries: [
            { expr: positiveRatio(byVariant, "1h"), legend: "{{variant}} last 1h" },
            { expr: positiveRatio(byVariant, "1d"), legend: "{{variant}} last 24h" },
          ],
          unit: "percentunit",
          min: 0,
          max: 1,
          alert,
        })
        .timeseries({
          title: "Positive rate shift, 1 h vs 24 h",
          description: `|positive rate of the last hour - of the last day| per variant. ${alert.name} fires above ${points(t.positiveRateShift)} (dashed line) for 15 minutes, with at least ${t.minHourlyPredictions} answers in the hour.`,
          queries: [{ expr: `abs(\n${positiveRatio(byVariant, "1h")}\n-\n${positiveRatio(byVariant, "1d")}\n)`, legend: "{{variant}}" }],
          unit: "percentunit",
          min: 0,
          steps: [{ value: t.positiveRateShift, color: "red" }],
          alert,
        });
      heatmapOf(layout, METRICS.predictionProbability, "Probability distribution", "Positive-class probabilities over time (0.05 buckets). A band moving up or down is a distribution shift; a band at the threshold means undecided inputs.");
      outcomesPanel(layout, "positive, negative");
      return;
    }
    case "multiclass": {
      const alert = ctx.alert("ClassDistributionShift");
      layout
        .timeseries({
          title: "Class shares, last hour",
          description: "Each class's share of the model's answers over the last hour, per variant.",
          queries: [{ expr: classShares(scope([LABEL.variant]), "1h"), legend: "{{variant}} {{class}}" }],
          unit: "percentunit",
          min: 0,
          max: 1,
          alert,
        })
        .timeseries({
          title: "Class share shift, 1 h vs 24 h",
          description: `Largest change of one class's share of answers, last hour vs last day, per variant. ${alert.name} fires above ${points(t.classShareShift)} (dashed line) for 15 minutes, with at least ${t.minHourlyPredictions} answers in the hour.`,
          queries: [{ expr: largestShareGap(classShares(byVariant, "1h"), classShares(byVariant, "1d"), [LABEL.variant]), legend: "{{variant}}" }],
          unit: "percentunit",
          min: 0,
          steps: [{ value: t.classShareShift, color: "red" }],
          alert,
        });
      heatmapOf(layout, METRICS.predictionProbability, "Confidence distribution", "Probability of the predicted class over time (0.05 buckets). A band sliding down means the model is less sure of its answers: inputs unlike its training data.");
      layout.timeseries({
        title: "Predictions/s by class",
        description: "Answers per second per predicted class and variant.",
        queries: [{ expr: sumBy([LABEL.variant, LABEL.predictedClass], `rate(${selector(METRICS.predictionClassTotal, served)}[${RATE_WINDOW}])`), legend: "{{variant}} {{class}}" }],
        unit: "reqps",
        stack: true,
      });
      outcomesPanel(layout, "predicted");
      return;
    }
    case "regression": {
      const alert = ctx.alert("ValueDistributionShift");
      layout
        .timeseries({
          title: "Mean predicted value, 1 h vs 24 h",
          description: "Mean of the predicted values over the last hour and the last day, per variant.",
          queries: [
            { expr: histogramMean(METRICS.predictionValue, byVariant, "1h"), legend: "{{variant}} last 1h" },
            { expr: histogramMean(METRICS.predictionValue, byVariant, "1d"), legend: "{{variant}} last 24h" },
          ],
          unit: "short",
          alert,
        })
        .timeseries({
          title: "Value distribution shift, 1 h vs 24 h",
          description: `Largest gap between the last hour's and the last day's cumulative distribution of predicted values at a bucket bound (binned KS distance), per variant and version. ${alert.name} fires above ${percent(t.valueDistributionShift)} (dashed line) for 15 minutes, with at least ${t.minHourlyPredictions} answers in the hour.`,
          queries: [{ expr: histogramShift(METRICS.predictionValue), legend: "{{variant}} v{{version}}" }],
          unit: "percentunit",
          min: 0,
          steps: [{ value: t.valueDistributionShift, color: "red" }],
          alert,
        });
      heatmapOf(layout, METRICS.predictionValue, "Predicted value distribution", "Predicted values over time, in the buckets the version's training distribution gave. A band moving is a shift of what the model predicts.");
      outcomesPanel(layout, "predicted");
      return;
    }
    case "tensor": {
      const alert = ctx.alert("OutputNormShift");
      layout
        .timeseries({
          title: "Mean output norm, 1 h vs 24 h",
          description: "Mean L2 norm of the first output per row over the last hour and the last day, per variant.",
          queries: [
            { expr: histogramMean(METRICS.predictionOutputNorm, byVariant, "1h"), legend: "{{variant}} last 1h" },
            { expr: histogramMean(METRICS.predictionOutputNorm, byVariant, "1d"), legend: "{{variant}} last 24h" },
          ],
          unit: "short",
          alert,
        })
        .timeseries({
          title: "Output norm shift, 1 h vs 24 h",
          description: `Largest gap between the last hour's and the last day's cumulative distribution of output norms at a bucket bound (binned KS distance), per variant and version. ${alert.name} fires above ${percent(t.outputNormShift)} (dashed line) for 15 minutes, with at least ${t.minHourlyPredictions} answers in the hour.`,
          queries: [{ expr: histogramShift(METRICS.predictionOutputNorm), legend: "{{variant}} v{{version}}" }],
          unit: "percentunit",
          min: 0,
          steps: [{ value: t.outputNormShift, color: "red" }],
          alert,
        });
      heatmapOf(layout, METRICS.predictionOutputNorm, "Output norm distribution", "L2 norm of the first output per row over time. Embeddings of normal inputs keep a steady band; a new band means other inputs.");
      outcomesPanel(layout, "predicted");
      return;
    }
  }
}

/** "Ground truth and business": the live quality against the version's registered baseline (not for tensor models). */
export function groundTruthRow(layout: DashboardLayout, ctx: ModelDashboardContext): void {
  if (ctx.task === "tensor") return;
  const t = ctx.thresholds;
  layout.row("Ground truth and business");
  if (ctx.task === "regression") {
    const alert = ctx.alert("MaeAboveBaseline");
    layout
      .timeseries({
        title: "MAE vs baseline",
        description: `Live mean absolute error (6 h window) per version and variant, against the MAE the version scored at registration. ${alert.name} fires above ${+(1 + t.maeRelativeRise).toFixed(4)}x the baseline (the alert line) with at least ${t.minFeedback} labels.`,
        queries: [
          { expr: meanAbsoluteError(byVersion, "6h"), legend: "{{variant}} v{{version}} live" },
          { expr: baselineMae([modelMatcher], [LABEL.version]), legend: "v{{version}} baseline" },
          { expr: `${1 + t.maeRelativeRise} * ${baselineMae([modelMatcher], [LABEL.version])}`, legend: "v{{version}} alert threshold" },
        ],
        unit: "short",
        min: 0,
        alert,
      })
      .timeseries({
        title: "RMSE and MAE",
        description: "Root mean squared and mean absolute error of labelled predictions (6 h window), per variant. RMSE far above MAE: a few very large errors (outliers, a broken input).",
        queries: [
          { expr: rootMeanSquaredError(byVariant, "6h"), legend: "{{variant}} RMSE" },
          { expr: meanAbsoluteError(byVariant, "6h"), legend: "{{variant}} MAE" },
        ],
        unit: "short",
        min: 0,
      });
  } else {
    const alert = ctx.alert("HitRateBelowBaseline");
    const rule = ctx.task === "binary" ? "(tp+tn)/all labelled" : "correct/all labelled";
    layout.timeseries({
      title: ctx.task === "binary" ? "Hit rate vs baseline" : "Accuracy vs baseline",
      description: `Live hit rate (${rule}, 6 h window) per version and variant, against the hit rate the version scored at registration. ${alert.name} fires below ${percent(1 - t.hitRateRelativeDrop)} of the baseline (the alert line) with at least ${t.minFeedback} labels.`,
      queries: [
        { expr: hitRate(byVersion, "6h", ctx.task), legend: "{{variant}} v{{version}} live" },
        { expr: baselineHitRate([modelMatcher], [LABEL.version]), legend: "v{{version}} baseline" },
        { expr: `${1 - t.hitRateRelativeDrop} * ${baselineHitRate([modelMatcher], [LABEL.version])}`, legend: "v{{version}} alert threshold" },
      ],
      unit: "percentunit",
      max: 1,
      alert,
    });
    if (ctx.task === "multiclass") {
      layout.table({
        title: "Confusion, last 6 h",
        description: "Labelled predictions per (actual, predicted) class pair over the last 6 hours: the off-diagonal rows are the mistakes, the largest first.",
        queries: [{ expr: confusionCounts(scope([]), "6h"), legend: "count", instant: true, format: prometheus.PromQueryFormat.Table }],
        sortBy: "Value",
      });
    }
  }
  const cost = ctx.alert("BusinessCostHigh");
  layout
    .timeseries({
      title: "Business cost",
      description: `${ctx.task === "regression" ? "Error cost (cost per unit of absolute error)" : "Cost-matrix-weighted errors"} per hour, and per labelled prediction (6 h window). ${cost.name} fires when the latter exceeds ${t.businessCostFactor}x its 7-day average.`,
      queries: [
        { expr: `3600 * ${businessCostRate(byVariant, RATE_WINDOW)}`, legend: "{{variant}} cost/h" },
        { expr: businessCostPerFeedback(byVariant, "6h"), legend: "{{variant}} cost per labelled prediction" },
      ],
      unit: "short",
      alert: cost,
    })
    .timeseries({
      title: "Feedback by outcome",
      description: `Labelled predictions (ground truth received) per hour by outcome: ${ctx.task === "binary" ? "tp, fp, tn, fn" : ctx.task === "multiclass" ? "correct, incorrect" : "observed"}.`,
      queries: [{ expr: `3600 * ${sumBy([LABEL.outcome], `rate(${selector(METRICS.modelFeedbackTotal, served)}[${RATE_WINDOW}])`)}`, legend: "{{outcome}}" }],
      unit: "short",
      stack: true,
    });
}

/** The "Stable vs canary" row's output panel: the task's answers side by side. */
export function canaryOutputPanel(layout: DashboardLayout, ctx: ModelDashboardContext): void {
  const variants = stableVsCanary([LABEL.variant]);
  const sameMix = "Same traffic mix, so the two should overlap; a gap means the versions answer differently.";
  switch (ctx.task) {
    case "binary":
      layout.timeseries({ title: "Positive rate: stable vs canary", description: sameMix, queries: [{ expr: positiveRatio(variants, RATE_WINDOW), legend: "{{variant}}" }], unit: "percentunit", width: 8 });
      return;
    case "multiclass":
      layout.timeseries({ title: "Class shares: stable vs canary", description: sameMix, queries: [{ expr: classShares(variants, RATE_WINDOW), legend: "{{variant}} {{class}}" }], unit: "percentunit", width: 8 });
      return;
    case "regression":
      layout.timeseries({ title: "Mean predicted value: stable vs canary", description: sameMix, queries: [{ expr: histogramMean(METRICS.predictionValue, variants, RATE_WINDOW), legend: "{{variant}}" }], unit: "short", width: 8 });
      return;
    case "tensor":
      layout.timeseries({ title: "Mean output norm: stable vs canary", description: sameMix, queries: [{ expr: histogramMean(METRICS.predictionOutputNorm, variants, RATE_WINDOW), legend: "{{variant}}" }], unit: "short", width: 8 });
      return;
  }
}
