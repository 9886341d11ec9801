/**
 * The regression demo model: arrival delay in minutes (the data's `delay` column; negative when early). Same
 * signature and feature pipeline as the binary demo model, a squared-error GBDT on top:
 *
 *   signature columns --(flightFeatureNodes)--> [N, 6] --TreeEnsembleRegressor--> variable [N, 1] (minutes)
 *
 * The output is named `variable`, as skl2onnx and onnxmltools name a regressor's. Squared error makes it
 * predict the conditional mean, which a long tail of late flights pulls above the typical (median) flight.
 * Its MLmodel metadata names the task and carries the value-histogram buckets: percentiles of its own
 * predictions on the training rows.
 */
import { TASK_TAG, VALUE_BUCKETS_KEY } from "../src/contract";
import type { TensorSpec } from "../src/model/mlmodel";
import type { ModelBuild } from "./build-flight-delay";
import { quantiles, regressionMetrics } from "./evaluation";
import { FLIGHT_DELAY_FEATURE_SPEC, FLIGHT_DELAY_INPUTS, flightFeatureNodes, TREE_FEATURES } from "./flight-delay-model";
import type { GbdtModel } from "./gbdt";
import { writeMlflowModelDir } from "./mlflow-model-dir";
import { GraphBuilder, ML_DOMAIN, TensorType, treeEnsembleRegressorAttributes } from "./onnx";
import { createSession, scoreOutput } from "./onnx-scoring";
import { inputExampleRecords, MODEL_CREATED_AT, modelCard, round, trainingNote } from "./package-model";
import type { AirportEncodings } from "./flight-delay-model";
import { DEFAULT_TRAINING_CONFIG, trainFlightModel, type TrainedFlightDelay, type TrainingConfig } from "./train";

export const VALUE_OUTPUT = "variable";
export const FLIGHT_DELAY_MINUTES_OUTPUTS: readonly TensorSpec[] = [{ name: VALUE_OUTPUT, dtype: "float32", shape: [-1, 1] }];

/** Percentiles of the training predictions that bound the value histogram's buckets (+Inf is implicit). */
export const VALUE_BUCKET_LEVELS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99] as const;

