/**
 * Is the model still right: how its answers are distributed (distribution.ts), and, where ground truth arrives,
 * the live hit rate (classifiers) or mean absolute error (regression) against the version's registered baseline,
 * and the business cost. Tensor models get no feedback, so only the distribution.
 */
import type { Task } from "../../service/src/contract";
import { LABEL, METRICS, baselineHitRate, baselineMae, eq, selector, sumBy } from "../promql";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { distributionAlert } from "./distribution";
import { RECORDED } from "./recording";
import { label, modelVariant, percent, queried, value } from "./templates";

const serviceKey = `${LABEL.namespace}, ${LABEL.model}, ${LABEL.variant}`;
const versionKey = `${LABEL.namespace}, ${LABEL.model}, ${LABEL.version}`;
const versionArgs = [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.version}`];
const ofVersion = (metric: string) => `max(${metric}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.version}=%q})`;

export function qualityAlerts(model: string, task: Task, t: ModelAlertThresholds): AlertDefinition[] {
  const shift = distributionAlert(model, task, t);
  switch (task) {
    case "binary":
    case "multiclass":
      return [shift, hitRateBelowBaseline(model, task, t), businessCostHigh(model, task, t)];
    case "regression":
      return [shift, maeAboveBaseline(model, t), businessCostHigh(model, task, t)];
    case "tensor":
      return [shift];
  }
}

/** Enough labelled predictions of this version and variant in the last 6 h to judge. */
function enoughFeedback(model: string, t: ModelAlertThresholds): string {
  return `and on (${versionKey}, ${LABEL.variant})\n${selector(RECORDED.feedbackIncrease6h, [eq(LABEL.model, model)])} >= ${t.minFeedback}`;
}

function hitRateBelowBaseline(model: string, task: "binary" | "multiclass", t: ModelAlertThresholds): AlertDefinition {
  const ofModel = [eq(LABEL.model, model)];
  const right = task === "binary" ? "right" : "right (predicted class = labelled class)";
  return {
    name: "HitRateBelowBaseline",
    severity: "ticket",
    expr:
      `${selector(RECORDED.hitRatio6h, ofModel)}\n< on (${versionKey}) group_left\n` +
      `${1 - t.hitRateRelativeDrop} * ${baselineHitRate(ofModel, [LABEL.namespace, LABEL.model, LABEL.version])}\n` +
      enoughFeedback(model, t),
    for: "30m",
    summary: `${modelVariant}: live hit rate ${value.percent} is over ${percent(t.hitRateRelativeDrop)} below the baseline of version ${label(LABEL.version)}`,
    description:
      `Over the last 6 hours of labelled predictions, version ${label(LABEL.version)} of ${modelVariant} was ${right} ${value.percent} of the time; ` +
      `it scored ` +
      queried(ofVersion(METRICS.modelBaselineHitRate), versionArgs, "humanizePercentage") +
      ` at registration (alert below ${percent(1 - t.hitRateRelativeDrop)} of it).`,
    meaning:
      "Ground truth (feedback) says the model is clearly worse in production than when it was registered: concept drift, " +
      "data drift, a feature pipeline bug, or a training/serving skew in the new version.",
    firstSteps: [
      `Service dashboard: '${task === "binary" ? "Hit rate" : "Accuracy"} vs baseline' per version: did it drop at a version change (roll back) or gradually (retrain)?`,
      task === "binary" ? "Drift dashboard: are features drifting?" : "Service dashboard: 'Confusion, last 6 h': which classes are confused? Drift dashboard: are features drifting?",
      `Query the prediction log for recent ${task === "binary" ? "false positives/negatives" : "misclassified predictions"} to look at the inputs.`,
    ],
  };
}

function maeAboveBaseline(model: string, t: ModelAlertThresholds): AlertDefinition {
  const ofModel = [eq(LABEL.model, model)];
  return {
    name: "MaeAboveBaseline",
    severity: "ticket",
    expr:
      `${selector(RECORDED.maeMean6h, ofModel)}\n> on (${versionKey}) group_left\n` +
      `${1 + t.maeRelativeRise} * ${baselineMae(ofModel, [LABEL.namespace, LABEL.model, LABEL.version])}\n` +
      enoughFeedback(model, t),
    for: "30m",
    summary: `${modelVariant}: live MAE ${value.number} is over ${percent(t.maeRelativeRise)} above the baseline of version ${label(LABEL.version)}`,
    description:
      `Over the last 6 hours of labelled predictions, version ${label(LABEL.version)} of ${modelVariant} was off by ${value.number} on average ` +
      `(mean absolute error); it scored ` +
      queried(ofVersion(METRICS.modelBaselineMae), versionArgs, "humanize") +
      ` at registration (alert above ${+(1 + t.maeRelativeRise).toFixed(4)}x it).`,
    meaning:
      "Ground truth (feedback) says the regressor's errors are clearly larger in production than when it was registered: concept " +
      "drift, data drift, a feature pipeline bug (units!), or a training/serving skew in the new version.",
    firstSteps: [
      "Service dashboard: 'MAE vs baseline' per version: did it rise at a version change (roll back) or gradually (retrain)?",
      "Service dashboard: 'RMSE' against MAE: a few huge errors (RMSE far above MAE) point at outliers or a broken input.",
      "Drift dashboard: are features or the predicted value drifting?",
    ],
  };
}

function businessCostHigh(model: string, task: Exclude<Task, "tensor">, t: ModelAlertThresholds): AlertDefinition {
  const ofModel = [eq(LABEL.model, model)];
  const feedbackPerVariant = sumBy([LABEL.namespace, LABEL.model, LABEL.variant], selector(RECORDED.feedbackIncrease6h, ofModel));
  const weighted = task === "regression" ? "Error cost (cost per unit of absolute error)" : "Cost-matrix-weighted errors";
  return {
    name: "BusinessCostHigh",
    severity: "ticket",
    expr:
      `${selector(RECORDED.costPerFeedback6h, ofModel)}\n> ${t.businessCostFactor} * ${selector(RECORDED.costPerFeedback7d, ofModel)}\n` +
      `and on (${serviceKey})\n${feedbackPerVariant} >= ${t.minFeedback}`,
    for: "30m",
    summary: `${modelVariant}: cost per labelled prediction ${value.number} is over ${t.businessCostFactor}x its 7-day average`,
    description:
      `${weighted} of ${modelVariant} per labelled prediction were ${value.number} over the last 6 hours, more than ` +
      `${t.businessCostFactor}x the 7-day average of ` +
      queried(`${RECORDED.costPerFeedback7d}{${LABEL.namespace}=%q,${LABEL.model}=%q,${LABEL.variant}=%q}`, [`$labels.${LABEL.namespace}`, `$labels.${LABEL.model}`, `$labels.${LABEL.variant}`], "humanize") +
      `.`,
    meaning:
      task === "regression"
        ? "Mistakes got more expensive per labelled prediction: the errors grew, even if the predicted values look as usual."
        : "Mistakes got more expensive per decision: more of the costly kind of error (with the configured COST_FALSE_POSITIVE / " +
          "COST_FALSE_NEGATIVE), even if accuracy looks fine. Often the positive rate shifted and the threshold no longer fits.",
    firstSteps:
      task === "regression"
        ? ["Service dashboard: 'Business cost' and 'MAE vs baseline'.", "Compare with 'Value distribution shift' and the Drift dashboard.", "If a new version is the cause, roll back; otherwise retrain."]
        : [
            `Service dashboard: 'Business cost' and 'Feedback by outcome': which ${task === "binary" ? "of fp/fn" : "errors"} grew?`,
            `Compare with '${task === "binary" ? "Positive rate, 1 h vs 24 h" : "Class share shift, 1 h vs 24 h"}' and the Drift dashboard.`,
            task === "binary" ? "If a new version is the cause, roll back; otherwise retrain or re-tune the decision threshold." : "If a new version is the cause, roll back; otherwise retrain.",
          ],
  };
}
