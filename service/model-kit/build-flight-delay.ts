/** The embedded demo model: GBDT trained in TypeScript, exported as one TreeEnsembleClassifier graph. */
import { flightDelayTreeGraph } from "./flight-delay-model";
import { packageFlightDelayModel, type Metrics } from "./package-model";
import { DEFAULT_TRAINING_CONFIG, trainFlightDelay, type TrainingConfig } from "./train";

export interface ModelBuild {
  readonly metrics: Metrics;
  readonly onnx: Uint8Array;
}

export async function buildFlightDelayModel(outDir: string, config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<ModelBuild> {
  const trained = await trainFlightDelay(config);
  const onnx = flightDelayTreeGraph(trained.model, trained.encodings);
  const metrics = await packageFlightDelayModel(outDir, onnx, trained, { trees: trained.model.trees.length });
  return { metrics, onnx };
}
