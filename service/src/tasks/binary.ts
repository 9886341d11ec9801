/**
 * Binary classifiers: P(positive class) against the version's decision threshold. The demo model's task and
 * the service's hot path: a /predict answer is built as one literal, with series resolved once per version.
 */
import { MAX_CLASS_LABEL_VALUES } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import { allocate, type GraphTensor, type HostTensor, type TensorMap } from "../model/tensors";
import type { ModelIdentity } from "../model/types";
import { checkProbabilities, checkWidth, classifierOutputs } from "./classifier";
import {
  baseSeries,
  classSeries,
  counterSeries,
  decisionTensor,
  rowValues,
  ModelContractError,
  type ClassLabel,
  type ModelLabels,
  type Prediction,
  type ServedIdentity,
  type ServedTask,
  type TaskDefinition,
  type TaskOutputs,
  type TaskSeries,
  type VersionFacts,
  type NewPredictionId,
} from "./task";

interface BinarySeries extends TaskSeries {
  readonly positive: CounterSeries;
  readonly negative: CounterSeries;
  readonly probability: HistogramSeries;
  readonly positiveClass?: CounterSeries;
  readonly negativeClass?: CounterSeries;
}

/** chosen_threshold from version tags, then run metrics / metrics.json; 0.5 otherwise. */
export function decisionThreshold(identity: Pick<ModelIdentity, "tags" | "metrics">): number {
  const raw = identity.tags.chosen_threshold ?? identity.metrics.chosen_threshold;
  if (raw === undefined) return 0.5;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value >= 1) {
    throw new ModelContractError(`chosen_threshold=${String(raw)} is not a probability strictly between 0 and 1: fix the model version's tag or run metric`);
  }
  return value;
}

class BinaryTask implements ServedTask {
  readonly task = "binary" as const;
  readonly tabular: boolean;
  readonly threshold: number;
  readonly classes: readonly ClassLabel[];
  readonly fallback?: Omit<Prediction, "prediction_id">;
  private readonly width: number;
  private readonly outputs: TaskOutputs;
  private readonly graphOutputs: readonly GraphTensor[];

  constructor(facts: VersionFacts) {
    checkWidth("binary", facts.outputs.rowOutput!, facts.width, facts.classLabels);
    this.tabular = facts.tabular;
    this.threshold = decisionThreshold(facts.identity);
    this.classes = facts.classLabels ?? [0, 1];
    this.width = facts.width;
    this.outputs = facts.outputs;
    this.graphOutputs = facts.graphOutputs;
    if (facts.fallback) this.fallback = { probability: facts.fallback.probability, label: facts.fallback.label, value: null, fallback: true };
  }

  checkWarmUp(rows: Float32Array | Float64Array, n: number): void {
    if (rows.length !== n * this.width) throw new ModelContractError(`warm-up returned ${rows.length} probabilities for ${n} example records`);
    checkProbabilities(rows);
  }

  series(metrics: ServiceMetrics, labels: ModelLabels): BinarySeries {
    const [negativeClass, positiveClass] = classSeries(metrics, labels, this.classes, MAX_CLASS_LABEL_VALUES);
    return {
      ...baseSeries(metrics, labels),
      positive: counterSeries(metrics, labels, "positive"),
      negative: counterSeries(metrics, labels, "negative"),
      probability: metrics.probability.labels(labels),
      positiveClass,
      negativeClass,
    };
  }

  fromRows(rows: Float32Array | Float64Array, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[] {
    const m = series as BinarySeries;
    const width = this.width;
    const last = width - 1;
    const predictions = new Array<Prediction>(n);
    for (let i = 0; i < n; i++) {
      const probability = rows[i * width + last]!;
      const label = probability >= this.threshold ? 1 : 0;
      if (label === 1) {
        m.positive.inc();
        m.positiveClass?.inc();
      } else {
        m.negative.inc();
        m.negativeClass?.inc();
      }
      m.latency.observe(latencySeconds);
      m.probability.observe(probability);
      predictions[i] = { prediction_id: newId(), probability, label, value: null, fallback: false };
    }
    return predictions;
  }

  fromOutputs(outputs: TensorMap, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): Prediction[] {
    return this.fromRows(rowValues(outputs[this.outputs.rowOutput!]!), n, series, latencySeconds, newId);
  }

  answerTensors(outputs: TensorMap, predictions: readonly Prediction[]): TensorMap {
    const name = this.outputs.labelOutput;
    if (!name || !outputs[name]) return outputs;
    const type = this.graphOutputs.find((o) => o.name === name)!.type;
    return { ...outputs, [name]: decisionTensor(outputs[name], type, this.classes, predictions.map((p) => p.label as number)) };
  }

  fallbackTensors(names: readonly string[], rows: number): TensorMap | undefined {
    const fallback = this.fallback;
    if (!fallback) return undefined;
    const out: Record<string, HostTensor> = {};
    for (const name of names) {
      const graph = this.graphOutputs.find((o) => o.name === name)!;
      if (name === this.outputs.labelOutput) {
        out[name] = decisionTensor(undefined, graph.type, this.classes, new Array<number>(rows).fill(fallback.label as number));
      } else if (name === this.outputs.rowOutput && graph.type !== "float16") {
        const p = fallback.probability!;
        const data = allocate(graph.type, rows * this.width) as Float32Array;
        for (let i = 0; i < rows; i++) {
          if (this.width === 2) data[2 * i] = 1 - p;
          data[i * this.width + this.width - 1] = p;
        }
        out[name] = { type: graph.type, dims: graph.dims.length === 1 ? [rows] : [rows, this.width], data };
      } else {
        return undefined; // an output the fallback cannot make up: the caller answers 503
      }
    }
    return out;
  }

  answerOne(p: Prediction, identity: ServedIdentity, variant: string): object {
    // One literal, not `{ ...prediction, ...served() }`: the spread form cost ~5 µs a request (measured at 64
    // connections, 40 vs 45 µs of CPU per request), about a seventh of the whole request.
    return { prediction_id: p.prediction_id, probability: p.probability, label: p.label, fallback: p.fallback, model: identity.name, version: identity.version, variant, threshold: this.threshold };
  }

  answerMany(predictions: readonly Prediction[], identity: ServedIdentity, variant: string): object {
    return { model: identity.name, version: identity.version, variant, threshold: this.threshold, predictions };
  }

  baseline(metrics: Readonly<Record<string, number>>, baselineMetric: string): { hitRate?: number } {
    return { hitRate: metrics[baselineMetric] };
  }
}

export const binary: TaskDefinition = {
  task: "binary",
  planOutputs: (outputs, classLabels) => classifierOutputs("binary", outputs, classLabels),
  bind: (facts) => new BinaryTask(facts),
  judge(logged, given, { costs }) {
    const actual = given === "1" ? 1 : given === "0" ? 0 : given;
    if (actual !== 0 && actual !== 1) return "must be 0 or 1 (a binary model's negative or positive class)";
    const predicted = Number(logged.label) === 1 ? 1 : 0;
    const outcome = predicted === 1 ? (actual === 1 ? "tp" : "fp") : actual === 0 ? "tn" : "fn";
    const cost = outcome === "fp" ? costs.falsePositive : outcome === "fn" ? costs.falseNegative : 0;
    return { outcome, cost, actual, actualValue: null };
  },
};
