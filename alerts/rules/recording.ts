/**
 * Recording rules of one model: the ratios and quantiles its alerts compare, named `level:metric:operation`
 * (https://prometheus.io/docs/practices/rules/) so an alert reads as a sentence. RED series exist for every
 * task; the distribution and ground-truth series only for the task whose metrics they read.
 */
import type { Task } from "../../service/src/contract";
import {
  LABEL,
  METRICS,
  businessCostPerFeedback,
  classShares,
  feedbackCount,
  histogramCdf,
  hitRate,
  http5xxRatio,
  keepBy,
  latencyQuantile,
  meanAbsoluteError,
  modelScope,
  positiveRatio,
  predictionIncrease,
  predictionRate,
  ruleMetricName,
} from "../promql";
import type { RecordingRule } from "../types";

const predictions = ruleMetricName(METRICS.predictionsTotal);
const feedback = ruleMetricName(METRICS.modelFeedbackTotal);
const classes = ruleMetricName(METRICS.predictionClassTotal);

/** Series recorded for a model, by namespace, model and variant (and version, class or le where the level says). */
export const RECORDED = {
  predictionRate5m: `model_variant:${predictions}:rate5m`,
  predictionIncrease1h: `model_variant:${predictions}:increase1h`,
  latencyP99: `model_variant:${METRICS.predictionLatencySeconds}:p99_rate5m`,
  http5xxRatio: `model_variant:${ruleMetricName(METRICS.httpRequestsTotal)}_5xx:ratio_rate5m`,
  /** binary */
  positiveRatio1h: `model_variant:${predictions}_positive:ratio_rate1h`,
  positiveRatio1d: `model_variant:${predictions}_positive:ratio_rate1d`,
  /** multiclass: each class's share of the answers. */
  classShare1h: `model_variant_class:${classes}:share_rate1h`,
  classShare1d: `model_variant_class:${classes}:share_rate1d`,
  /** regression: cumulative share of predicted values per bucket, per version (versions may bring their own buckets). */
  valueCdf1h: `model_version_variant_le:${METRICS.predictionValue}:cdf_rate1h`,
  valueCdf1d: `model_version_variant_le:${METRICS.predictionValue}:cdf_rate1d`,
  /** tensor: the same for the output norm. */
  outputNormCdf1h: `model_version_variant_le:${METRICS.predictionOutputNorm}:cdf_rate1h`,
  outputNormCdf1d: `model_version_variant_le:${METRICS.predictionOutputNorm}:cdf_rate1d`,
  /** By namespace, model, version, variant: compared to the version's registration baseline. */
  hitRatio6h: `model_version_variant:${feedback}_hits:ratio_6h`,
  maeMean6h: `model_version_variant:${ruleMetricName(METRICS.modelFeedbackAbsoluteErrorTotal)}:mean_6h`,
  feedbackIncrease6h: `model_version_variant:${feedback}:increase6h`,
  costPerFeedback6h: `model_variant:${ruleMetricName(METRICS.modelBusinessCostTotal)}_per_feedback:ratio_6h`,
  costPerFeedback7d: `model_variant:${ruleMetricName(METRICS.modelBusinessCostTotal)}_per_feedback:ratio_7d`,
} as const;

export function modelRecordingRules(model: string, task: Task): RecordingRule[] {
  const scope = modelScope(model);
  const versionScope = keepBy(scope, [...scope.by, LABEL.version]);
  const rule = (record: string, expr: string): RecordingRule => ({ record, expr });
  const red = [
    rule(RECORDED.predictionRate5m, predictionRate(scope, "5m")),
    rule(RECORDED.predictionIncrease1h, predictionIncrease(scope, "1h")),
    rule(RECORDED.latencyP99, latencyQuantile(0.99, scope, "5m")),
    rule(RECORDED.http5xxRatio, http5xxRatio(scope, "5m")),
  ];
  const cost = [
    rule(RECORDED.feedbackIncrease6h, feedbackCount(versionScope, "6h")),
    rule(RECORDED.costPerFeedback6h, businessCostPerFeedback(scope, "6h")),
    rule(RECORDED.costPerFeedback7d, businessCostPerFeedback(scope, "7d")),
  ];
  switch (task) {
    case "binary":
      return [
        ...red,
        rule(RECORDED.positiveRatio1h, positiveRatio(scope, "1h")),
        rule(RECORDED.positiveRatio1d, positiveRatio(scope, "1d")),
        rule(RECORDED.hitRatio6h, hitRate(versionScope, "6h", "binary")),
        ...cost,
      ];
    case "multiclass":
      return [
        ...red,
        rule(RECORDED.classShare1h, classShares(scope, "1h")),
        rule(RECORDED.classShare1d, classShares(scope, "1d")),
        rule(RECORDED.hitRatio6h, hitRate(versionScope, "6h", "multiclass")),
        ...cost,
      ];
    case "regression":
      return [
        ...red,
        rule(RECORDED.valueCdf1h, histogramCdf(METRICS.predictionValue, versionScope, "1h")),
        rule(RECORDED.valueCdf1d, histogramCdf(METRICS.predictionValue, versionScope, "1d")),
        rule(RECORDED.maeMean6h, meanAbsoluteError(versionScope, "6h")),
        ...cost,
      ];
    case "tensor":
      return [
        ...red,
        rule(RECORDED.outputNormCdf1h, histogramCdf(METRICS.predictionOutputNorm, versionScope, "1h")),
        rule(RECORDED.outputNormCdf1d, histogramCdf(METRICS.predictionOutputNorm, versionScope, "1d")),
      ];
  }
}
