/**
 * The MLflow model directory format as Modelport uses it: `MLmodel` (flavors, a column-based or tensor-based
 * signature, `metadata`), `model.onnx` (plus any external-data files), `input_example.json` (pandas split orient
 * or records for columns; `{"inputs": ...}` for tensors), and three Modelport extras that travel with the model:
 * `feature_spec.json` (tightens the signature), `metrics.json` (evaluation at registration: baseline hit rate or
 * MAE, chosen threshold) and `reference.csv` (drift reference).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { MODEL_METADATA } from "../contract";

/** MLflow column types (mlflow.types.DataType). */
export const COLUMN_TYPES = ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
}

/** A tensor-based signature entry (MLflow TensorSpec): numpy dtype name and shape, -1 for dynamic dimensions. */
export interface TensorSpec {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

/** An example tensor as the MLmodel's example gives it: nested row-major values. */
export type ExampleTensors = Readonly<Record<string, unknown>>;

/** Per-feature tightening of the signature: JSON Schema keywords merged into the derived request schema. */
export interface FeatureConstraint {
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly (string | number)[];
  readonly pattern?: string;
  readonly description?: string;
}
export type FeatureSpec = Readonly<Record<string, FeatureConstraint>>;

/** Evaluation metrics stored with the model (mirrors the registry run's metrics when there is a run). */
export interface ModelMetrics {
  readonly [name: string]: number | undefined;
  readonly chosen_threshold?: number;
}

export interface ModelPackage {
  readonly dir: string;
  readonly onnxPath: string;
  /**
   * The column contract /predict validates: the column-based signature, or the stored feature list
   * (metadata `modelport.feature_columns`) of a tensor-based one; empty for a tensor model without one.
   */
  readonly inputs: readonly ColumnSpec[];
  /** How the signature describes the inputs. */
  readonly signatureKind: "columns" | "tensors";
  /** The inputs of a tensor-based signature (empty for a column-based one). */
  readonly inputTensors: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** MLmodel `metadata` (mlflow.<flavor>.log_model(metadata=...)): task, class labels, feature list, value buckets. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /**
   * Feature order of an [N, F] graph input fed from named columns, when the model stores one (metadata
   * `modelport.feature_columns`); otherwise the signature's column order.
   */
  readonly featureOrder?: readonly string[];
  /** Records from input_example.json (column models), used to warm up a freshly loaded session. */
  readonly inputExample: readonly Record<string, unknown>[];
  /** Tensors from input_example.json ({"inputs": ...}), by input name ("" for a single unnamed one). */
  readonly tensorExample?: ExampleTensors;
  readonly featureSpec: FeatureSpec;
  readonly metrics: ModelMetrics;
  /** Path of reference.csv when the model ships a drift reference sample. */
  readonly referencePath?: string;
}

export const MLMODEL_FILE = "MLmodel";
export const INPUT_EXAMPLE_FILE = "input_example.json";
export const FEATURE_SPEC_FILE = "feature_spec.json";
export const METRICS_FILE = "metrics.json";
export const REFERENCE_FILE = "reference.csv";

export class ModelPackageError extends Error {
  override readonly name = "ModelPackageError";
}

interface MlModelYaml {
  flavors?: { onnx?: { data?: string }; python_function?: { data?: string } };
  signature?: { inputs?: string; outputs?: string };
  saved_input_example_info?: { artifact_path?: string; type?: string };
  metadata?: Record<string, unknown>;
}

/** numpy dtype names of tensor-based signatures -> the MLflow column type a named feature of that dtype has. */
const DTYPE_COLUMN_TYPES: Record<string, ColumnType> = {
  float16: "float",
  float32: "float",
  float64: "double",
  int8: "integer",
  int16: "integer",
  int32: "integer",
  int64: "long",
  uint8: "integer",
  uint16: "integer",
  uint32: "long",
  uint64: "long",
  bool: "boolean",
  str: "string",
  object: "string",
};

/** Reads and checks a model directory; throws ModelPackageError saying which file is wrong and how. */
export async function readModelPackage(dir: string): Promise<ModelPackage> {
  const mlmodelText = await readFile(join(dir, MLMODEL_FILE), "utf8").catch((error: Error) => {
    throw new ModelPackageError(`${dir} is not an MLflow model directory: cannot read ${MLMODEL_FILE} (${error.message})`);
  });
  let mlmodel: MlModelYaml;
  try {
    mlmodel = parseYaml(mlmodelText) as MlModelYaml;
  } catch (error) {
    throw new ModelPackageError(`${MLMODEL_FILE} in ${dir} is not valid YAML: ${(error as Error).message}`);
  }
  const onnxFile = mlmodel?.flavors?.onnx?.data;
  if (!onnxFile) throw new ModelPackageError(`${MLMODEL_FILE} in ${dir} has no onnx flavor (flavors.onnx.data)`);
  const metadata = isRecord(mlmodel.metadata) ? mlmodel.metadata : {};
  const signature = parseSignatureInputs(mlmodel.signature?.inputs, dir);
  const featureOrder = parseFeatureOrder(metadata[MODEL_METADATA.featureColumns], dir);
  const inputs = signature.kind === "columns" ? signature.columns : featureColumns(featureOrder, signature.tensors, dir);
  if (signature.kind === "columns" && featureOrder) {
    const unknown = featureOrder.filter((name) => !inputs.some((c) => c.name === name));
    if (unknown.length > 0) {
      throw new ModelPackageError(`metadata ${MODEL_METADATA.featureColumns} in ${dir} names ${unknown.join(", ")}, which are not signature columns`);
    }
  }
  const outputs = parseTensors(mlmodel.signature?.outputs);
  const exampleFile = mlmodel.saved_input_example_info?.artifact_path ?? INPUT_EXAMPLE_FILE;
  // Tensor models may come without an example (they are warmed up on zeros); column models need one.
  const example = await readJson(join(dir, exampleFile), signature.kind === "tensors" ? null : undefined);
  const tensorExample = tensorExampleOf(example);
  const inputExample = tensorExample || example === null ? [] : splitOrientToRecords(example, dir);
  const featureSpec = (await readJson(join(dir, FEATURE_SPEC_FILE), {})) as FeatureSpec;
  const metrics = (await readJson(join(dir, METRICS_FILE), {})) as ModelMetrics;
  const referencePath = join(dir, REFERENCE_FILE);
  const hasReference = await readFile(referencePath).then(
    () => true,
    () => false,
  );
  for (const name of Object.keys(featureSpec)) {
    if (!inputs.some((c) => c.name === name)) {
      throw new ModelPackageError(`${FEATURE_SPEC_FILE} in ${dir} constrains "${name}", which is not a signature input`);
    }
  }
  return {
    dir,
    onnxPath: join(dir, onnxFile),
    inputs,
    signatureKind: signature.kind,
    inputTensors: signature.kind === "tensors" ? signature.tensors : [],
    outputs,
    metadata,
    featureOrder,
    inputExample,
    tensorExample,
    featureSpec,
    metrics,
    referencePath: hasReference ? referencePath : undefined,
  };
}

type SignatureInputs = { kind: "columns"; columns: ColumnSpec[] } | { kind: "tensors"; tensors: TensorSpec[] };

/** Column-based ({name, type, required}) or tensor-based ({type: "tensor", tensor-spec}) signature inputs. */
function parseSignatureInputs(json: string | undefined, dir: string): SignatureInputs {
  if (!json) throw new ModelPackageError(`${MLMODEL_FILE} in ${dir} has no signature.inputs: log the model with a signature`);
  const raw = parseJsonList(json, "signature.inputs", dir);
  if (raw.length > 0 && raw.every((entry) => entry.type === "tensor")) return { kind: "tensors", tensors: parseTensors(json) };
  if (raw.some((entry) => entry.type === "tensor")) {
    throw new ModelPackageError(`signature.inputs in ${dir} mixes tensor and column entries; MLflow signatures are one or the other`);
  }
  return { kind: "columns", columns: parseColumns(json, dir) };
}

function parseFeatureOrder(value: unknown, dir: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === "string" ? safeJson(value) : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((name) => typeof name === "string" && name !== "") || new Set(list).size !== list.length) {
    throw new ModelPackageError(`metadata ${MODEL_METADATA.featureColumns} in ${dir} must be a non-empty list of distinct column names`);
  }
  return list as string[];
}

