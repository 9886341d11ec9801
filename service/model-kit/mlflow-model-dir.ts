/**
 * Writes an MLflow model directory the way `mlflow.onnx.log_model` lays it out (MLmodel, model.onnx,
 * input_example.json, conda.yaml, python_env.yaml, requirements.txt) plus Modelport's extras
 * (feature_spec.json, metrics.json, reference.csv, and a README.md model card when given). Everything is derived from the inputs: no clock, no
 * random UUID, so the same model writes the same bytes.
 */
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import {
  FEATURE_SPEC_FILE,
  INPUT_EXAMPLE_FILE,
  METRICS_FILE,
  MLMODEL_FILE,
  REFERENCE_FILE,
  type ColumnSpec,
  type FeatureSpec,
  type ModelMetrics,
  type TensorSpec,
} from "../src/model/mlmodel";

export const ONNX_FILE = "model.onnx";
export const README_FILE = "README.md";
/** The MLflow release whose on-disk format these files follow. */
export const MLFLOW_VERSION = "2.16.2";
/** The ONNX release whose schema onnx-proto 8.0.1 encodes. */
export const ONNX_VERSION = "1.10.2";
const PYTHON_VERSION = "3.11.9";
const PIP_REQUIREMENTS = ["mlflow==2.16.2", "onnx==1.16.2", "onnxruntime==1.19.2"];

export interface MlflowModel {
  readonly onnx: Uint8Array;
  readonly inputs: readonly ColumnSpec[];
  readonly outputs: readonly TensorSpec[];
  /** A few request records, written in pandas "split" orient. */
  readonly inputExample: readonly Readonly<Record<string, unknown>>[];
  readonly featureSpec: FeatureSpec;
  readonly metrics: ModelMetrics;
  /** Drift reference rows: the signature inputs plus any extra columns (probability, actual). */
  readonly reference?: { readonly columns: readonly string[]; readonly rows: readonly (readonly (string | number)[])[] };
  /**
   * MLmodel `metadata` (what `mlflow.onnx.log_model(metadata=...)` writes): Modelport reads the task
   * (TASK_TAG) and, for regressors, the value-histogram buckets (VALUE_BUCKETS_KEY) from it. @default none
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Model card written as README.md (what the model is, how it was trained, its held-out metrics). @default none */
  readonly readme?: string;
  /** Recorded as utc_time_created; pass a fixed instant for reproducible output. */
  readonly createdAt: Date;
}

/** Replaces `dir` with the model directory. */
export async function writeMlflowModelDir(dir: string, model: MlflowModel): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    [ONNX_FILE]: model.onnx,
    [INPUT_EXAMPLE_FILE]: `${JSON.stringify({ columns: model.inputs.map((c) => c.name), data: model.inputExample.map((r) => model.inputs.map((c) => r[c.name])) })}\n`,
    "conda.yaml": toYaml({ channels: ["conda-forge"], dependencies: [`python=${PYTHON_VERSION}`, "pip<=24.0", { pip: PIP_REQUIREMENTS }], name: "mlflow-env" }),
    "python_env.yaml": toYaml({ python: PYTHON_VERSION, build_dependencies: ["pip==24.0", "setuptools", "wheel"], dependencies: ["-r requirements.txt"] }),
    "requirements.txt": `${PIP_REQUIREMENTS.join("\n")}\n`,
    [FEATURE_SPEC_FILE]: `${JSON.stringify(model.featureSpec, null, 2)}\n`,
    [METRICS_FILE]: `${JSON.stringify(model.metrics, null, 2)}\n`,
  };
  if (model.reference) files[REFERENCE_FILE] = toCsv(model.reference.columns, model.reference.rows);
  if (model.readme) files[README_FILE] = model.readme;
  files[MLMODEL_FILE] = mlmodelYaml(model, files);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
}

function mlmodelYaml(model: MlflowModel, files: Record<string, string | Uint8Array>): string {
  const sizeBytes = Object.values(files).reduce((sum, content) => sum + Buffer.byteLength(content), 0);
  // MLflow uses uuid4().hex; a content hash keeps the id stable for identical models and distinct otherwise.
  const uuid = createHash("sha256").update(model.onnx).digest("hex").slice(0, 32);
  const document = {
    artifact_path: "model",
    flavors: {
      onnx: { code: null, data: ONNX_FILE, onnx_version: ONNX_VERSION, providers: ["CUDAExecutionProvider", "CPUExecutionProvider"] },
      python_function: {
        data: ONNX_FILE,
        env: { conda: "conda.yaml", virtualenv: "python_env.yaml" },
        loader_module: "mlflow.onnx",
        python_version: PYTHON_VERSION,
      },
    },
    // Keys in MLflow's (sorted) order; a model without metadata writes no key at all, as MLflow does.
    ...(model.metadata ? { metadata: model.metadata } : {}),
    mlflow_version: MLFLOW_VERSION,
    model_size_bytes: sizeBytes,
    model_uuid: uuid,
    saved_input_example_info: { artifact_path: INPUT_EXAMPLE_FILE, pandas_orient: "split", type: "dataframe" },
    signature: {
      inputs: pythonJson(model.inputs.map((c) => ({ type: c.type, name: c.name, required: c.required }))),
      outputs: pythonJson(model.outputs.map((t) => ({ type: "tensor", "tensor-spec": { dtype: t.dtype, shape: t.shape }, name: t.name }))),
      params: null,
    },
    utc_time_created: model.createdAt.toISOString().replace("T", " ").replace("Z", "000"),
  };
  return toYaml(document, { lineWidth: 0 });
}

/** json.dumps with Python's default separators, as MLflow writes the signature strings. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${pythonJson(item)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}

function toCsv(columns: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (value: string | number) => (typeof value === "string" && /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : String(value));
  return `${[columns, ...rows].map((row) => row.map(cell).join(",")).join("\n")}\n`;
}
