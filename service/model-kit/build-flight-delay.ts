/**
 * Trains, exports, evaluates (with onnxruntime, on the exported graph itself) and packages the flight-delay
 * demo model as an MLflow model directory.
 */
import { confusionAt, chooseThreshold, logLoss, rocAuc } from "./evaluation";
import { FLIGHT_DELAY_FEATURE_SPEC, FLIGHT_DELAY_INPUTS, FLIGHT_DELAY_OUTPUTS, flightDelayTreeGraph } from "./flight-delay-model";
import { writeMlflowModelDir } from "./mlflow-model-dir";
import { createSession, positiveProbabilities } from "./onnx-scoring";
import { DEFAULT_TRAINING_CONFIG, trainFlightDelay, type TrainingConfig } from "./train";

export interface FlightDelayBuild {
  readonly metrics: Readonly<Record<string, number>>;
  readonly onnxBytes: number;
}

/** Fixed creation time (the end of the data) so rebuilding writes identical files. */
export const MODEL_CREATED_AT = new Date(Date.UTC(2001, 6, 1));

export async function buildFlightDelayModel(outDir: string, config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<FlightDelayBuild> {
  const trained = await trainFlightDelay(config);
  const onnx = flightDelayTreeGraph(trained.model, trained.encodings);
  const session = await createSession(onnx);
  try {
    const score = (records: typeof trained.test.records) => positiveProbabilities(session, FLIGHT_DELAY_INPUTS, records);
    const validation = await score(trained.validation.records);
    const threshold = chooseThreshold(validation, trained.validation.labels);
    const test = await score(trained.test.records);
    const reference = await score(trained.reference.records);
    const atThreshold = confusionAt(test, trained.test.labels, threshold);
    const metrics = {
      auc: round(rocAuc(test, trained.test.labels)),
      accuracy: round(atThreshold.accuracy),
      log_loss: round(logLoss(test, trained.test.labels)),
      chosen_threshold: threshold,
      precision: round(atThreshold.precision),
      recall: round(atThreshold.recall),
      f1: round(atThreshold.f1),
      accuracy_at_0_5: round(confusionAt(test, trained.test.labels, 0.5).accuracy),
      validation_auc: round(rocAuc(validation, trained.validation.labels)),
      test_positive_rate: round(mean(trained.test.labels)),
      training_rows: trained.trainingFlights,
      test_rows: trained.test.labels.length,
      trees: trained.model.trees.length,
    };
    const names = FLIGHT_DELAY_INPUTS.map((c) => c.name);
    await writeMlflowModelDir(outDir, {
      onnx,
      inputs: FLIGHT_DELAY_INPUTS,
      outputs: FLIGHT_DELAY_OUTPUTS,
      // Spread over the validation rows (they are in departure order) so the example shows varied hours and days.
      inputExample: [0, 1, 2, 3, 4].map((k) => trained.validation.records[Math.floor((k * trained.validation.records.length) / 5)]),
      featureSpec: FLIGHT_DELAY_FEATURE_SPEC,
      metrics,
      reference: {
        columns: [...names, "probability", "actual"],
        rows: trained.reference.records.map((record, i) => [
          ...names.map((name) => record[name as keyof typeof record]),
          Number(reference[i].toPrecision(6)),
          trained.reference.labels[i],
        ]),
      },
      createdAt: MODEL_CREATED_AT,
    });
    return { metrics, onnxBytes: onnx.length };
  } finally {
    await session.release();
  }
}

const round = (value: number) => Number(value.toFixed(4));
const mean = (values: Uint8Array) => values.reduce((sum, v) => sum + v, 0) / Math.max(values.length, 1);
