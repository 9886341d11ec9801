/**
 * Tensor models (embeddings, vision, anything else): served through the Open Inference Protocol only, every
 * graph output returned as the graph computes it. What the service watches is the L2 norm of each row of the
 * first output (a collapsing or exploding embedding shows there); they take no ground truth.
 */
import { ROUTES } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import { numberAt, type GraphTensor, type HostTensor, type TensorMap } from "../model/tensors";
import {
  baseSeries,
  counterSeries,
  ModelContractError,
  type ModelLabels,
  type Prediction,
  type ServedTask,
  type TaskDefinition,
  type TaskSeries,
  type VersionFacts,
  type NewPredictionId,
} from "./task";

interface TensorSeries extends TaskSeries {
  readonly predicted: CounterSeries;
  readonly norm: HistogramSeries;
}

class TensorTask implements ServedTask {
  readonly task = "tensor" as const;
  readonly tabular = false;
  private readonly first?: GraphTensor;

  constructor(facts: VersionFacts) {
    this.first = facts.graphOutputs[0];
  }

  checkWarmUp(): void {}

  series(metrics: ServiceMetrics, labels: ModelLabels): TensorSeries {
    return { ...baseSeries(metrics, labels), predicted: counterSeries(metrics, labels, "predicted"), norm: metrics.predictionOutputNorm.labels(labels) };
  }

  fromRows(): Prediction[] {
    throw new ModelContractError(`a tensor model has no column contract: send tensors to ${ROUTES.v2.infer}`);
  }

  fromOutputs(outputs: TensorMap, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[] {
    const m = series as TensorSeries;
    const first = this.first && outputs[this.first.name];
    const predictions = new Array<Prediction>(n);
    for (let i = 0; i < n; i++) {
      const value = first ? rowNorm(first, i, n) : null;
      m.predicted.inc();
      m.latency.observe(latencySeconds);
      if (value !== null) m.norm.observe(value);
      predictions[i] = { prediction_id: newId(), probability: null, label: null, value, fallback: false };
    }
    return predictions;
  }

  answerTensors(outputs: TensorMap): TensorMap {
    return outputs;
  }

  answerOne(): string {
    throw new ModelContractError(`a tensor model answers ${ROUTES.v2.infer} only`);
  }

  answerMany(): string {
    throw new ModelContractError(`a tensor model answers ${ROUTES.v2.infer} only`);
  }

  baseline(): Record<string, never> {
    return {};
  }
}

/** L2 norm of row `row` of `rows` (the whole tensor when it has no batch axis); null for strings and booleans. */
function rowNorm(tensor: HostTensor, row: number, rows: number): number | null {
  if (tensor.type === "string" || tensor.type === "bool") return null;
  const perRow = tensor.dims[0] === rows && rows > 0 ? tensor.data.length / rows : tensor.data.length;
  const start = tensor.dims[0] === rows ? row * perRow : 0;
  let sum = 0;
  for (let i = start; i < start + perRow; i++) {
    const x = numberAt(tensor, i);
    sum += x * x;
  }
  return Math.sqrt(sum);
}

export const tensor: TaskDefinition = {
  task: "tensor",
  planOutputs: () => ({}),
  bind: (facts) => new TensorTask(facts),
  judge: () => "cannot be given: tensor models take no ground truth (feedback is for binary, multiclass and regression models)",
};
