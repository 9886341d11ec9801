/**
 * A version's model contract, read at load from its MLmodel (signature, metadata), its ONNX graph and its
 * registry tags: the task, how named columns feed the graph, which outputs serve the task, the class labels and
 * value buckets. Everything that cannot be served fails here, naming the input or output and the fix, so a
 * version that loads never fails at request time for its shape.
 *
 * The task rule (README "Model contract"):
 * 1. the model-version tag `modelport.task`, else the MLmodel metadata key `modelport.task`;
 * 2. else a classifier when the graph has a float probability output (named probabilities, output_probability,
 *    probability or probs), or a classifier node's class labels and one float [N, K] output: binary for up to 2
 *    classes, multiclass beyond (classes from the labels, else the output's width, else the warm-up run's);
 * 3. else regression when the graph has exactly one output, a float with one value per record ([N] or [N, 1]);
 * 4. else tensor.
 */
import { MODEL_METADATA, ROUTES, TASK_TAG, TASKS, isTabularTask, isTask, type Task } from "../contract";
import { TASK_DEFINITIONS, ModelContractError, PROBABILITY_OUTPUTS, declaredWidth, isFloat, type ClassLabel, type TaskOutputs } from "../tasks";
import { checkValueBuckets } from "../tasks/regression";
import type { ColumnFeed } from "./feeds";
import type { ColumnSpec, ColumnType, ModelPackage } from "./mlmodel";
import type { OnnxGraphInfo, OnnxValueInfo } from "./onnx-graph";
import type { GraphTensor } from "./tensors";

/** What a scorer (in-thread or in a worker) needs: plain data, so it crosses a thread boundary as is. */
export interface ScorerModel {
  readonly onnxPath: string;
  /** How records become graph inputs ([] for models without a column contract). */
  readonly feeds: readonly ColumnFeed[];
  /** The graph output `score()` returns per record; undefined when the version does not serve /predict. */
  readonly rowOutput?: string;
}

export interface ModelContract {
  readonly task: Task;
  /** Where the task came from: the registry tag, the MLmodel metadata, or the rule. */
  readonly taskSource: "tag" | "metadata" | "rule";
  /** The rule found a classifier whose class count only the warm-up run can tell: binary until then. */
  readonly classCountPending: boolean;
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
  /** The column contract /predict validates ([] for a tensor model without one). */
  readonly columns: readonly ColumnSpec[];
  /** /predict and /predict/batch answer: a tabular task with a column contract. */
  readonly tabular: boolean;
  /** Why /predict refuses, when it does. */
  readonly notTabularReason?: string;
  readonly taskOutputs: TaskOutputs;
  readonly classLabels?: readonly ClassLabel[];
  readonly valueBuckets?: readonly number[];
  readonly scorer: ScorerModel;
  /**
   * Every graph input and output has a dynamic first dimension, so requests may be coalesced along it (the
   * warm-up run confirms the outputs follow the inputs' row count before the batcher relies on it).
   */
  readonly batchAxis: boolean;
}

export { ModelContractError };

