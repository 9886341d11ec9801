/**
 * One data set (reference or current) as per-column summaries, filled batch by batch from any reader. Memory is
 * bounded by the summaries' caps, whatever the number of rows.
 */
import type { ColumnBatch } from "./readers/batch";
import type { ColumnKind } from "./stats/methods";
import { CategoricalSummary, NumericSummary } from "./summary";

/** feature: a model input; prediction: the model's probability; target: the ground-truth label. */
export type ColumnRole = "feature" | "prediction" | "target";

export interface ColumnPlan {
  readonly name: string;
  readonly role: ColumnRole;
  /** Undefined: inferred from the reference (numeric when every present value parses as a number). */
  readonly kind?: ColumnKind;
  /** Booleans arrive as true, "true", "True" or 1 depending on the writer: all become "true"/"false". */
  readonly boolean?: boolean;
}

export interface ColumnValues {
  readonly plan: ColumnPlan;
  /** Filled when the column is (or may be) numeric. */
  readonly numeric?: NumericSummary;
  /** Filled when the column is (or may be) categorical. */
  readonly categorical?: CategoricalSummary;
  /** Whether any batch had this column at all (a column can be absent from a file or the log). */
  present: boolean;
}

export class DatasetSummary {
  rows = 0;
  malformedRows = 0;
  readonly columns = new Map<string, ColumnValues>();

  constructor(
    plans: readonly ColumnPlan[],
    /** Reference support per numeric column, kept as bin edges if a current summary outgrows exact mode. */
    anchors?: (column: string) => Float64Array | undefined,
  ) {
    for (const plan of plans) {
      this.columns.set(plan.name, {
        plan,
        numeric: plan.kind !== "categorical" ? new NumericSummary(undefined, anchors?.(plan.name)) : undefined,
        categorical: plan.kind !== "numeric" ? new CategoricalSummary() : undefined,
        present: false,
      });
    }
  }

  add(batch: ColumnBatch): void {
    this.rows += batch.rows;
    this.malformedRows += batch.malformed;
    for (const column of this.columns.values()) {
      const values = batch.column(column.plan.name);
      if (!values) {
        if (column.numeric) column.numeric.missing += batch.rows;
        if (column.categorical) column.categorical.missing += batch.rows;
        continue;
      }
      column.present = true;
      const { numeric, categorical } = column;
      const normalize = column.plan.boolean ? normalizeBoolean : undefined;
      for (let i = 0; i < values.length; i++) {
        const value = normalize ? normalize(values[i]) : values[i];
        numeric?.add(value);
        categorical?.add(value);
      }
    }
  }

  /** The kind each column is analysed as: declared, else numeric when the reference's values all parse. */
  resolvedKind(name: string): ColumnKind {
    const column = this.columns.get(name)!;
    if (column.plan.kind) return column.plan.kind;
    return column.numeric!.count > 0 && column.numeric!.invalid === 0 ? "numeric" : "categorical";
  }
}

const TRUE_VALUES = new Set<unknown>([true, 1, "1", "true", "True", "TRUE"]);
const FALSE_VALUES = new Set<unknown>([false, 0, "0", "false", "False", "FALSE"]);

function normalizeBoolean(value: unknown): unknown {
  if (TRUE_VALUES.has(value)) return "true";
  if (FALSE_VALUES.has(value)) return "false";
  return value;
}
