/**
 * The MLflow model directory format as Modelport uses it: `MLmodel` (flavors + column-based signature),
 * `model.onnx` (plus any external-data files), `input_example.json` (pandas split orient), and three
 * Modelport extras that travel with the model: `feature_spec.json` (tightens the signature), `metrics.json`
 * (evaluation at registration: baseline hit rate, chosen threshold) and `reference.csv` (drift reference).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** MLflow column types (mlflow.types.DataType). */
export const COLUMN_TYPES = ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
}

export interface TensorSpec {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

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
  readonly inputs: readonly ColumnSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Records from input_example.json, used to warm up a freshly loaded session. */
  readonly inputExample: readonly Record<string, unknown>[];
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
  saved_input_example_info?: { artifact_path?: string };
}

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
  const inputs = parseColumns(mlmodel.signature?.inputs, dir);
  const outputs = parseTensors(mlmodel.signature?.outputs);
  const exampleFile = mlmodel.saved_input_example_info?.artifact_path ?? INPUT_EXAMPLE_FILE;
  const inputExample = splitOrientToRecords(await readJson(join(dir, exampleFile), undefined), dir);
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
    outputs,
    inputExample,
    featureSpec,
    metrics,
    referencePath: hasReference ? referencePath : undefined,
  };
}

function parseColumns(json: string | undefined, dir: string): ColumnSpec[] {
  if (!json) throw new ModelPackageError(`${MLMODEL_FILE} in ${dir} has no signature.inputs: log the model with a signature`);
  const raw = JSON.parse(json) as { name?: string; type?: string; required?: boolean }[];
  return raw.map((column, index) => {
    if (!column.name) throw new ModelPackageError(`signature input #${index} in ${dir} has no name: Modelport needs a column-based signature`);
    if (!COLUMN_TYPES.includes(column.type as ColumnType)) {
      throw new ModelPackageError(`signature input "${column.name}" in ${dir} has type "${column.type}"; expected one of ${COLUMN_TYPES.join(", ")}`);
    }
    return { name: column.name, type: column.type as ColumnType, required: column.required !== false };
  });
}

function parseTensors(json: string | undefined): TensorSpec[] {
  if (!json) return [];
  const raw = JSON.parse(json) as { name?: string; type?: string; "tensor-spec"?: { dtype: string; shape: number[] } }[];
  return raw.map((t) => ({ name: t.name, dtype: t["tensor-spec"]?.dtype ?? t.type ?? "unknown", shape: t["tensor-spec"]?.shape ?? [] }));
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