/** The contract of a package; throws ModelContractError naming what cannot be served and how to fix it. */
export function readModelContract(pkg: ModelPackage, graph: OnnxGraphInfo, tags: Readonly<Record<string, string>>): ModelContract {
  const inputs = graph.inputs.map((i) => servedTensor(i, "input"));
  const outputs = graph.outputs.map((o) => servedTensor(o, "output"));
  if (outputs.length === 0) throw new ModelContractError("the ONNX graph has no outputs");
  if (pkg.signatureKind === "tensors") checkTensorSignature(pkg, inputs);
  const classLabels = readClassLabels(pkg, graph);
  const chosen = chooseTask(pkg, tags, outputs, classLabels);
  const task = chosen.task;
  const taskOutputs = TASK_DEFINITIONS[task].planOutputs(outputs, classLabels);
  const valueBuckets = readValueBuckets(pkg);

  const wantsColumns = isTabularTask(task);
  let feeds: ColumnFeed[] = [];
  let notTabularReason: string | undefined;
  if (!wantsColumns) {
    notTabularReason = `it is a tensor model: /predict takes named columns; send tensors to POST ${ROUTES.v2.infer}`;
  } else if (pkg.inputs.length === 0) {
    notTabularReason =
      `its signature is tensor-based and it stores no feature list (MLmodel metadata ${MODEL_METADATA.featureColumns}): ` +
      `send tensors to POST ${ROUTES.v2.infer}, or log the model with the column names of its input tensor`;
  } else {
    feeds = planFeeds(pkg.inputs, inputs, pkg.featureOrder);
  }
  const tabular = notTabularReason === undefined;
  return {
    task,
    taskSource: chosen.source,
    classCountPending: chosen.classCountPending,
    inputs,
    outputs,
    columns: pkg.inputs,
    tabular,
    notTabularReason,
    taskOutputs,
    classLabels,
    valueBuckets,
    scorer: { onnxPath: pkg.onnxPath, feeds, rowOutput: tabular ? taskOutputs.rowOutput : undefined },
    batchAxis: [...inputs, ...outputs].every((t) => t.dims.length >= 1 && isDynamic(t.dims[0]!)),
  };
}

/** The rule's classifier with an undecided class count, once the warm-up run has shown it. */
export function withClassCount(contract: ModelContract, width: number): ModelContract {
  if (!contract.classCountPending) return contract;
  const task: Task = width > 2 ? "multiclass" : "binary";
  const taskOutputs = TASK_DEFINITIONS[task].planOutputs(contract.outputs, contract.classLabels);
  return { ...contract, task, classCountPending: false, taskOutputs };
}

function isDynamic(dim: number | string): boolean {
  return typeof dim === "string" || dim < 0;
}

/** A graph input or output Modelport can feed or return: a tensor of a supported element type. */
function servedTensor(value: OnnxValueInfo, role: "input" | "output"): GraphTensor {
  if (value.kind === "tensor" && value.type) {
    return { name: value.name, type: value.type, dims: value.dims ?? [] };
  }
  if (role === "output" && value.description.startsWith("seq(map(")) {
    throw new ModelContractError(
      `output "${value.name}" is ${value.description}, the sequence of maps a ZipMap node writes: onnxruntime-node cannot return it. ` +
        `Re-export with zipmap=False (skl2onnx: to_onnx(model, X, options={"zipmap": False}); onnxmltools: convert_lightgbm/convert_xgboost(..., zipmap=False)) ` +
        "so the probabilities are a float tensor [N, K]",
    );
  }
  const what = value.kind === "tensor" ? `a tensor of element type ${value.elemType} (${value.description})` : value.description;
  throw new ModelContractError(
    `${role} "${value.name}" is ${what}: Modelport serves ${role}s that are tensors of bool, string, float16/32/64 or (u)int8..64; ` +
      (role === "output" ? "remove it from the graph's outputs or cast it before export" : "change the exported input type"),
  );
}

function chooseTask(
  pkg: ModelPackage,
  tags: Readonly<Record<string, string>>,
  outputs: readonly GraphTensor[],
  classLabels: readonly ClassLabel[] | undefined,
): { task: Task; source: ModelContract["taskSource"]; classCountPending: boolean } {
  const tagged = tags[TASK_TAG];
  const declared = pkg.metadata[MODEL_METADATA.task];
  // A local directory's tags are its MLmodel metadata: the same value is reported as coming from the metadata.
  const fromTag = tagged !== undefined && !(declared !== undefined && String(declared) === tagged);
  for (const [value, source] of [
    [fromTag ? tagged : undefined, "tag"],
    [declared, "metadata"],
  ] as const) {
    if (value === undefined) continue;
    if (!isTask(value)) {
      throw new ModelContractError(`${source === "tag" ? "model-version tag" : "MLmodel metadata"} ${TASK_TAG}=${JSON.stringify(value)} is not one of ${TASKS.join(", ")}`);
    }
    return { task: value, source, classCountPending: false };
  }
  const floats = outputs.filter(isFloat);
  const probability =
    floats.find((o) => (PROBABILITY_OUTPUTS as readonly string[]).includes(o.name)) ??
    (classLabels && floats.length === 1 && floats[0]!.dims.length === 2 ? floats[0] : undefined);
  if (probability) {
    // The graph's width first: labels that disagree with it are then reported as such by the task's plan.
    const classes = declaredWidth(probability) ?? classLabels?.length;
    if (classes === undefined) return { task: "binary", source: "rule", classCountPending: true };
    return { task: classes > 2 ? "multiclass" : "binary", source: "rule", classCountPending: false };
  }
  if (outputs.length === 1 && isFloat(outputs[0]!) && declaredWidth(outputs[0]!) === 1) return { task: "regression", source: "rule", classCountPending: false };
  return { task: "tensor", source: "rule", classCountPending: false };
}

