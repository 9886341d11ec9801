/**
 * Recording rules of one model: the ratios and quantiles its alerts compare, named `level:metric:operation`
 * (https://prometheus.io/docs/practices/rules/) so an alert reads as a sentence.
 */
import {
  LABEL,
  METRICS,
  businessCostPerFeedback,
  feedbackCount,
  hitRate,
  http5xxRatio,
  keepBy,
  latencyQuantile,
  modelScope,
  positiveRatio,
  predictionIncrease,
  predictionRate,
  ruleMetricName,
} from "../promql";
import type { RecordingRule } from "../types";

const predictions = ruleMetricName(METRICS.predictionsTotal);
const feedback = ruleMetricName(METRICS.modelFeedbackTotal);

/** Series recorded for every model, by namespace, model and variant (and version where stated). */
export const RECORDED = {
  predictionRate5m: `model_variant:${predictions}:rate5m`,
  predictionIncrease1h: `model_variant:${predictions}:increase1h`,
  latencyP99: `model_variant:${METRICS.predictionLatencySeconds}:p99_rate5m`,
  http5xxRatio: `model_variant:${ruleMetricName(METRICS.httpRequestsTotal)}_5xx:ratio_rate5m`,
  positiveRatio1h: `model_variant:${predictions}_positive:ratio_rate1h`,
  positiveRatio1d: `model_variant:${predictions}_positive:ratio_rate1d`,
  /** By namespace, model, version, variant: compared to the version's registration baseline. */
  hitRatio6h: `model_version_variant:${feedback}_hits:ratio_6h`,
  feedbackIncrease6h: `model_version_variant:${feedback}:increase6h`,
  costPerFeedback6h: `model_variant:${ruleMetricName(METRICS.modelBusinessCostTotal)}_per_feedback:ratio_6h`,
  costPerFeedback7d: `model_variant:${ruleMetricName(METRICS.modelBusinessCostTotal)}_per_feedback:ratio_7d`,
} as const;

export function modelRecordingRules(model: string): RecordingRule[] {
  const scope = modelScope(model);
  const versionScope = keepBy(scope, [...scope.by, LABEL.version]);
  const rule = (record: string, expr: string): RecordingRule => ({ record, expr });
  return [
    rule(RECORDED.predictionRate5m, predictionRate(scope, "5m")),
    rule(RECORDED.predictionIncrease1h, predictionIncrease(scope, "1h")),
    rule(RECORDED.latencyP99, latencyQuantile(0.99, scope, "5m")),
    rule(RECORDED.http5xxRatio, http5xxRatio(scope, "5m")),
    rule(RECORDED.positiveRatio1h, positiveRatio(scope, "1h")),
    rule(RECORDED.positiveRatio1d, positiveRatio(scope, "1d")),
    rule(RECORDED.hitRatio6h, hitRate(versionScope, "6h")),
    rule(RECORDED.feedbackIncrease6h, feedbackCount(versionScope, "6h")),
    rule(RECORDED.costPerFeedback6h, businessCostPerFeedback(scope, "6h")),
    rule(RECORDED.costPerFeedback7d, businessCostPerFeedback(scope, "7d")),
  ];
}
