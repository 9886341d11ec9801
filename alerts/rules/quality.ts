/** Is the model still right: prediction distribution, live hit rate against its baseline, business cost. */
import { LABEL, METRICS, baselineHitRate, eq, selector, sumBy } from "../promql";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { RECORDED } from "./recording";
import { label, modelVariant, percent, queried, value } from "./templates";

/** Predictions an hour needs before its positive rate is compared with the day's. */
const MIN_HOURLY_PREDICTIONS = 100;

export function qualityAlerts(model: string, t: ModelAlertThresholds): AlertDefinition[] {
  const ofModel = [eq(LABEL.model, model)];
  const serviceKey = `${LABEL.namespace}, ${LABEL.model}, ${LABEL.variant}`;
  const versionKey = `${LABEL.namespace}, ${LABEL.model}, ${LABEL.version}`;
  const feedbackPerVariant = sumBy([LABEL.namespace, LABEL.model, LABEL.variant], selector(RECORDED.feedbackIncrease6h, ofModel));
  return [
    {
      name: "PredictionDistributionShift",
      severity: "ticket",
      expr:
        `abs(${selector(RECORDED.positiveRatio1h, ofModel)} - ${selector(RECORDED.positiveRatio1d, ofModel)}) > ${t.positiveRateShift}\n` +
        // Too few predictions make an hourly rate noise.
        `and on (${serviceKey})\n${selector(RECORDED.predictionIncrease1h, ofModel)} >= ${MIN_HOURLY_PREDICTIONS}`,
      for: "15m",
      summary: `${modelVariant}: positive rate moved ${value.percent} points in the last hour`,
      description:
        `The share of positive predictions of ${modelVariant} over the last hour is ` +
        queried(`${RECORDED.positiveRatio1h}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.variant}=%q}`, [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.variant}`], "humanizePercentage") +
        ` against ` +
        queried(`${RECORDED.positiveRatio1d}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.variant}=%q}`, [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.variant}`], "humanizePercentage") +
        ` over the last day: a shift of ${value.percent} points (threshold ${percent(t.positiveRateShift)}).`,
      meaning:
        "The model answers 'positive' much more or less often than over the last day. Either the input changed (upstream feature " +
        "bug, new traffic source, real-world shift: check the Drift dashboard) or a new version behaves differently.",
      firstSteps: [
        "Service dashboard: 'Positive rate, 1 h vs 24 h' and 'Probability distribution' (did the whole histogram move?).",
        "Drift dashboard: which features moved? Did the drift job run since?",
        "Did the served version change in the last hour (top row)? If so, compare with the previous version or roll back.",
      ],
    },
    {
      name: "HitRateBelowBaseline",
      severity: "ticket",
      expr:
        `${selector(RECORDED.hitRatio6h, ofModel)}\n< on (${versionKey}) group_left\n` +
        `${1 - t.hitRateRelativeDrop} * ${baselineHitRate(ofModel, [LABEL.namespace, LABEL.model, LABEL.version])}\n` +
        `and on (${versionKey}, ${LABEL.variant})\n${selector(RECORDED.feedbackIncrease6h, ofModel)} >= ${t.minFeedback}`,
      for: "30m",
      summary: `${modelVariant}: live hit rate ${value.percent} is over ${percent(t.hitRateRelativeDrop)} below the baseline of version ${label(LABEL.version)}`,
      description:
        `Over the last 6 hours of labelled predictions, version ${label(LABEL.version)} of ${modelVariant} was right ${value.percent} of the time; ` +
        `it scored ` +
        queried(`max(${METRICS.modelBaselineHitRate}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.version}=%q})`, [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.version}`], "humanizePercentage") +
        ` at registration (alert below ${percent(1 - t.hitRateRelativeDrop)} of it).`,
      meaning:
        "Ground truth (feedback) says the model is clearly worse in production than when it was registered: concept drift, " +
        "data drift, a feature pipeline bug, or a training/serving skew in the new version.",
      firstSteps: [
        "Service dashboard: 'Hit rate vs baseline' per version: did it drop at a version change (roll back) or gradually (retrain)?",
        "Drift dashboard: are features drifting?",
        "Query the prediction log for recent false positives/negatives to look at the inputs.",
      ],
    },
    {
      name: "BusinessCostHigh",
      severity: "ticket",
      expr:
        `${selector(RECORDED.costPerFeedback6h, ofModel)}\n> ${t.businessCostFactor} * ${selector(RECORDED.costPerFeedback7d, ofModel)}\n` +
        `and on (${serviceKey})\n${feedbackPerVariant} >= ${t.minFeedback}`,
      for: "30m",
      summary: `${modelVariant}: cost per labelled prediction ${value.number} is over ${t.businessCostFactor}x its 7-day average`,
      description:
        `Cost-matrix-weighted errors of ${modelVariant} per labelled prediction were ${value.number} over the last 6 hours, more than ` +
        `${t.businessCostFactor}x the 7-day average of ` +
        queried(`${RECORDED.costPerFeedback7d}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.variant}=%q}`, [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.variant}`], "humanize") +
        `.`,
      meaning:
        "Mistakes got more expensive per decision: more of the costly kind of error (with the configured COST_FALSE_POSITIVE / " +
        "COST_FALSE_NEGATIVE), even if accuracy looks fine. Often the positive rate shifted and the threshold no longer fits.",
      firstSteps: [
        "Service dashboard: 'Business cost' and 'Feedback by outcome': which of fp/fn grew?",
        "Compare with 'Positive rate, 1 h vs 24 h' and the Drift dashboard.",
        "If a new version is the cause, roll back; otherwise retrain or re-tune the decision threshold.",
      ],
    },
  ];
}
