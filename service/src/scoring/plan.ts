/**
 * What a scored file holds, decided once before any row is scored and shared by every worker: the input
 * columns carried over (with their Parquet types), the task's prediction columns, the id columns, and the
 * rejects file's layout. The carried and rejected columns come from the input; the prediction columns from the
 * contract (SCORED_TASK_COLUMNS) and the model's task and classes.
 */
import type { SchemaElement } from "hyparquet";
import { REJECT_COLUMNS, SCORED_COLUMNS, SCORED_TASK_COLUMNS, type TabularTask } from "../contract";
import type { TableFormat } from "../drift/readers";
import type { ColumnSpec, ColumnType } from "../model/mlmodel";
import type { LoadedModel } from "../model/model-manager";
import { ScoringInputError } from "./errors";

export type OutputFormat = "parquet" | "csv";

/** Where an output column's values come from. */
export type ColumnSource =
  /** The cell as read (Parquet, typed). */
  | { readonly kind: "cell" }
  /** The signature column's value as the validated record holds it (text inputs: the parsed number, boolean...). */
  | { readonly kind: "record" }
  /** The cell as text (a text input's column outside the signature). */
  | { readonly kind: "text" }
  | { readonly kind: "probability" }
  | { readonly kind: "label" }
  | { readonly kind: "class"; readonly index: number }
  | { readonly kind: "value" }
  | { readonly kind: "predictionId" }
  | { readonly kind: "model" }
  | { readonly kind: "modelVersion" };

export interface OutputColumn {
  readonly name: string;
  readonly element: SchemaElement;
  readonly source: ColumnSource;
}

/** An input column as the input's schema (Parquet) or header (text) has it. */
export interface InputColumn {
  readonly name: string;
  /** The Parquet schema element; undefined for text inputs. */
  readonly element?: SchemaElement;
}

export interface ScoringPlan {
  readonly inputFormat: TableFormat;
  readonly outputFormat: OutputFormat;
  readonly rejectsFormat: OutputFormat;
  readonly task: TabularTask;
  readonly model: { readonly name: string; readonly version: string };
  /** The signature columns, in signature order: the record each row becomes. */
  readonly signature: readonly ColumnSpec[];
  /** Every input column (all of them go to the rejects file). */
  readonly inputs: readonly InputColumn[];
  readonly output: readonly OutputColumn[];
  /** Rejects: input, row, reason, raw, then every input column as text. */
  readonly rejects: readonly OutputColumn[];
}