/**
 * Class labels: MLmodel metadata, then the ONNX metadata_props entry of the same key (a JSON list), then the
 * classifier nodes' classlabels_* attributes (skl2onnx, onnxmltools: LinearClassifier, TreeEnsembleClassifier,
 * SVMClassifier, ZipMap), when they agree. None: the task numbers the classes 0..K-1.
 */
function readClassLabels(pkg: ModelPackage, graph: OnnxGraphInfo): ClassLabel[] | undefined {
  const key = MODEL_METADATA.classLabels;
  const declared = pkg.metadata[key] ?? graph.metadataProps[key];
  if (declared !== undefined) return checkClassLabels(typeof declared === "string" ? parseJson(declared) : declared, key);
  const lists = graph.nodes.filter((n) => n.classLabels && n.classLabels.length > 0).map((n) => n.classLabels!);
  if (lists.length === 0) return undefined;
  const first = JSON.stringify(lists[0]);
  // Classifiers of an ensemble that disagree name nothing for certain: the classes are then numbered.
  if (lists.some((l) => JSON.stringify(l) !== first)) return undefined;
  return [...lists[0]!];
}

function checkClassLabels(value: unknown, key: string): ClassLabel[] {
  const ok =
    Array.isArray(value) &&
    value.length >= 1 &&
    value.every((v) => typeof v === "string" || (typeof v === "number" && Number.isInteger(v))) &&
    new Set(value.map(String)).size === value.length;
  if (!ok) throw new ModelContractError(`metadata ${key} must be a list of distinct class labels (strings or integers), got ${preview(value)}`);
  return value as ClassLabel[];
}

function readValueBuckets(pkg: ModelPackage): number[] | undefined {
  const key = MODEL_METADATA.valueBuckets;
  const raw = pkg.metadata[key];
  if (raw === undefined) return undefined;
  try {
    return checkValueBuckets(typeof raw === "string" ? parseJson(raw) : raw);
  } catch (error) {
    throw new ModelContractError(`metadata ${key} ${(error as Error).message}`);
  }
}

/** A tensor-based signature must describe the graph's inputs (names, ranks, static dims). */
function checkTensorSignature(pkg: ModelPackage, inputs: readonly GraphTensor[]): void {
  const specs = pkg.inputTensors;
  if (specs.length !== inputs.length) {
    throw new ModelContractError(
      `the tensor signature has ${specs.length} input(s) but the ONNX graph has ${inputs.length} (${inputs.map((i) => i.name).join(", ")}): log the model with the graph's inputs`,
    );
  }
  specs.forEach((spec, index) => {
    const graphInput = spec.name ? inputs.find((i) => i.name === spec.name) : inputs[index];
    if (!graphInput) throw new ModelContractError(`signature input "${spec.name}" is not an ONNX graph input (graph inputs: ${inputs.map((i) => i.name).join(", ")})`);
    const dims = graphInput.dims;
    const agrees =
      spec.shape.length === dims.length && spec.shape.every((d, k) => d < 0 || typeof dims[k] !== "number" || (dims[k] as number) < 0 || d === dims[k]);
    if (!agrees) {
      throw new ModelContractError(
        `signature input "${spec.name ?? graphInput.name}" has shape ${JSON.stringify(spec.shape)} but the graph input "${graphInput.name}" is [${dims.join(", ")}]: ` +
          "fix the signature (-1 for dynamic dimensions)",
      );
    }
  });
}

