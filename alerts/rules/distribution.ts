/**
 * Did the model's answers change: the last hour's distribution of answers against the last day's, in the form
 * the task's answers take. binary: the positive rate; multiclass: the largest class-share change; regression and
 * tensor: the largest gap between the two cumulative distributions over the histogram's buckets (a binned KS
 * distance) of the predicted value or the output norm. Each compares only once the hour had enough answers.
 */
import type { Task } from "../../service/src/contract";
import { LABEL, eq, largestShareGap, selector } from "../promql";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { RECORDED } from "./recording";
import { modelVariant, percent, queried, value } from "./templates";

const serviceKey = [LABEL.namespace, LABEL.model, LABEL.variant];
const versionKey = [...serviceKey, LABEL.version];
const labelArgs = serviceKey.map((name) => `$labels.${name}`);
const ofService = (record: string) => `${record}{${serviceKey.map((name) => `${name}=%q`).join(",")}}`;

const SHARED_STEPS = [
  "Drift dashboard: which features moved? Did the drift job run since?",
  "Did the served version change in the last hour (top row)? If so, compare with the previous version or roll back.",
];

/** The task's distribution-shift alert: name, what is compared, and the threshold it is compared with. */
export function distributionAlert(model: string, task: Task, t: ModelAlertThresholds): AlertDefinition {
  const ofModel = [eq(LABEL.model, model)];
  const enough = `and on (${serviceKey.join(", ")})\n${selector(RECORDED.predictionIncrease1h, ofModel)} >= ${t.minHourlyPredictions}`;
  const gap = (recent: string, baseline: string, by: readonly string[]) => largestShareGap(selector(recent, ofModel), selector(baseline, ofModel), by);
  switch (task) {
    case "binary":
      return {
        name: "PredictionDistributionShift",
        severity: "ticket",
        expr: `abs(${selector(RECORDED.positiveRatio1h, ofModel)} - ${selector(RECORDED.positiveRatio1d, ofModel)}) > ${t.positiveRateShift}\n${enough}`,
        for: "15m",
        summary: `${modelVariant}: positive rate moved ${value.percent} points in the last hour`,
        description:
          `The share of positive predictions of ${modelVariant} over the last hour is ` +
          queried(ofService(RECORDED.positiveRatio1h), labelArgs, "humanizePercentage") +
          ` against ` +
          queried(ofService(RECORDED.positiveRatio1d), labelArgs, "humanizePercentage") +
          ` over the last day: a shift of ${value.percent} points (threshold ${percent(t.positiveRateShift)}).`,
        meaning:
          "The model answers 'positive' much more or less often than over the last day. Either the input changed (upstream feature " +
          "bug, new traffic source, real-world shift: check the Drift dashboard) or a new version behaves differently.",
        firstSteps: ["Service dashboard: 'Positive rate, 1 h vs 24 h' and 'Probability distribution' (did the whole histogram move?).", ...SHARED_STEPS],
      };
    case "multiclass":
      return {
        name: "ClassDistributionShift",
        severity: "ticket",
        expr: `${gap(RECORDED.classShare1h, RECORDED.classShare1d, serviceKey)} > ${t.classShareShift}\n${enough}`,
        for: "15m",
        summary: `${modelVariant}: a class's share of answers moved ${value.percent} points in the last hour`,
        description:
          `Over the last hour, the share of at least one class among the answers of ${modelVariant} differs from its share over the ` +
          `last day by ${value.percent} points (threshold ${percent(t.classShareShift)}).`,
        meaning:
          "The model predicts some class much more or less often than over the last day. Either the input changed (upstream " +
          "feature bug, new traffic source, real-world shift) or a new version decides differently.",
        firstSteps: ["Service dashboard: 'Class shares, last hour' (which class moved?) and 'Class share shift, 1 h vs 24 h'.", ...SHARED_STEPS],
      };
    case "regression":
      return {
        name: "ValueDistributionShift",
        severity: "ticket",
        expr: `${gap(RECORDED.valueCdf1h, RECORDED.valueCdf1d, versionKey)} > ${t.valueDistributionShift}\n${enough}`,
        for: "15m",
        summary: `${modelVariant}: the distribution of predicted values moved (binned KS distance ${value.precise}) in the last hour`,
        description:
          `The cumulative distribution of the values version {{ $labels.${LABEL.version} }} of ${modelVariant} predicted over the last hour ` +
          `is up to ${value.percent} away from the last day's at some bucket bound (threshold ${percent(t.valueDistributionShift)}).`,
        meaning:
          "The regressor predicts systematically higher or lower values, or a wider or narrower spread, than over the last day. " +
          "Either the input changed (upstream feature bug, new traffic source, real-world shift) or a new version behaves differently.",
        firstSteps: ["Service dashboard: 'Predicted value distribution' (which way did it move?) and 'Mean predicted value, 1 h vs 24 h'.", ...SHARED_STEPS],
      };
    case "tensor":
      return {
        name: "OutputNormShift",
        severity: "ticket",
        expr: `${gap(RECORDED.outputNormCdf1h, RECORDED.outputNormCdf1d, versionKey)} > ${t.outputNormShift}\n${enough}`,
        for: "15m",
        summary: `${modelVariant}: the distribution of output norms moved (binned KS distance ${value.precise}) in the last hour`,
        description:
          `The cumulative distribution of the L2 norm of the outputs of version {{ $labels.${LABEL.version} }} of ${modelVariant} over the last ` +
          `hour is up to ${value.percent} away from the last day's at some bucket bound (threshold ${percent(t.outputNormShift)}).`,
        meaning:
          "The model's outputs got systematically larger or smaller than over the last day: for an embedding model, inputs unlike " +
          "the usual ones (another language, empty or truncated text, a broken tokenizer upstream); for a vision model, other images " +
          "(size, colour space, normalization). Or a new version behaves differently.",
        firstSteps: [
          "Service dashboard: 'Output norm distribution' and 'Mean output norm, 1 h vs 24 h'.",
          "Sample recent requests from the prediction log (features) and compare them with the usual inputs.",
          SHARED_STEPS[1],
        ],
      };
  }
}
