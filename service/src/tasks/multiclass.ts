/**
 * Multiclass classifiers: the class with the highest probability (what sklearn, LightGBM and XGBoost exports'
 * label outputs say), its probability, every class's probability and, on request, the top k.
 */
import { MAX_CLASS_LABEL_VALUES } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { GraphTensor, TensorMap } from "../model/tensors";
import { argmax, checkProbabilities, checkWidth, classifierOutputs } from "./classifier";
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
  type RowValues,
  type ServedIdentity,
  type ServedTask,
  type TaskDefinition,
  type TaskOutputs,
  type TaskSeries,
  type VersionFacts,
  type NewPredictionId,
} from "./task";

interface MulticlassSeries extends TaskSeries {
  readonly predicted: CounterSeries;
  readonly probability: HistogramSeries;
  readonly classes: readonly (CounterSeries | undefined)[];
}

/** A multiclass prediction also carries every class's probability (a view on the run's output). */
export interface MulticlassPrediction extends Prediction {
  readonly classIndex: number;
  readonly probabilities: RowValues;
}

class MulticlassTask implements ServedTask {
  readonly task = "multiclass" as const;
  readonly tabular: boolean;
  readonly classes: readonly ClassLabel[];
  private readonly width: number;
  private readonly outputs: TaskOutputs;
  private readonly graphOutputs: readonly GraphTensor[];

  constructor(facts: VersionFacts) {
    checkWidth("multiclass", facts.outputs.rowOutput!, facts.width, facts.classLabels);
    this.tabular = facts.tabular;
    this.width = facts.width;
    this.classes = facts.classLabels ?? Array.from({ length: facts.width }, (_, k) => k);
    if (new Set(this.classes.map(String)).size !== this.classes.length) {
      throw new ModelContractError(`class labels ${this.classes.join(", ")} are not distinct as strings: fix metadata modelport.class_labels`);
    }
    this.outputs = facts.outputs;
    this.graphOutputs = facts.graphOutputs;
  }

  checkWarmUp(rows: RowValues, n: number): void {
    if (rows.length !== n * this.width) throw new ModelContractError(`warm-up returned ${rows.length} probabilities for ${n} example records`);
    checkProbabilities(rows);
  }

  series(metrics: ServiceMetrics, labels: ModelLabels): MulticlassSeries {
    return {
      ...baseSeries(metrics, labels),
      predicted: counterSeries(metrics, labels, "predicted"),
      probability: metrics.probability.labels(labels),
      classes: classSeries(metrics, labels, this.classes, MAX_CLASS_LABEL_VALUES),
    };
  }

  fromRows(rows: RowValues, n: number, series: TaskSeries, latencySeconds: number, newId: NewPredictionId): MulticlassPrediction[] {
    const m = series as MulticlassSeries;
    const width = this.width;
    const predictions = new Array<MulticlassPrediction>(n);
    for (let i = 0; i < n; i++) {
      const offset = i * width;
      const best = argmax(rows, offset, width);
      const probability = rows[offset + best]!;
      m.predicted.inc();
      m.classes[best]?.inc();
      m.latency.observe(latencySeconds);
      m.probability.observe(probability);
      predictions[i] = {
        prediction_id: newId(),
        probability,
        label: this.classes[best]!,
        value: null,
        fallback: false,
        classIndex: best,
        probabilities: rows.subarray(offset, offset + width),
      };
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
    const indexes = (predictions as readonly MulticlassPrediction[]).map((p) => p.classIndex);
    return { ...outputs, [name]: decisionTensor(outputs[name], type, this.classes, indexes) };
  }

  checkQuery(query: unknown): string | undefined {
    const raw = (query as Record<string, unknown> | undefined)?.top_k;
    if (raw === undefined) return undefined;
    const k = Number(raw);
    if (typeof raw !== "string" || !Number.isInteger(k) || k < 1 || k > this.width) {
      return `top_k must be an integer from 1 to ${this.width} (the model's classes), got ${JSON.stringify(raw)}`;
    }
    return undefined;
  }

  answerOne(p: Prediction, identity: ServedIdentity, variant: string, query: unknown): string {
    return JSON.stringify({ ...this.answer(p as MulticlassPrediction, topK(query)), model: identity.name, version: identity.version, variant });
  }

  answerMany(predictions: readonly Prediction[], identity: ServedIdentity, variant: string, query: unknown): string {
    const k = topK(query);
    return JSON.stringify({
      model: identity.name,
      version: identity.version,
      variant,
      classes: this.classes,
      predictions: predictions.map((p) => this.answer(p as MulticlassPrediction, k)),
    });
  }

  baseline(metrics: Readonly<Record<string, number>>, baselineMetric: string): { hitRate?: number } {
    return { hitRate: metrics[baselineMetric] };
  }

  private answer(p: MulticlassPrediction, k: number | undefined) {
    const probabilities: Record<string, number> = {};
    if (p.probabilities) this.classes.forEach((c, i) => (probabilities[String(c)] = p.probabilities[i]!));
    const answer: Record<string, unknown> = { prediction_id: p.prediction_id, label: p.label, probability: p.probability, probabilities, fallback: p.fallback };
    if (k !== undefined && p.probabilities) {
      answer.top_k = Array.from(p.probabilities, (probability, i) => ({ label: this.classes[i]!, probability }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, k);
    }
    return answer;
  }
}

function topK(query: unknown): number | undefined {
  const raw = (query as Record<string, unknown> | undefined)?.top_k;
  return raw === undefined ? undefined : Number(raw);
}

export const multiclass: TaskDefinition = {
  task: "multiclass",
  planOutputs: (outputs, classLabels) => classifierOutputs("multiclass", outputs, classLabels),
  bind: (facts) => new MulticlassTask(facts),
  judge(logged, actual, { costs, classes }) {
    if (!(typeof actual === "string" || (typeof actual === "number" && Number.isInteger(actual)))) {
      return "must be the actual class label (a string or an integer, as the model names its classes)";
    }
    const known = classes?.map(String);
    if (known && !known.includes(String(actual))) {
      return `must be one of the model's classes: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", ..." : ""}`;
    }
    const predicted = String(logged.label);
    const correct = predicted === String(actual);
    return {
      outcome: correct ? "correct" : "incorrect",
      cost: correct ? 0 : costs.misclassification,
      // Labels of classes this replica does not know would be unbounded metric label values: count them, no cell.
      confusion: known && known.length <= MAX_CLASS_LABEL_VALUES ? { actual: String(actual), predicted } : undefined,
      actual: String(actual),
      actualValue: null,
    };
  },
};
