/**
 * Regressors: one value per record (skl2onnx and onnxmltools name the output `variable`). Its histogram uses the
 * buckets stored with the model from the training target distribution, so each model resolves its own range;
 * ground truth moves absolute and squared error sums (MAE and RMSE in PromQL) and a cost per unit of error.
 */
import { DEFAULT_VALUE_BUCKETS, TASK_TAG } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { GraphTensor, TensorMap } from "../model/tensors";
import {
  baseSeries,
  counterSeries,
  declaredWidth,
  describe,
  isNumeric,
  rowValues,
  ModelContractError,
  type ModelLabels,
  type Prediction,
  type RowValues,
  type ServedIdentity,
  type ServedTask,
  type TaskDefinition,
  type TaskOutputs,
  type TaskSeries,
  type VersionFacts,
  type NewPredictionId,
} from "./task";

/** Output names regressor exporters use (skl2onnx / onnxmltools `variable`, and common hand-written ones). */
export const VALUE_OUTPUTS = ["variable", "value", "prediction", "predictions", "output", "y"] as const;

interface RegressionSeries extends TaskSeries {
  readonly predicted: CounterSeries;
  readonly value: HistogramSeries;
}

class RegressionTask implements ServedTask {
  readonly task = "regression" as const;
  readonly tabular: boolean;
  private readonly outputs: TaskOutputs;
  private readonly buckets: readonly number[];

  constructor(facts: VersionFacts) {
    if (facts.width !== 1) {
      throw new ModelContractError(
        `value output "${facts.outputs.rowOutput}" has ${facts.width} values per record; a regressor has 1: tag the version ${TASK_TAG}=tensor for a multi-output model`,
      );
    }
    this.tabular = facts.tabular;
    this.outputs = facts.outputs;
    this.buckets = facts.valueBuckets ?? DEFAULT_VALUE_BUCKETS;
  }

  checkWarmUp(rows: RowValues, n: number): void {
    if (rows.length !== n) throw new ModelContractError(`warm-up returned ${rows.length} values for ${n} example records`);
    for (const value of rows) {
      if (!Number.isFinite(value)) throw new ModelContractError(`warm-up produced ${value}, not a finite value: the artifact is corrupt or its input example is not valid input`);
    }
  }

  series(metrics: ServiceMetrics, labels: ModelLabels): RegressionSeries {
    return {
      ...baseSeries(metrics, labels),
      predicted: counterSeries(metrics, labels, "predicted"),
      value: metrics.predictionValue.labelsWithBuckets(labels, this.buckets),
    };
  }

  fromRows(rows: RowValues, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[] {
    const m = series as RegressionSeries;
    const predictions = new Array<Prediction>(n);
    for (let i = 0; i < n; i++) {
      const value = rows[i]!;
      m.predicted.inc();
      m.latency.observe(latencySeconds);
      m.value.observe(value);
      predictions[i] = { prediction_id: newId(), probability: null, label: null, value, fallback: false };
    }
    return predictions;
  }

  fromOutputs(outputs: TensorMap, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[] {
    return this.fromRows(rowValues(outputs[this.outputs.rowOutput!]!), n, series, latencySeconds, newId);
  }

  answerTensors(outputs: TensorMap): TensorMap {
    return outputs;
  }

  answerOne(p: Prediction, identity: ServedIdentity, variant: string): string {
    return JSON.stringify({ prediction_id: p.prediction_id, value: p.value, fallback: p.fallback, model: identity.name, version: identity.version, variant });
  }

  answerMany(predictions: readonly Prediction[], identity: ServedIdentity, variant: string): string {
    const rows = predictions.map((p) => ({ prediction_id: p.prediction_id, value: p.value, fallback: p.fallback }));
    return JSON.stringify({ model: identity.name, version: identity.version, variant, predictions: rows });
  }

  baseline(metrics: Readonly<Record<string, number>>): { mae?: number } {
    return { mae: metrics.mae ?? metrics.mean_absolute_error };
  }
}

function valueOutput(outputs: readonly GraphTensor[]): TaskOutputs {
  const candidates = outputs.filter((o) => isNumeric(o) && declaredWidth(o) === 1);
  const chosen = candidates.find((o) => (VALUE_OUTPUTS as readonly string[]).includes(o.name)) ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!chosen) {
    throw new ModelContractError(
      `a regression model needs one numeric output with one value per record ([N] or [N, 1]), named ${VALUE_OUTPUTS.join(" or ")} when there are several; ` +
        `its outputs are ${describe(outputs)}: tag the version ${TASK_TAG}=tensor to serve them through V2`,
    );
  }
  return { rowOutput: chosen.name, width: 1 };
}

/** Checks value buckets stored with a model (ascending, finite, distinct, a usable number of them). */
export function checkValueBuckets(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 64) throw new ModelContractError("must be a list of 1 to 64 ascending numbers");
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== "number" || !Number.isFinite(value[i]) || (i > 0 && value[i] <= value[i - 1])) {
      throw new ModelContractError(`must be a list of finite, strictly ascending numbers (entry ${i} is ${JSON.stringify(value[i])})`);
    }
  }
  return value as number[];
}

export const regression: TaskDefinition = {
  task: "regression",
  planOutputs: (outputs) => valueOutput(outputs),
  bind: (facts) => new RegressionTask(facts),
  judge(logged, actual, { costs }) {
    if (typeof actual !== "number" || !Number.isFinite(actual)) return "must be the actual value (a finite number)";
    if (logged.value === null || !Number.isFinite(logged.value)) return "cannot be judged: the logged prediction has no value";
    const error = actual - logged.value;
    const absoluteError = Math.abs(error);
    return { outcome: "observed", cost: absoluteError * costs.perUnitError, absoluteError, squaredError: error * error, actual: null, actualValue: actual };
  },
};
