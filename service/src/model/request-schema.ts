/**
 * The request contract derived from a model's signature: names, MLflow types and required flags, tightened by
 * the model's feature spec (ranges, allowed values). Compiled once per loaded model version, so a hot-swapped
 * version brings its own contract.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { ColumnSpec, ColumnType, FeatureSpec } from "./mlmodel";

export type JsonSchema = Record<string, unknown>;

const MAX_STRING_LENGTH = 1024;

const TYPE_SCHEMAS: Record<ColumnType, JsonSchema> = {
  boolean: { type: "boolean" },
  integer: { type: "integer", minimum: -2147483648, maximum: 2147483647 },
  long: { type: "integer", minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
  float: { type: "number", minimum: -3.4028234663852886e38, maximum: 3.4028234663852886e38 },
  double: { type: "number" },
  string: { type: "string", maxLength: MAX_STRING_LENGTH },
  binary: { type: "string", contentEncoding: "base64", maxLength: MAX_STRING_LENGTH * 4 },
  datetime: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?$" },
};

/** JSON Schema of one record (an object with one property per signature column, nothing else). */
export function recordSchema(inputs: readonly ColumnSpec[], featureSpec: FeatureSpec = {}): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const column of inputs) {
    properties[column.name] = { ...TYPE_SCHEMAS[column.type], ...featureSpec[column.name] };
  }
  return {
    type: "object",
    properties,
    required: inputs.filter((c) => c.required).map((c) => c.name),
    additionalProperties: false,
  };
}

export interface FieldProblem {
  /** Dotted path of the offending field ("hour", "[3].origin"), or "(body)" for the body itself. */
  readonly field: string;
  readonly problem: string;
}

export interface RecordValidator {
  readonly schema: JsonSchema;
  /** Problems with one record, [] when valid. */
  validate(record: unknown): FieldProblem[];
}

// allErrors: name every bad field at once (bodies are size-capped, so the cost is bounded).
// No coercion, no default filling, no silent removal: what is validated is exactly what is scored and logged.
const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });

export function compileRecordValidator(inputs: readonly ColumnSpec[], featureSpec: FeatureSpec = {}): RecordValidator {
  const schema = recordSchema(inputs, featureSpec);
  const validate: ValidateFunction = ajv.compile(schema);
  return {
    schema,
    validate(record) {
      return validate(record) ? [] : toFieldProblems(validate.errors ?? []);
    },
  };
}

/** ajv errors -> one readable problem per field. */
export function toFieldProblems(errors: readonly ErrorObject[], prefix = ""): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const base = error.instancePath.replace(/^\//, "").replace(/\//g, ".");
    let field = base;
    let problem = error.message ?? "is invalid";
    const params = error.params as Record<string, unknown>;
    if (error.keyword === "required") {
      field = join(base, String(params.missingProperty));
      problem = "is required";
    } else if (error.keyword === "additionalProperties") {
      field = join(base, String(params.additionalProperty));
      problem = "is not a model input (unknown field)";
    } else if (error.keyword === "enum") {
      problem = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    }
    problems.push({ field: prefix + (field || "(body)"), problem });
  }
  return dedupe(problems);
}

function join(base: string, name: string): string {
  return base ? `${base}.${name}` : name;
}

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\u0000${p.problem}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