export function trainFlightDelayMinutes(config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<TrainedFlightDelay> {
  return trainFlightModel(config, "squared_error", (split) => split.delays);
}

/** The ONNX graph: raw signature inputs -> variable [N, 1], the expected arrival delay in minutes. */
export function flightDelayMinutesGraph(model: GbdtModel, encodings: AirportEncodings): Uint8Array {
  const graph = new GraphBuilder("flight_delay_minutes_gbdt");
  const features = flightFeatureNodes(graph, encodings);
  graph.node("TreeEnsembleRegressor", [features], [VALUE_OUTPUT], treeEnsembleRegressorAttributes(model), ML_DOMAIN);
  graph.output(VALUE_OUTPUT, TensorType.FLOAT, [-1, 1]);
  return graph.encode(`Flight arrival delay (minutes) regressor: ${model.trees.length} gradient-boosted trees (squared error) on ${TREE_FEATURES.join(", ")}`);
}

/** Bucket upper bounds from predictions: VALUE_BUCKET_LEVELS percentiles to 0.1 minute, strictly ascending. */
export function valueBuckets(predictions: ArrayLike<number>): number[] {
  const bounds = quantiles(predictions, VALUE_BUCKET_LEVELS).map((q) => Math.round(q * 10) / 10);
  return bounds.filter((bound, i) => i === 0 || bound > bounds[i - 1]);
}

export async function buildFlightDelayMinutesModel(outDir: string, config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<ModelBuild> {
  const trained = await trainFlightDelayMinutes(config);
  const onnx = flightDelayMinutesGraph(trained.model, trained.encodings);
  const session = await createSession(onnx);
  try {
    const predict = async (records: TrainedFlightDelay["test"]["records"]) => (await scoreOutput(session, FLIGHT_DELAY_INPUTS, records, VALUE_OUTPUT)).data;
    const test = await predict(trained.test.records);
    const training = await predict(trained.train.records);
    const reference = await predict(trained.reference.records);
    const held = regressionMetrics(test, trained.test.delays);
    // What a constant would score: the training median minimises absolute error, the mean squared error.
    const [median] = quantiles(trained.train.delays, [0.5]);
    const mean = average(trained.train.delays);
    const metrics = {
      // The service reads mae (the registered baseline for model_baseline_mae).
      mae: round(held.mae),
      rmse: round(held.rmse),
      r2: round(held.r2),
      validation_mae: round(regressionMetrics(await predict(trained.validation.records), trained.validation.delays).mae),
      constant_median_mae: round(regressionMetrics(new Float64Array(test.length).fill(median), trained.test.delays).mae),
      constant_mean_rmse: round(regressionMetrics(new Float64Array(test.length).fill(mean), trained.test.delays).rmse),
      test_mean_delay: round(average(trained.test.delays)),
      test_mean_prediction: round(average(test)),
      training_rows: trained.train.delays.length,
      test_rows: trained.test.delays.length,
      trees: trained.model.trees.length,
    };
    const names = FLIGHT_DELAY_INPUTS.map((c) => c.name);
    const buckets = valueBuckets(training);
    await writeMlflowModelDir(outDir, {
      onnx,
      inputs: FLIGHT_DELAY_INPUTS,
      outputs: FLIGHT_DELAY_MINUTES_OUTPUTS,
      inputExample: inputExampleRecords(trained),
      featureSpec: FLIGHT_DELAY_FEATURE_SPEC,
      metrics,
      metadata: { [TASK_TAG]: "regression", [VALUE_BUCKETS_KEY]: buckets },
      reference: {
        columns: [...names, "value", "actual"],
        rows: trained.reference.records.map((record, i) => [...names.map((name) => record[name as keyof typeof record]), Number(reference[i].toPrecision(6)), trained.reference.delays[i]]),
      },
      readme: modelCard({
        title: "flight-delay-minutes: arrival delay regressor",
        about: [
          "Expected arrival delay in minutes (negative = early) of a US domestic flight, from its scheduled hour, day, distance and airports. " +
            `Task \`regression\` (MLmodel metadata \`${TASK_TAG}\`); one output \`${VALUE_OUTPUT}\` float32 [N, 1]. ` +
            `A ${trained.model.trees.length}-tree GBDT (squared error) trained by service/model-kit, exported as one ai.onnx.ml TreeEnsembleRegressor.`,
          trainingNote(trained, config),
          "Squared error makes the model predict the conditional mean, which the long tail of late flights pulls above the typical flight. " +
            `Held out, its RMSE is ${metrics.rmse} min against ${metrics.constant_mean_rmse} for always predicting the training mean; ` +
            `its MAE is ${metrics.mae} min against ${metrics.constant_median_mae} for always predicting the training median (the best constant for absolute error).`,
          `Value-histogram buckets (MLmodel metadata \`${VALUE_BUCKETS_KEY}\`): the ${VALUE_BUCKET_LEVELS.map((l) => l * 100).join(", ")}th percentiles of its predictions on the training rows, ` +
            `to 0.1 min: ${buckets.join(", ")}.`,
        ],
        metrics,
        metricNotes: {
          mae: "mean absolute error, minutes (the registered baseline for model_baseline_mae)",
          rmse: "root mean squared error, minutes",
          r2: "coefficient of determination",
          validation_mae: "MAE on the validation rows (training months)",
          constant_median_mae: "MAE of always predicting the training median",
          constant_mean_rmse: "RMSE of always predicting the training mean",
          test_mean_delay: "mean actual delay of the held-out month",
          test_mean_prediction: "mean prediction on the held-out month",
        },
      }),
      createdAt: MODEL_CREATED_AT,
    });
    return { metrics, onnx };
  } finally {
    await session.release();
  }
}

function average(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / Math.max(values.length, 1);
}
