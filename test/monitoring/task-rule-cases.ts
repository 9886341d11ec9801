/**
 * promtool cases for the alerts that depend on the model's task (multiclass, regression, tensor): the series
 * the service emits for that task per the contract (prediction_class_total, prediction_value and
 * prediction_output_norm histograms, correct/incorrect/observed feedback, error sums, baseline MAE), each alert
 * firing and staying silent in a close call.
 */
import { METRICS, type Task } from "../../service/src/contract";
import { DAY, RuleCase, Series, canaryPod, series, stablePod } from "./rule-cases";

/** One model per task in the rules file promtool tests (the binary one is rule-cases' MODEL). */
export const TASK_MODELS: Readonly<Record<Exclude<Task, "binary">, string>> = {
  multiclass: "delay-class",
  regression: "delay-minutes",
  tensor: "embedder",
};

const pod = (model: string, base: Record<string, string>) => ({ ...base, job: model, model, pod: base.pod.replace("flight-delay", model) });
const stableOf = (model: string) => ({ ...pod(model, stablePod), variant: "stable", version: "3" });
const canaryOf = (model: string) => ({ ...pod(model, canaryPod), variant: "canary", version: "4" });

/** Steps of 5 minutes before the last two hours of a day-long series, and the steps kept after them. */
const EARLY = (DAY - 60) / 5;
const LATE = 30;
/** A counter growing by `early` per 5 minutes, then by `late` for the last two hours before evaluation. */
const changing = (early: number, late: number) => `0+${early}x${EARLY} ${early * EARLY}+${late}x${LATE}`;
const steady = (perStep: number) => `0+${perStep}x${EARLY + LATE}`;

/**
 * A histogram whose cumulative bucket counts grow per 5 minutes by `early[i]`, then `late[i]` (bounds as the
 * version's training distribution gave them), with its count and the predictions counter that gates the alert.
 */
function histogram(metric: string, labels: Record<string, string>, bounds: readonly string[], early: readonly number[], late: readonly number[]): Series[] {
  const total = (counts: readonly number[]) => counts[counts.length - 1];
  return [
    ...bounds.map((le, i) => series(`${metric}_bucket`, { ...labels, le }, changing(early[i], late[i]))),
    series(`${metric}_count`, labels, changing(total(early), total(late))),
    series(METRICS.predictionsTotal, { ...labels, outcome: "predicted" }, changing(total(early), total(late))),
  ];
}

const VALUE_BOUNDS = ["0", "15", "60", "180", "+Inf"];
const NORM_BOUNDS = ["0.5", "0.9", "1.1", "2", "+Inf"];

const multiclass = TASK_MODELS.multiclass;
const regression = TASK_MODELS.regression;
const tensor = TASK_MODELS.tensor;
const ticket = (labels: Record<string, string>) => ({ severity: "ticket", namespace: "prod", ...labels });

