/**
 * What binary and multiclass classifiers share: finding the probability and label outputs the way real exporters
 * write them (Modelport `label` + `probabilities`, skl2onnx `output_label` + `output_probability`, onnxmltools
 * `label` + `probabilities`, or a graph whose only float output is the probabilities), and the class labels.
 */
import { TASK_TAG } from "../contract";
import type { GraphTensor } from "../model/tensors";
import {
  LABEL_OUTPUTS,
  ModelContractError,
  PROBABILITY_OUTPUTS,
  declaredWidth,
  describe,
  isFloat,
  type ClassLabel,
  type TaskOutputs,
} from "./task";

export function classifierOutputs(task: "binary" | "multiclass", outputs: readonly GraphTensor[], classLabels: readonly ClassLabel[] | undefined): TaskOutputs {
  const floats = outputs.filter(isFloat);
  const probabilities =
    floats.find((o) => (PROBABILITY_OUTPUTS as readonly string[]).includes(o.name)) ?? (floats.length === 1 ? floats[0] : undefined);
  if (!probabilities) {
    throw new ModelContractError(
      `a ${task} model needs a probability output, a float tensor [N, K] named ${PROBABILITY_OUTPUTS.join(" or ")} or the graph's only float output; ` +
        `its outputs are ${describe(outputs)}: export the classifier's probabilities, or tag the version ${TASK_TAG}=tensor to serve its raw outputs through V2`,
    );
  }
  if (probabilities.dims.length !== 1 && probabilities.dims.length !== 2) {
    throw new ModelContractError(`probability output "${probabilities.name}" has shape [${probabilities.dims.join(", ")}]; a classifier's is [N, K] or [N]`);
  }
  const width = declaredWidth(probabilities);
  const label = outputs.find((o) => o !== probabilities && (LABEL_OUTPUTS as readonly string[]).includes(o.name));
  if (width !== undefined) checkWidth(task, probabilities.name, width, classLabels);
  return { rowOutput: probabilities.name, labelOutput: label?.name, width };
}

/** Throws when a probability width cannot be this task's (also called with the width seen at warm-up). */
export function checkWidth(task: "binary" | "multiclass", output: string, width: number, classLabels: readonly ClassLabel[] | undefined): void {
  if (task === "binary" && width !== 1 && width !== 2) {
    throw new ModelContractError(
      `probability output "${output}" has ${width} values per record; a binary classifier has 2 (or 1, P(positive)): tag the version ${TASK_TAG}=multiclass if it has ${width} classes`,
    );
  }
  if (task === "multiclass" && width < 2) {
    throw new ModelContractError(`probability output "${output}" has ${width} value per record; a multiclass classifier has one per class: tag the version ${TASK_TAG}=binary`);
  }
  const classes = classLabels?.length;
  if (classes !== undefined && classes !== width && !(task === "binary" && width === 1 && classes === 2)) {
    throw new ModelContractError(
      `the model names ${classes} classes (${classLabels!.slice(0, 5).join(", ")}${classes > 5 ? ", ..." : ""}) but probability output "${output}" has ${width} values per record: fix the class labels (metadata modelport.class_labels)`,
    );
  }
}

/** Index of the largest value in rows[offset .. offset + width). */
export function argmax(rows: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  let bestValue = rows[offset]!;
  for (let k = 1; k < width; k++) {
    const value = rows[offset + k]!;
    if (value > bestValue) {
      bestValue = value;
      best = k;
    }
  }
  return best;
}

export function checkProbabilities(rows: ArrayLike<number>): void {
  for (let i = 0; i < rows.length; i++) {
    const p = rows[i]!;
    if (!(p >= 0 && p <= 1)) {
      throw new ModelContractError(
        `warm-up produced probability ${p}, outside [0, 1]: the output is not probabilities (logits? add a Softmax or Sigmoid before export) or the artifact is corrupt`,
      );
    }
  }
}
