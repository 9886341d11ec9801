/**
 * The multiclass demo model: how late a flight arrives, in three classes (on time = at most 15 minutes late,
 * 15-60 minutes, over 60 minutes). Same signature and feature pipeline as the binary demo model, a softmax
 * GBDT on top, exported the way skl2onnx does with zipmap=False:
 *
 *   signature columns --(flightFeatureNodes)--> [N, 6] --TreeEnsembleClassifier (SOFTMAX)-->
 *     label [N] (string class label, the argmax), probabilities [N, 3] (in DELAY_CLASSES order)
 *
 * Class labels are strings, as the model names them; its MLmodel metadata names the task.
 */
import { TASK_TAG } from "../src/contract";
import type { TensorSpec } from "../src/model/mlmodel";
import type { ModelBuild } from "./build-flight-delay";
import { argmaxRows, multiclassMetrics } from "./evaluation";
import { FLIGHT_DELAY_FEATURE_SPEC, FLIGHT_DELAY_INPUTS, flightFeatureNodes, LABEL_OUTPUT, PROBABILITIES_OUTPUT, TREE_FEATURES, type AirportEncodings } from "./flight-delay-model";
import { DELAY_THRESHOLD_MINUTES } from "./flights";
import type { GbdtModel } from "./gbdt";
import { writeMlflowModelDir } from "./mlflow-model-dir";
import { GraphBuilder, ML_DOMAIN, TensorType, treeEnsembleClassifierAttributes } from "./onnx";
import { createSession, scoreOutput } from "./onnx-scoring";
import { inputExampleRecords, MODEL_CREATED_AT, modelCard, round, trainingNote, type Metrics } from "./package-model";
import { DEFAULT_TRAINING_CONFIG, trainFlightModel, type LabelledRecords, type TrainedFlightDelay, type TrainingConfig } from "./train";

/** Class labels in class-index order (the probabilities' column order). */
export const DELAY_CLASSES = ["on_time", "delayed_15_60", "delayed_over_60"] as const;
export type DelayClass = (typeof DELAY_CLASSES)[number];
/** Upper bound (inclusive) of the middle class, in minutes. */
export const LONG_DELAY_MINUTES = 60;

export const FLIGHT_DELAY_CLASSES_OUTPUTS: readonly TensorSpec[] = [
  // MLflow writes a string tensor's numpy dtype: ONNX Runtime returns string outputs as object arrays.
  { name: LABEL_OUTPUT, dtype: "object", shape: [-1] },
  { name: PROBABILITIES_OUTPUT, dtype: "float32", shape: [-1, DELAY_CLASSES.length] },
];

/** Class index of a delay: 0 on time (<= 15), 1 for 15-60, 2 for > 60 minutes. */
export function delayClass(delay: number): 0 | 1 | 2 {
  return delay <= DELAY_THRESHOLD_MINUTES ? 0 : delay <= LONG_DELAY_MINUTES ? 1 : 2;
}

export const delayClasses = (split: Pick<LabelledRecords, "delays">): Uint8Array => Uint8Array.from(split.delays, delayClass);