const NUMERIC_COLUMNS: readonly ColumnType[] = ["boolean", "integer", "long", "float", "double"];
const TEXT_COLUMNS: readonly ColumnType[] = ["string", "binary", "datetime"];

/**
 * How named columns feed the graph: a graph input named like a column is fed by that column ([N, 1] or [N]);
 * the one graph input left, if any, is an [N, F] tensor fed by the remaining columns in the stored feature
 * order (metadata modelport.feature_columns), else in signature order.
 */
export function planFeeds(columns: readonly ColumnSpec[], inputs: readonly GraphTensor[], featureOrder: readonly string[] | undefined): ColumnFeed[] {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const feeds: ColumnFeed[] = [];
  const used = new Set<string>();
  const rest: GraphTensor[] = [];
  for (const input of inputs) {
    const column = byName.get(input.name);
    if (!column) {
      rest.push(input);
      continue;
    }
    const width = input.dims.length === 2 ? input.dims[1] : 1;
    if (input.dims.length > 2 || (typeof width === "number" && width > 1)) {
      throw new ModelContractError(`graph input "${input.name}" is [${input.dims.join(", ")}] but column "${input.name}" gives one value per record: it must be [N, 1] or [N]`);
    }
    checkColumnTypes(input, [column]);
    feeds.push({ input: input.name, type: input.type, rank: input.dims.length === 1 ? 1 : 2, columns: [{ name: column.name, type: column.type }] });
    used.add(column.name);
  }
  const remaining = (featureOrder ?? columns.map((c) => c.name)).filter((name) => !used.has(name)).map((name) => byName.get(name)!);
  if (rest.length > 1) {
    throw new ModelContractError(
      `graph inputs ${rest.map((i) => `"${i.name}"`).join(", ")} are not signature columns: Modelport feeds one graph input per column, plus at most one [N, F] input from the remaining columns`,
    );
  }
  if (rest.length === 0) {
    if (remaining.length > 0) {
      throw new ModelContractError(`signature column(s) ${remaining.map((c) => c.name).join(", ")} feed no graph input (graph inputs: ${inputs.map((i) => i.name).join(", ")})`);
    }
    return feeds;
  }
  const input = rest[0]!;
  const width = input.dims[1];
  if (input.dims.length !== 2 || (typeof width === "number" && width >= 0 && width !== remaining.length)) {
    throw new ModelContractError(
      `graph input "${input.name}" is [${input.dims.join(", ")}]; fed from the ${remaining.length} column(s) ${remaining.map((c) => c.name).join(", ")} it must be [N, ${remaining.length}]: ` +
        `fix the signature, or list the columns it takes in MLmodel metadata ${MODEL_METADATA.featureColumns}`,
    );
  }
  checkColumnTypes(input, remaining);
  feeds.push({ input: input.name, type: input.type, rank: 2, columns: remaining.map((c) => ({ name: c.name, type: c.type })) });
  return feeds;
}

function checkColumnTypes(input: GraphTensor, columns: readonly ColumnSpec[]): void {
  const text = input.type === "string";
  const wrong = columns.filter((c) => (text ? !TEXT_COLUMNS.includes(c.type) : !NUMERIC_COLUMNS.includes(c.type)));
  if (wrong.length > 0) {
    throw new ModelContractError(
      `graph input "${input.name}" is a ${input.type} tensor but column(s) ${wrong.map((c) => `${c.name} (${c.type})`).join(", ")} cannot feed it: ` +
        (text ? "string inputs take string columns" : "numeric inputs take numeric or boolean columns; encode strings inside the graph (as the demo model does) or feed them to their own string input"),
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : Array.isArray(value) ? `a list of ${value.length}` : typeof value;
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
