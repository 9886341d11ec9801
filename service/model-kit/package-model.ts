/**
 * The part of every model-kit build after training: score the exported ONNX graph itself with onnxruntime
 * (validation rows pick the threshold, the held-out month gives the metrics, the reference rows get their
 * probability column), then write the MLflow model directory.
 */
import { chooseThreshold, confusionAt, logLoss, rocAuc } from "./evaluation";
import { FLIGHT_DELAY_FEATURE_SPEC, FLIGHT_DELAY_INPUTS, FLIGHT_DELAY_OUTPUTS } from "./flight-delay-model";
import { writeMlflowModelDir } from "./mlflow-model-dir";
import { createSession, positiveProbabilities } from "./onnx-scoring";
import type { FlightSplits } from "./train";

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
    const { records } = splits.validation;
    await writeMlflowModelDir(outDir, {
      onnx,
      inputs: FLIGHT_DELAY_INPUTS,
      outputs: FLIGHT_DELAY_OUTPUTS,
      // Spread over the validation rows (they are in departure order) so the example shows varied hours and days.
      inputExample: [0, 1, 2, 3, 4].map((k) => records[Math.floor((k * records.length) / 5)]),
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

const round = (value: number) => Number(value.toFixed(4));
const mean = (values: Uint8Array) => values.reduce((sum, v) => sum + v, 0) / Math.max(values.length, 1);