export function trainFlightDelayClasses(config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<TrainedFlightDelay> {
  return trainFlightModel(config, "softmax", delayClasses);
}

/** The ONNX graph: raw signature inputs -> label [N] (string), probabilities [N, 3]. */
export function flightDelayClassesGraph(model: GbdtModel, encodings: AirportEncodings): Uint8Array {
  const graph = new GraphBuilder("flight_delay_classes_gbdt");
  const features = flightFeatureNodes(graph, encodings);
  graph.node("TreeEnsembleClassifier", [features], [LABEL_OUTPUT, PROBABILITIES_OUTPUT], treeEnsembleClassifierAttributes(model, DELAY_CLASSES), ML_DOMAIN);
  graph.output(LABEL_OUTPUT, TensorType.STRING, [-1]);
  graph.output(PROBABILITIES_OUTPUT, TensorType.FLOAT, [-1, DELAY_CLASSES.length]);
  const rounds = model.trees.length / DELAY_CLASSES.length;
  return graph.encode(`Flight delay class (${DELAY_CLASSES.join(", ")}) classifier: ${rounds} rounds x ${DELAY_CLASSES.length} gradient-boosted trees (softmax) on ${TREE_FEATURES.join(", ")}`);
}

export async function buildFlightDelayClassesModel(outDir: string, config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<ModelBuild> {
  const trained = await trainFlightDelayClasses(config);
  const onnx = flightDelayClassesGraph(trained.model, trained.encodings);
  const session = await createSession(onnx);
  try {
    const probabilities = async (records: TrainedFlightDelay["test"]["records"]) => (await scoreOutput(session, FLIGHT_DELAY_INPUTS, records, PROBABILITIES_OUTPUT)).data;
    const classes = DELAY_CLASSES.length;
    const testClasses = delayClasses(trained.test);
    const held = multiclassMetrics(await probabilities(trained.test.records), testClasses, classes);
    const validation = multiclassMetrics(await probabilities(trained.validation.records), delayClasses(trained.validation), classes);
    const majority = majorityClass(delayClasses(trained.train), classes);
    const perClass = Object.fromEntries(
      DELAY_CLASSES.flatMap((label, k) => {
        const c = held.perClass[k];
        return [
          [`precision_${label}`, round(c.precision)],
          [`recall_${label}`, round(c.recall)],
          [`f1_${label}`, round(c.f1)],
          [`auc_${label}`, round(c.auc)],
          [`test_share_${label}`, round(c.support / testClasses.length)],
        ];
      }),
    );
    const metrics: Metrics = {
      // The service reads accuracy (the registered baseline hit rate).
      accuracy: round(held.accuracy),
      log_loss: round(held.logLoss),
      macro_f1: round(held.macroF1),
      validation_accuracy: round(validation.accuracy),
      // Always answering the training majority class ("on_time"): the accuracy to beat.
      majority_class_accuracy: round(held.perClass[majority].support / testClasses.length),
      ...perClass,
      classes,
      training_rows: trained.train.delays.length,
      test_rows: testClasses.length,
      trees: trained.model.trees.length,
    };
    const reference = await probabilities(trained.reference.records);
    const referenceClasses = argmaxRows(reference, classes);
    const names = FLIGHT_DELAY_INPUTS.map((c) => c.name);
    await writeMlflowModelDir(outDir, {
      onnx,
      inputs: FLIGHT_DELAY_INPUTS,
      outputs: FLIGHT_DELAY_CLASSES_OUTPUTS,
      inputExample: inputExampleRecords(trained),
      featureSpec: FLIGHT_DELAY_FEATURE_SPEC,
      metrics,
      metadata: { [TASK_TAG]: "multiclass" },
      reference: {
        // label and probability as the prediction log records them: the predicted class and its probability.
        columns: [...names, "label", "probability", "actual"],
        rows: trained.reference.records.map((record, i) => {
          const predicted = referenceClasses[i];
          const probability = reference[i * classes + predicted];
          return [...names.map((name) => record[name as keyof typeof record]), DELAY_CLASSES[predicted], Number(probability.toPrecision(6)), DELAY_CLASSES[delayClass(trained.reference.delays[i])]];
        }),
      },
      readme: modelCard({
        title: "flight-delay-classes: arrival delay class classifier",
        about: [
          `How late a US domestic flight arrives, from its scheduled hour, day, distance and airports, in ${classes} classes: ` +
            `\`on_time\` (at most ${DELAY_THRESHOLD_MINUTES} min late), \`delayed_15_60\` (more than ${DELAY_THRESHOLD_MINUTES}, at most ${LONG_DELAY_MINUTES} min), \`delayed_over_60\`. ` +
            `Task \`multiclass\` (MLmodel metadata \`${TASK_TAG}\`); outputs \`${LABEL_OUTPUT}\` string [N] (the most probable class) and ` +
            `\`${PROBABILITIES_OUTPUT}\` float32 [N, ${classes}] in that class order. A softmax GBDT (${trained.model.trees.length / classes} rounds x ${classes} trees) ` +
            "trained by service/model-kit, exported as one ai.onnx.ml TreeEnsembleClassifier without ZipMap.",
          trainingNote(trained, config),
          `The classes are imbalanced (${metrics.test_share_on_time} of the held-out flights are on time), so the most probable class is \`on_time\` for most flights: ` +
            `held-out accuracy ${metrics.accuracy} against ${metrics.majority_class_accuracy} for always answering \`on_time\`. ` +
            `The probabilities carry more than the argmax: one-vs-rest AUC ${DELAY_CLASSES.map((label) => `${label} ${metrics[`auc_${label}`]}`).join(", ")}.`,
        ],
        metrics,
        metricNotes: {
          accuracy: "share of held-out flights whose most probable class is right (the registered baseline hit rate)",
          log_loss: "mean negative log-likelihood of the actual class",
          macro_f1: "unweighted mean of the per-class F1",
          validation_accuracy: "accuracy on the validation rows (training months)",
          majority_class_accuracy: "accuracy of always answering the training majority class",
          ...Object.fromEntries(
            DELAY_CLASSES.flatMap((label) => [
              [`precision_${label}`, `of the flights answered ${label}, the share that were`],
              [`recall_${label}`, `of the ${label} flights, the share answered ${label}`],
              [`f1_${label}`, "harmonic mean of the two"],
              [`auc_${label}`, `one-vs-rest ROC AUC of P(${label})`],
              [`test_share_${label}`, `share of held-out flights that were ${label}`],
            ]),
          ),
          trees: `${classes} per boosting round`,
        },
      }),
      createdAt: MODEL_CREATED_AT,
    });
    return { metrics, onnx };
  } finally {
    await session.release();
  }
}

function majorityClass(labels: Uint8Array, classes: number): number {
  const counts = new Array<number>(classes).fill(0);
  for (const y of labels) counts[y]++;
  return argmaxRows(counts, classes)[0];
}