const STRING: SchemaElement = { name: "", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" };
const TYPE_ELEMENTS: Readonly<Record<ColumnType, SchemaElement>> = {
  boolean: { name: "", type: "BOOLEAN", repetition_type: "OPTIONAL" },
  integer: { name: "", type: "INT32", repetition_type: "OPTIONAL" },
  long: { name: "", type: "INT64", repetition_type: "OPTIONAL" },
  float: { name: "", type: "FLOAT", repetition_type: "OPTIONAL" },
  double: { name: "", type: "DOUBLE", repetition_type: "OPTIONAL" },
  string: STRING,
  binary: STRING,
  datetime: STRING,
};
const required = (element: SchemaElement): SchemaElement => ({ ...element, repetition_type: "REQUIRED" });
const named = (name: string, element: SchemaElement): SchemaElement => ({ ...element, name });

/** The task's prediction columns: names from the contract, classes from the served version. */
function predictionColumns(model: LoadedModel): OutputColumn[] {
  const task = model.task.task;
  const double = required({ name: "", type: "DOUBLE" });
  const text = required(STRING);
  switch (task) {
    case "binary": {
      const names = SCORED_TASK_COLUMNS.binary;
      return [
        { name: names.probability, element: double, source: { kind: "probability" } },
        { name: names.label, element: required({ name: "", type: "INT32" }), source: { kind: "label" } },
      ];
    }
    case "multiclass": {
      const names = SCORED_TASK_COLUMNS.multiclass;
      return [
        { name: names.label, element: text, source: { kind: "label" } },
        { name: names.probability, element: double, source: { kind: "probability" } },
        ...(model.task.classes ?? []).map((label, index): OutputColumn => ({
          name: `${names.classProbabilityPrefix}${label}`,
          element: double,
          source: { kind: "class", index },
        })),
      ];
    }
    case "regression":
      return [{ name: SCORED_TASK_COLUMNS.regression.value, element: double, source: { kind: "value" } }];
    default:
      throw new ScoringInputError(
        `model ${model.identity.name} version ${model.identity.version} is a ${task} model: batch scoring reads tables of named columns, and a ${task} model takes tensors ` +
          "(score it through POST /v2/models/<name>/infer); give a binary, multiclass or regression model",
      );
  }
}

export interface PlanOptions {
  readonly inputFormat: TableFormat;
  readonly outputFormat: OutputFormat;
  readonly rejectsFormat: OutputFormat;
  readonly inputs: readonly InputColumn[];
  /** Input columns to carry to the output, in this order. @default every input column */
  readonly keep?: readonly string[];
  /** For messages: the input the columns were read from. */
  readonly source: string;
}

export function planScoring(model: LoadedModel, options: PlanOptions): ScoringPlan {
  const predictions = predictionColumns(model);
  const signature = model.contract.columns;
  checkParquetTypes(options.source, options.inputs, signature);
  const inputNames = new Set(options.inputs.map((c) => c.name));
  const missing = signature.filter((c) => c.required && !inputNames.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    throw new ScoringInputError(
      `${options.source}: column${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} missing: the model ${model.identity.name} requires ${signature.filter((c) => c.required).map((c) => c.name).join(", ")}`,
    );
  }
  for (const name of options.keep ?? []) {
    if (!inputNames.has(name)) throw new ScoringInputError(`--columns ${name}: ${options.source} has no column "${name}" (it has ${[...inputNames].join(", ")})`);
  }
  const kept = (options.keep ?? options.inputs.map((c) => c.name)).map((name) => options.inputs.find((c) => c.name === name)!);
  const bySignature = new Map(signature.map((c) => [c.name, c]));
  const carried = kept.map((column): OutputColumn => {
    // The input's own element, repetition included: a chunk copied through keeps its definition levels.
    if (column.element) return { name: column.name, element: named(column.name, { ...column.element }), source: { kind: "cell" } };
    const spec = bySignature.get(column.name);
    return spec
      ? { name: column.name, element: named(column.name, TYPE_ELEMENTS[spec.type]), source: { kind: "record" } }
      : { name: column.name, element: named(column.name, STRING), source: { kind: "text" } };
  });
  const added: OutputColumn[] = [
    ...predictions.map((c) => ({ ...c, element: named(c.name, c.element) })),
    { name: SCORED_COLUMNS.predictionId, element: named(SCORED_COLUMNS.predictionId, required(STRING)), source: { kind: "predictionId" } },
    { name: SCORED_COLUMNS.model, element: named(SCORED_COLUMNS.model, required(STRING)), source: { kind: "model" } },
    { name: SCORED_COLUMNS.modelVersion, element: named(SCORED_COLUMNS.modelVersion, required(STRING)), source: { kind: "modelVersion" } },
  ];
  const clash = added.find((c) => carried.some((k) => k.name === c.name));
  if (clash) {
    throw new ScoringInputError(
      `${options.source}: input column "${clash.name}" has the name of an output column the scorer adds (${added.map((c) => c.name).join(", ")}): ` +
        "leave it out with --columns <the input columns to keep>",
    );
  }
  const text = (name: string): OutputColumn => ({ name, element: named(name, STRING), source: { kind: "text" } });
  const rejects: OutputColumn[] = [
    text(REJECT_COLUMNS.input),
    { name: REJECT_COLUMNS.row, element: named(REJECT_COLUMNS.row, required({ name: "", type: "INT64" })), source: { kind: "cell" } },
    text(REJECT_COLUMNS.reason),
    text(REJECT_COLUMNS.raw),
    // Input columns in input order (an input column named like a reject column is prefixed, never dropped).
    ...options.inputs.map((c) => text((Object.values(REJECT_COLUMNS) as string[]).includes(c.name) ? `input_${c.name}` : c.name)),
  ];
  return {
    inputFormat: options.inputFormat,
    outputFormat: options.outputFormat,
    rejectsFormat: options.rejectsFormat,
    task: model.task.task as TabularTask,
    model: { name: model.identity.name, version: model.identity.version },
    signature,
    inputs: options.inputs,
    output: [...carried, ...added],
    rejects,
  };
}

/** The Parquet schema of a column list (root first). */
export function parquetSchema(columns: readonly OutputColumn[]): SchemaElement[] {
  return [{ name: "root", num_children: columns.length }, ...columns.map((c) => c.element)];
}

/** Parquet physical types a signature column can be read from; the validator judges the values themselves. */
const READABLE_AS: Readonly<Record<ColumnType, readonly string[]>> = {
  boolean: ["BOOLEAN"],
  integer: ["INT32", "INT64", "FLOAT", "DOUBLE"],
  long: ["INT32", "INT64", "FLOAT", "DOUBLE"],
  float: ["INT32", "INT64", "FLOAT", "DOUBLE"],
  double: ["INT32", "INT64", "FLOAT", "DOUBLE"],
  string: ["BYTE_ARRAY"],
  binary: ["BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"],
  datetime: ["INT64", "INT96", "INT32", "BYTE_ARRAY"],
};

function describeElement(element: SchemaElement): string {
  const annotation = element.logical_type?.type ?? element.converted_type;
  return `${element.type ?? "a group"}${annotation ? ` (${annotation})` : ""}`;
}

/** A Parquet column whose type cannot hold the signature's is a wrong schema: the file, the column and both types. */
function checkParquetTypes(source: string, inputs: readonly InputColumn[], signature: readonly ColumnSpec[]): void {
  for (const spec of signature) {
    const element = inputs.find((c) => c.name === spec.name)?.element;
    if (!element) continue;
    const decimal = element.converted_type === "DECIMAL" || element.logical_type?.type === "DECIMAL";
    const numeric = ["integer", "long", "float", "double"].includes(spec.type);
    const fits = element.num_children === undefined && element.type !== undefined && (READABLE_AS[spec.type].includes(element.type) || (numeric && decimal));
    if (!fits) {
      throw new ScoringInputError(
        `${source}: column "${spec.name}" is ${describeElement(element)} but the model's signature declares ${spec.type}: write it as ${READABLE_AS[spec.type].join(" or ")}`,
      );
    }
  }
}