export const TASK_RULE_CASES: RuleCase[] = [
  // --- multiclass: ClassDistributionShift ----------------------------------------------------------------------
  {
    name: "fires when a class's share of answers moves more than 10 points against the day",
    alert: "ClassDistributionShift",
    model: multiclass,
    evaluationInterval: "5m",
    interval: "5m",
    series: [
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "on_time" }, changing(30, 10)),
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "late" }, changing(15, 25)),
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "very_late" }, changing(5, 15)),
      series(METRICS.predictionsTotal, { ...stableOf(multiclass), outcome: "predicted" }, changing(50, 50)),
    ],
    evalTime: `${DAY + 60}m`,
    expected: [
      {
        labels: ticket({ model: multiclass, variant: "stable" }),
        summary: "delay-class (stable) in prod: a class's share of answers moved 36.79% points in the last hour",
        description:
          "Over the last hour, the share of at least one class among the answers of delay-class (stable) in prod differs from its share over the last day by 36.79% points (threshold 10%).",
      },
    ],
  },
  {
    name: "stays silent while class shares are steady, and on a class that appears for the first time in small numbers",
    alert: "ClassDistributionShift",
    model: multiclass,
    evaluationInterval: "5m",
    interval: "5m",
    series: [
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "on_time" }, steady(30)),
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "late" }, steady(15)),
      series(METRICS.predictionClassTotal, { ...stableOf(multiclass), class: "very_late" }, `_x${EARLY} 0+2x${LATE}`),
      series(METRICS.predictionsTotal, { ...stableOf(multiclass), outcome: "predicted" }, steady(45)),
    ],
    evalTime: `${DAY + 60}m`,
    expected: [],
  },
  // --- multiclass: HitRateBelowBaseline (correct / incorrect) --------------------------------------------------
  {
    name: "fires when live accuracy is far below the version's baseline",
    alert: "HitRateBelowBaseline",
    model: multiclass,
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "correct" }, "0+1x90"),
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "incorrect" }, "0+1x90"),
      series(METRICS.modelBaselineHitRate, { ...pod(multiclass, stablePod), version: "3" }, "0.9x90"),
    ],
    evalTime: "80m",
    expected: [
      {
        labels: ticket({ model: multiclass, variant: "stable", version: "3" }),
        summary: "delay-class (stable) in prod: live hit rate 50% is over 10% below the baseline of version 3",
        description:
          "Over the last 6 hours of labelled predictions, version 3 of delay-class (stable) in prod was right (predicted class = labelled class) 50% of the time; it scored 90% at registration (alert below 90% of it).",
      },
    ],
  },
  {
    name: "stays silent at the baseline, and with too few labels to judge",
    alert: "HitRateBelowBaseline",
    model: multiclass,
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "correct" }, "0+9x90"),
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "incorrect" }, "0+1x90"),
      series(METRICS.modelBaselineHitRate, { ...pod(multiclass, stablePod), version: "3" }, "0.9x90"),
      series(METRICS.modelFeedbackTotal, { ...canaryOf(multiclass), outcome: "incorrect" }, "0+0.5x90"),
      series(METRICS.modelBaselineHitRate, { ...pod(multiclass, canaryPod), version: "4" }, "0.9x90"),
    ],
    evalTime: "80m",
    expected: [],
  },
  // --- multiclass: BusinessCostHigh ----------------------------------------------------------------------------
  {
    name: "fires when cost per labelled prediction triples against the 7-day average",
    alert: "BusinessCostHigh",
    model: multiclass,
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "incorrect" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableOf(multiclass), "0+60x160 9600+180x10"),
    ],
    evalTime: "170h",
    expected: [
      {
        labels: ticket({ model: multiclass, variant: "stable" }),
        summary: "delay-class (stable) in prod: cost per labelled prediction 3 is over 1.5x its 7-day average",
        description:
          "Cost-matrix-weighted errors of delay-class (stable) in prod per labelled prediction were 3 over the last 6 hours, more than 1.5x the 7-day average of 1.101.",
      },
    ],
  },
  {
    name: "stays silent while the cost per labelled prediction is steady",
    alert: "BusinessCostHigh",
    model: multiclass,
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(multiclass), outcome: "incorrect" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableOf(multiclass), "0+60x170"),
    ],
    evalTime: "170h",
    expected: [],
  },
  // --- regression: ValueDistributionShift ----------------------------------------------------------------------
  {
    name: "fires when the predicted values move up against the day (binned KS distance over 0.15)",
    alert: "ValueDistributionShift",
    model: regression,
    evaluationInterval: "5m",
    interval: "5m",
    series: histogram(METRICS.predictionValue, stableOf(regression), VALUE_BOUNDS, [10, 30, 45, 50, 50], [2, 10, 30, 45, 50]),
    evalTime: `${DAY + 60}m`,
    expected: [
      {
        labels: ticket({ model: regression, variant: "stable", version: "3" }),
        summary: "delay-minutes (stable) in prod: the distribution of predicted values moved (binned KS distance 0.368) in the last hour",
        description:
          "The cumulative distribution of the values version 3 of delay-minutes (stable) in prod predicted over the last hour is up to 36.79% away from the last day's at some bucket bound (threshold 15%).",
      },
    ],
  },
  {
    name: "stays silent while the values keep their distribution, and for the same move on too few predictions",
    alert: "ValueDistributionShift",
    model: regression,
    evaluationInterval: "5m",
    interval: "5m",
    series: [
      ...histogram(METRICS.predictionValue, stableOf(regression), VALUE_BOUNDS, [10, 30, 45, 50, 50], [10, 30, 45, 50, 50]),
      ...histogram(METRICS.predictionValue, canaryOf(regression), VALUE_BOUNDS, [1, 3, 4, 5, 5], [0, 1, 3, 4, 5]),
    ],
    evalTime: `${DAY + 60}m`,
    expected: [],
  },
  // --- regression: MaeAboveBaseline ----------------------------------------------------------------------------
  {
    name: "fires when the live MAE is far above the version's baseline",
    alert: "MaeAboveBaseline",
    model: regression,
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(regression), outcome: "observed" }, "0+2x90"),
      series(METRICS.modelFeedbackAbsoluteErrorTotal, stableOf(regression), "0+40x90"),
      series(METRICS.modelBaselineMae, { ...pod(regression, stablePod), version: "3" }, "12x90"),
    ],
    evalTime: "80m",
    expected: [
      {
        labels: ticket({ model: regression, variant: "stable", version: "3" }),
        summary: "delay-minutes (stable) in prod: live MAE 20 is over 10% above the baseline of version 3",
        description:
          "Over the last 6 hours of labelled predictions, version 3 of delay-minutes (stable) in prod was off by 20 on average (mean absolute error); it scored 12 at registration (alert above 1.1x it).",
      },
    ],
  },
  {
    name: "stays silent just under the alert line, and with too few labels to judge",
    alert: "MaeAboveBaseline",
    model: regression,
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(regression), outcome: "observed" }, "0+2x90"),
      series(METRICS.modelFeedbackAbsoluteErrorTotal, stableOf(regression), "0+26x90"),
      series(METRICS.modelBaselineMae, { ...pod(regression, stablePod), version: "3" }, "12x90"),
      series(METRICS.modelFeedbackTotal, { ...canaryOf(regression), outcome: "observed" }, "0+0.5x90"),
      series(METRICS.modelFeedbackAbsoluteErrorTotal, canaryOf(regression), "0+50x90"),
      series(METRICS.modelBaselineMae, { ...pod(regression, canaryPod), version: "4" }, "12x90"),
    ],
    evalTime: "80m",
    expected: [],
  },
  // --- regression: BusinessCostHigh (cost per unit of error) ---------------------------------------------------
  {
    name: "fires when error cost per labelled prediction triples against the 7-day average",
    alert: "BusinessCostHigh",
    model: regression,
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(regression), outcome: "observed" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableOf(regression), "0+60x160 9600+180x10"),
    ],
    evalTime: "170h",
    expected: [
      {
        labels: ticket({ model: regression, variant: "stable" }),
        summary: "delay-minutes (stable) in prod: cost per labelled prediction 3 is over 1.5x its 7-day average",
        description:
          "Error cost (cost per unit of absolute error) of delay-minutes (stable) in prod per labelled prediction were 3 over the last 6 hours, more than 1.5x the 7-day average of 1.101.",
      },
    ],
  },
  {
    name: "stays silent while the error cost per labelled prediction is steady",
    alert: "BusinessCostHigh",
    model: regression,
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableOf(regression), outcome: "observed" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableOf(regression), "0+60x170"),
    ],
    evalTime: "170h",
    expected: [],
  },
  // --- tensor: OutputNormShift ---------------------------------------------------------------------------------
  {
    name: "fires when the output norms move against the day",
    alert: "OutputNormShift",
    model: tensor,
    evaluationInterval: "5m",
    interval: "5m",
    series: histogram(METRICS.predictionOutputNorm, stableOf(tensor), NORM_BOUNDS, [0, 5, 45, 50, 50], [10, 30, 45, 50, 50]),
    evalTime: `${DAY + 60}m`,
    expected: [
      {
        labels: ticket({ model: tensor, variant: "stable", version: "3" }),
        summary: "embedder (stable) in prod: the distribution of output norms moved (binned KS distance 0.46) in the last hour",
        description:
          "The cumulative distribution of the L2 norm of the outputs of version 3 of embedder (stable) in prod over the last hour is up to 45.99% away from the last day's at some bucket bound (threshold 15%).",
      },
    ],
  },
  {
    name: "stays silent while the output norms keep their distribution",
    alert: "OutputNormShift",
    model: tensor,
    evaluationInterval: "5m",
    interval: "5m",
    series: histogram(METRICS.predictionOutputNorm, stableOf(tensor), NORM_BOUNDS, [0, 5, 45, 50, 50], [0, 6, 44, 50, 50]),
    evalTime: `${DAY + 60}m`,
    expected: [],
  },
];