/** The named columns of a tensor-based signature: the stored feature list, typed by the tensor's dtype. */
function featureColumns(featureOrder: readonly string[] | undefined, tensors: readonly TensorSpec[], dir: string): ColumnSpec[] {
  if (!featureOrder) return [];
  if (tensors.length !== 1) {
    throw new ModelPackageError(`metadata ${MODEL_METADATA.featureColumns} in ${dir} needs a tensor signature with exactly one input to feed, got ${tensors.length}`);
  }
  const tensor = tensors[0]!;
  const type = DTYPE_COLUMN_TYPES[tensor.dtype];
  if (!type) throw new ModelPackageError(`signature input ${tensor.name ?? "#0"} in ${dir} has dtype "${tensor.dtype}", which named columns cannot feed`);
  const width = tensor.shape.length === 2 ? tensor.shape[1] : undefined;
  if (width === undefined || (width >= 0 && width !== featureOrder.length)) {
    throw new ModelPackageError(
      `signature input ${tensor.name ?? "#0"} in ${dir} has shape ${JSON.stringify(tensor.shape)} but ${MODEL_METADATA.featureColumns} lists ${featureOrder.length} columns: named columns feed an [N, ${featureOrder.length}] tensor`,
    );
  }
  return featureOrder.map((name) => ({ name, type, required: true }));
}

