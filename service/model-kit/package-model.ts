/**
 * The part of every model-kit build after training: score the exported ONNX graph itself with onnxruntime
 * (validation rows pick the threshold, the held-out month gives the metrics, the reference rows get their
 * probability column), then write the MLflow model directory.
 */
import { chooseThreshold, confusionAt, logLoss, rocAuc } from "./evaluation";
import { FLIGHT_DELAY_FEATURE_SPEC, FLIGHT_DELAY_INPUTS, FLIGHT_DELAY_OUTPUTS } from "./flight-delay-model";
import { writeMlflowModelDir } from "./mlflow-model-dir";
import { createSession, positiveProbabilities } from "./onnx-scoring";
import type { FlightFeatures } from "./flights";
import type { FlightSplits, SplitConfig } from "./train";

/** Fixed creation time (the end of the data) so rebuilding writes identical files. */
export const MODEL_CREATED_AT = new Date(Date.UTC(2001, 6, 1));

export type Metrics = Readonly<Record<string, number>>;

export async function packageFlightDelayModel(outDir: string, onnx: Uint8Array, splits: FlightSplits, modelMetrics: Metrics = {}): Promise<Metrics> {
  const session = await createSession(onnx);
  try {
    const score = (records: FlightSplits["test"]["records"]) => positiveProbabilities(session, FLIGHT_DELAY_INPUTS, records);
    const validation = await score(splits.validation.records);
    const threshold = chooseThreshold(validation, splits.validation.labels);
    const test = await score(splits.test.records);
    const reference = await score(splits.reference.records);
    const atThreshold = confusionAt(test, splits.test.labels, threshold);
    const metrics: Metrics = {
      // What the service reads: auc, accuracy (the baseline hit rate), log_loss, chosen_threshold.
      auc: round(rocAuc(test, splits.test.labels)),
      accuracy: round(atThreshold.accuracy),
      log_loss: round(logLoss(test, splits.test.labels)),
      chosen_threshold: threshold,
      precision: round(atThreshold.precision),
      recall: round(atThreshold.recall),
      f1: round(atThreshold.f1),
      accuracy_at_0_5: round(confusionAt(test, splits.test.labels, 0.5).accuracy),
      validation_auc: round(rocAuc(validation, splits.validation.labels)),
      test_positive_rate: round(mean(splits.test.labels)),
      training_rows: splits.train.labels.length,
      test_rows: splits.test.labels.length,
      ...modelMetrics,
    };
    const names = FLIGHT_DELAY_INPUTS.map((c) => c.name);
    await writeMlflowModelDir(outDir, {
      onnx,
      inputs: FLIGHT_DELAY_INPUTS,
      outputs: FLIGHT_DELAY_OUTPUTS,
      inputExample: inputExampleRecords(splits),
      featureSpec: FLIGHT_DELAY_FEATURE_SPEC,
      metrics,
      reference: {
        columns: [...names, "probability", "actual"],
        rows: splits.reference.records.map((record, i) => [
          ...names.map((name) => record[name as keyof typeof record]),
          Number(reference[i].toPrecision(6)),
          splits.reference.labels[i],
        ]),
      },
      createdAt: MODEL_CREATED_AT,
    });
    return metrics;
  } finally {
    await session.release();
  }
}

/** Five validation rows spread over the split (it is in departure order), so the example shows varied hours and days. */
export function inputExampleRecords(splits: FlightSplits): FlightFeatures[] {
  const { records } = splits.validation;
  return [0, 1, 2, 3, 4].map((k) => records[Math.floor((k * records.length) / 5)]);
}

export interface ModelCard {
  readonly title: string;
  /** Paragraphs (Markdown) before the metrics table. */
  readonly about: readonly string[];
  readonly metrics: Metrics;
  /** What each metric means, by name; metrics without one are listed bare. */
  readonly metricNotes?: Readonly<Record<string, string>>;
}

/** The README.md of a model directory: derived from the build's own numbers only, so it is as reproducible as they are. */
export function modelCard(card: ModelCard): string {
  const rows = Object.entries(card.metrics).map(([name, value]) => `| \`${name}\` | ${value} | ${card.metricNotes?.[name] ?? ""} |`);
  return [`# ${card.title}`, ...card.about, ["| metrics.json | value | meaning |", "| --- | --- | --- |", ...rows].join("\n")].join("\n\n") + "\n";
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** The model card's paragraph on data and splits. */
export function trainingNote(splits: FlightSplits, config: SplitConfig): string {
  const months = config.trainMonths.map((m) => MONTHS[m - 1]);
  return (
    `Trained on ${splits.train.records.length} flights sampled from ${months.join(", ")} 2001 of vega-datasets' ` +
    "`flights-3m.parquet` (real US domestic flights); airport delay rates come from the other flights of those months, " +
    `validation rows are disjoint from both. Held-out metrics: ${splits.test.records.length} flights of ${MONTHS[config.testMonth - 1]} 2001, a month the model never saw. ` +
    "Rebuild with `npm run model:build`; the files are byte-identical on every run."
  );
}

/** Metrics are stored to 4 decimals: enough to compare, and stable across runtimes' last-bit differences. */
export const round = (value: number) => Number(value.toFixed(4));
const mean = (values: Uint8Array) => values.reduce((sum, v) => sum + v, 0) / Math.max(values.length, 1);
