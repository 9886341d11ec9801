/**
 * The model directories tests load: the demo models `npm run model:build` commits under service/models/ and the
 * third-party fixtures under test/fixtures/models/ (see test/fixtures/README.md). readMlmodel reads what the
 * MLmodel says (either signature kind, metadata, the input example) without the service's loader, so these
 * tests hold the files to MLflow's format, not to our own parser.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { projectRoot } from "../../service/src/paths";

export const FIXTURE_MODELS_DIR = join(projectRoot(), "test", "fixtures", "models");
/** torch.onnx.export: features float32 [-1, 8] -> scores float32 [-1, 4]. */
export const TORCH_MLP_DIR = join(FIXTURE_MODELS_DIR, "torch-mlp");
/** torch.onnx.export: input_ids, attention_mask int64 [-1, -1] -> sentence_embedding float32 [-1, 32]. */
export const TORCH_TOKEN_EMBEDDING_DIR = join(FIXTURE_MODELS_DIR, "torch-token-embedding");

export type SignatureEntry =
  | { readonly kind: "column"; readonly name: string; readonly type: string; readonly required: boolean }
  | { readonly kind: "tensor"; readonly name?: string; readonly dtype: string; readonly shape: readonly number[] };

export interface MlmodelFile {
  readonly onnxFile: string;
  readonly inputs: readonly SignatureEntry[];
  readonly outputs: readonly SignatureEntry[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly exampleInfo: Readonly<Record<string, string>>;
  /** input_example.json as stored: {columns, data} (dataframe) or {inputs: ...} (ndarray, tf-serving). */
  readonly inputExample: unknown;
}

export async function readMlmodel(dir: string): Promise<MlmodelFile> {
  const yaml = parseYaml(await readFile(join(dir, "MLmodel"), "utf8")) as {
    flavors: { onnx: { data: string } };
    signature: { inputs: string; outputs: string };
    metadata?: Record<string, unknown>;
    saved_input_example_info: Record<string, string>;
  };
  const entries = (json: string) =>
    (JSON.parse(json) as Record<string, unknown>[]).map((raw): SignatureEntry => {
      if (raw.type !== "tensor") return { kind: "column", name: raw.name as string, type: raw.type as string, required: raw.required !== false };
      const spec = raw["tensor-spec"] as { dtype: string; shape: number[] };
      return { kind: "tensor", name: raw.name as string | undefined, dtype: spec.dtype, shape: spec.shape };
    });
  return {
    onnxFile: yaml.flavors.onnx.data,
    inputs: entries(yaml.signature.inputs),
    outputs: entries(yaml.signature.outputs),
    metadata: yaml.metadata ?? {},
    exampleInfo: yaml.saved_input_example_info,
    inputExample: JSON.parse(await readFile(join(dir, yaml.saved_input_example_info.artifact_path), "utf8")),
  };
}

/** An Open Inference Protocol tensor, as torch_outputs.json records inputs and outputs. */
export interface V2Tensor {
  readonly name: string;
  readonly datatype: "FP32" | "INT64";
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export interface FrameworkOutputs {
  readonly framework: string;
  readonly exporter: string;
  /** sha256 of the model.onnx these outputs belong to. */
  readonly onnx_sha256: string;
  readonly cases: readonly { readonly inputs: readonly V2Tensor[]; readonly outputs: readonly V2Tensor[] }[];
}

/** torch_outputs.json of a torch fixture: fixed inputs and what torch computed for them. */
export async function frameworkOutputs(dir: string): Promise<FrameworkOutputs> {
  return JSON.parse(await readFile(join(dir, "torch_outputs.json"), "utf8")) as FrameworkOutputs;
}
