/**
 * Model URIs as MLflow spells them, plus local directories: the only way the service is told which model to
 * serve (MODEL_URI, SHADOW_MODEL_URI). Parsing follows mlflow.store.artifact.utils.models._parse_model_uri so a
 * URI that works with `mlflow.pyfunc.load_model` means the same thing here.
 */
import { fileURLToPath } from "node:url";

export type ModelUri =
  | { readonly kind: "local"; readonly path: string }
  /** models:/<name>@<alias> */
  | { readonly kind: "alias"; readonly name: string; readonly alias: string }
  /** models:/<name>/<stage>: the newest version in that stage (stages are deprecated since MLflow 2.9). */
  | { readonly kind: "stage"; readonly name: string; readonly stage: ModelStage }
  /** models:/<name>/<version> */
  | { readonly kind: "version"; readonly name: string; readonly version: string }
  /** models:/<name>/latest: the newest version in any stage. */
  | { readonly kind: "latest"; readonly name: string };

/** MLflow's registry stages in their canonical case; URIs may use any case, as in MLflow. */
export const MODEL_STAGES = ["None", "Staging", "Production", "Archived"] as const;
export type ModelStage = (typeof MODEL_STAGES)[number];

const VALID_FORMS =
  "valid model URIs are models:/<name>@<alias>, models:/<name>/<version>, " +
  `models:/<name>/<stage> (${MODEL_STAGES.join(", ")}), models:/<name>/latest, a local model directory path, or file:///<path>`;

export class ModelUriError extends Error {
  override readonly name = "ModelUriError";
  constructor(
    readonly uri: string,
    problem: string,
  ) {
    super(`invalid model URI ${JSON.stringify(uri)}: ${problem}; ${VALID_FORMS}`);
  }
}

/** Parses a model URI; throws ModelUriError (and nothing else) saying what is wrong and what is accepted. */
export function parseModelUri(uri: string): ModelUri {
  if (typeof uri !== "string" || uri.trim() === "") throw new ModelUriError(String(uri), "it is empty");
  if (/[\u0000-\u001f\u007f]/.test(uri)) throw new ModelUriError(uri, "it contains control characters");
  if (/^models:/i.test(uri)) return parseRegistryUri(uri);
  if (/^file:/i.test(uri)) {
    try {
      return { kind: "local", path: fileURLToPath(uri) };
    } catch (error) {
      throw new ModelUriError(uri, `not a usable file URL (${(error as Error).message})`);
    }
  }
  // Any other scheme (runs:/, s3://, http://) is a mistake rather than a directory name; one letter is a drive.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(uri);
  if (scheme) throw new ModelUriError(uri, `scheme "${scheme[1]}:" is not supported`);
  return { kind: "local", path: uri };
}

function parseRegistryUri(uri: string): ModelUri {
  const rest = uri.slice("models:".length);
  if (rest.startsWith("//")) throw new ModelUriError(uri, "a models URI has no host (Databricks profiles are not supported): use models:/<name>...");
  if (!rest.startsWith("/") || rest.length === 1) throw new ModelUriError(uri, "the model name is missing");
  const path = rest.slice(1);
  const segments = path.split("/");
  if (segments.length > 2) throw new ModelUriError(uri, "a model name cannot contain '/'");

  if (segments.length === 1) {
    const at = path.lastIndexOf("@");
    if (at < 0) {
      throw new ModelUriError(uri, "it names a model but no alias, stage or version (MLflow 3 model IDs are not supported)");
    }
    const name = checkName(uri, path.slice(0, at));
    const alias = path.slice(at + 1);
    if (alias.trim() === "") throw new ModelUriError(uri, "the alias after '@' is empty");
    return { kind: "alias", name, alias };
  }

  const name = checkName(uri, segments[0]!);
  const suffix = segments[1]!;
  if (suffix.trim() === "") throw new ModelUriError(uri, "the version or stage after the model name is empty");
  if (suffix.includes("@")) throw new ModelUriError(uri, "use either an alias or a version/stage, not both");
  if (/^\d+$/.test(suffix)) return { kind: "version", name, version: suffix.replace(/^0+(?=\d)/, "") };
  if (suffix.toLowerCase() === "latest") return { kind: "latest", name };
  const stage = MODEL_STAGES.find((s) => s.toLowerCase() === suffix.toLowerCase());
  if (!stage) throw new ModelUriError(uri, `"${suffix}" is neither a version number nor a stage`);
  return { kind: "stage", name, stage };
}

function checkName(uri: string, name: string): string {
  if (name.trim() === "") throw new ModelUriError(uri, "the model name is empty");
  if (name.includes("@")) throw new ModelUriError(uri, "a model name cannot contain '@'");
  return name;
}

/** The URI back in MLflow's spelling (stage in canonical case), for logs and the /model endpoint. */
export function formatModelUri(uri: ModelUri): string {
  switch (uri.kind) {
    case "local":
      return uri.path;
    case "alias":
      return `models:/${uri.name}@${uri.alias}`;
    case "stage":
      return `models:/${uri.name}/${uri.stage}`;
    case "version":
      return `models:/${uri.name}/${uri.version}`;
    case "latest":
      return `models:/${uri.name}/latest`;
  }
}