/** MLflow's tf-serving example format: {"inputs": nested} (one tensor) or {"inputs": {name: nested}}. */
function tensorExampleOf(example: unknown): ExampleTensors | undefined {
  if (!isRecord(example) || !("inputs" in example)) return undefined;
  const inputs = example.inputs;
  return isRecord(inputs) ? inputs : { "": inputs };
}

function parseColumns(json: string, dir: string): ColumnSpec[] {
  const raw = parseJsonList(json, "signature.inputs", dir) as { name?: string; type?: string; required?: boolean }[];
  return raw.map((column, index) => {
    if (!column.name) throw new ModelPackageError(`signature input #${index} in ${dir} has no name: column-based signatures name every column`);
    if (!COLUMN_TYPES.includes(column.type as ColumnType)) {
      throw new ModelPackageError(`signature input "${column.name}" in ${dir} has type "${column.type}"; expected one of ${COLUMN_TYPES.join(", ")}`);
    }
    return { name: column.name, type: column.type as ColumnType, required: column.required !== false };
  });
}

function parseTensors(json: string | undefined): TensorSpec[] {
  if (!json) return [];
  const raw = safeJson(json);
  if (!Array.isArray(raw)) return [];
  return (raw as { name?: string; type?: string; "tensor-spec"?: { dtype?: string; shape?: number[] } }[]).map((t) => ({
    name: t.name,
    dtype: t["tensor-spec"]?.dtype ?? t.type ?? "unknown",
    shape: Array.isArray(t["tensor-spec"]?.shape) ? t["tensor-spec"]!.shape! : [],
  }));
}

function parseJsonList(json: string, what: string, dir: string): Record<string, unknown>[] {
  const raw = safeJson(json);
  if (!Array.isArray(raw) || !raw.every(isRecord)) throw new ModelPackageError(`${what} in ${MLMODEL_FILE} in ${dir} is not a JSON list of objects`);
  return raw;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readJson(path: string, fallback: unknown): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (fallback !== undefined) return fallback;
    throw new ModelPackageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelPackageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** pandas "split" orient ({columns, data}) or a plain record / array of records -> records. */
export function splitOrientToRecords(example: unknown, dir: string): Record<string, unknown>[] {
  if (Array.isArray(example)) return example as Record<string, unknown>[];
  const split = example as { columns?: string[]; data?: unknown[][] };
  if (split && Array.isArray(split.columns) && Array.isArray(split.data)) {
    return split.data.map((row) => Object.fromEntries(split.columns!.map((c, i) => [c, row[i]])));
  }
  if (example && typeof example === "object") return [example as Record<string, unknown>];
  throw new ModelPackageError(`${INPUT_EXAMPLE_FILE} in ${dir} is neither split-orient JSON nor records`);
}
