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
  /** Problems with one record, [] when valid; at most MAX_REPORTED_PROBLEMS (+1 saying there are more). */
  validate(record: unknown): FieldProblem[];
}

/**
 * Problems reported per record. A body of 120k unknown keys once cost ~0.5-0.95 s of event loop and an ~8 MB
 * answer listing every one; now validation stops after this many and says so.
 */
export const MAX_REPORTED_PROBLEMS = 20;

// No coercion, no default filling, no silent removal: what is validated is exactly what is scored and logged.
const options = { coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false } as const;
// The hot path asks only "valid?" and stops at the first problem; a bad record is then explained in detail.
const ajvFirst = new Ajv({ ...options, allErrors: false });
const ajvAll = new Ajv({ ...options, allErrors: true });

export function compileRecordValidator(inputs: readonly ColumnSpec[], featureSpec: FeatureSpec = {}): RecordValidator {
  const schema = recordSchema(inputs, featureSpec);
  const valid: ValidateFunction = ajvFirst.compile(schema);
  const detailed: ValidateFunction = ajvAll.compile(schema);
  const names = new Set(inputs.map((c) => c.name));
  return {
    schema,
    validate(record) {
      return valid(record) ? [] : explain(record, names, detailed);
    },
  };
}

/** A validator that refuses every record with one problem (a version /predict cannot serve). */
export function refusingValidator(problem: string): RecordValidator {
  return { schema: { not: {} }, validate: () => [{ field: "(body)", problem }] };
}

/**
 * Every problem with a bad record, up to the cap: unknown fields are listed without looking at more keys than
 * the cap, and the known fields (at most one per column) are checked with every error collected.
 */
function explain(record: unknown, names: ReadonlySet<string>, detailed: ValidateFunction): FieldProblem[] {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return [{ field: "(body)", problem: "must be an object" }];
  const problems: FieldProblem[] = [];
  const known: Record<string, unknown> = {};
  let truncated = false;
  for (const key of Object.keys(record)) {
    if (names.has(key)) {
      known[key] = (record as Record<string, unknown>)[key];
    } else if (problems.length < MAX_REPORTED_PROBLEMS) {
      problems.push({ field: key, problem: "is not a model input (unknown field)" });
    } else {
      truncated = true;
      break;
    }
  }
  if (!detailed(known)) {
    for (const problem of toFieldProblems(detailed.errors ?? [])) {
      if (problems.length >= MAX_REPORTED_PROBLEMS) {
        truncated = true;
        break;
      }
      problems.push(problem);
    }
  }
  if (truncated) problems.push({ field: "(body)", problem: `has more problems: validation stops after ${MAX_REPORTED_PROBLEMS}` });
  return problems;
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
