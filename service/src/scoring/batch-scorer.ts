/**
 * Scores one block of rows with a loaded version, the way /predict/batch does: each row becomes the record a
 * JSON body would carry, the version's record validator judges it (a row that fails goes to the rejects with
 * the validator's words), and the valid ones are scored by the service's predictor (session, task, metrics).
 * Every row of the block ends up either scored or rejected, in input order.
 */
import type { MalformedRow } from "../drift/readers/batch";
import type { LoadedModel } from "../model/model-manager";
import type { Predictor } from "../model/predictor";
import type { FieldProblem } from "../model/request-schema";
import type { FeatureRecord } from "../model/types";
import type { Prediction } from "../tasks/task";
import type { MulticlassPrediction } from "../tasks/multiclass";
import { ConstantText, PredictionIds, type GeneratedColumn } from "./generated-columns";
import { MAX_ID_ROWS, predictionIdPrefix } from "./ids";
import type { ScoringPlan } from "./plan";
import { recordBuilder, type RecordBuilder } from "./records";

/** Records per predictor call: the service's MAX_BATCH_RECORDS scale, far above the demo model's sweet spot. */
export const SCORE_SLICE_ROWS = 8192;

export interface BlockInput {
  /** The input's URI: part of every prediction id, and the rejects' `input`. */
  readonly input: string;
  /** Index in the input of the block's first row (unparsable rows counted). */
  readonly rowStart: number;
  /** Parsed rows in the block. */
  readonly rows: number;
  column(name: string): ArrayLike<unknown> | undefined;
  readonly malformedRows?: readonly MalformedRow[];
}

/** A scored block's output column: its values, or (ids, model, version) what they are made from. */
export type ScoredColumn = ArrayLike<unknown> | GeneratedColumn;

export interface ScoredBlock {
  /** One column per plan.output column, `scored` rows each. */
  readonly output: ScoredColumn[];
  /** One array per plan.rejects column, `rejected` rows each. */
  readonly rejects: unknown[][];
  /** Rows in the block: parsed and unparsable. */
  readonly read: number;
  readonly scored: number;
  readonly rejected: number;
  /** Of the rejected: rows the reader could not parse. */
  readonly malformed: number;
}

interface Reject {
  readonly row: number;
  /** Index among the block's parsed rows; undefined for an unparsable row. */
  readonly at?: number;
  readonly reason: string;
  readonly raw?: string;
}

const describeProblems = (problems: readonly FieldProblem[]) => problems.map((p) => `${p.field} ${p.problem}`).join("; ");

export class BatchScorer {
  private readonly records: RecordBuilder;
  private readonly prefixes = new Map<string, string>();

  constructor(
    private readonly model: LoadedModel,
    private readonly predictor: Predictor,
    private readonly plan: ScoringPlan,
  ) {
    this.records = recordBuilder(plan.signature, plan.inputFormat);
  }

  async score(block: BlockInput): Promise<ScoredBlock> {
    const rowIndex = rowIndexes(block);
    const signatureColumns = this.plan.signature.map((c) => block.column(c.name));
    const rejects: Reject[] = (block.malformedRows ?? []).map((m, k) => ({ row: block.rowStart + m.before + k, reason: m.reason, raw: m.text }));
    const output = new OutputBuilder(this.plan, block.rows);
    // Slice by slice, so only one slice's records and predictions are alive at a time.
    for (let start = 0; start < block.rows; start += SCORE_SLICE_ROWS) {
      const end = Math.min(block.rows, start + SCORE_SLICE_ROWS);
      const slice: FeatureRecord[] = [];
      const sliceRows: number[] = [];
      for (let i = start; i < end; i++) {
        const record = this.records.record(signatureColumns, i);
        const problems = this.model.validator.validate(record);
        if (problems.length > 0) rejects.push({ row: rowIndex[i]!, at: i, reason: describeProblems(problems) });
        else {
          slice.push(record);
          sliceRows.push(i);
        }
      }
      for (const scored of await this.scoreIsolating(slice, sliceRows, rowIndex, rejects)) output.add(scored.at, scored.record, scored.prediction);
    }
    rejects.sort((a, b) => a.row - b.row);
    const malformed = block.malformedRows?.length ?? 0;
    return {
      output: output.columns(block, this.prefix(block.input), rowIndex),
      rejects: this.rejectColumns(block, rejects),
      read: block.rows + malformed,
      scored: output.rows,
      rejected: rejects.length,
      malformed,
    };
  }

  /**
   * The predictor's predictions for `records`. When the graph refuses a slice the contract accepted, the version's
   * own input example shows whether the model or the data is at fault: the model failing on it aborts the run,
   * otherwise the slice is halved until the rows the model refuses are found and rejected with its message.
   */
  private async scoreIsolating(
    records: FeatureRecord[],
    at: number[],
    rowIndex: ArrayLike<number>,
    rejects: Reject[],
  ): Promise<{ record: FeatureRecord; prediction: Prediction; at: number }[]> {
    if (records.length === 0) return [];
    try {
      const predictions = await this.predictor.records(this.model, records, performance.now());
      return predictions.map((prediction, k) => ({ record: records[k]!, prediction, at: at[k]! }));
    } catch (error) {
      if (records.length === 1) {
        await this.assertModelWorks(error);
        rejects.push({ row: rowIndex[at[0]!]!, at: at[0]!, reason: `the model could not score it: ${(error as Error).message}` });
        return [];
      }
      const half = records.length >> 1;
      return [
        ...(await this.scoreIsolating(records.slice(0, half), at.slice(0, half), rowIndex, rejects)),
        ...(await this.scoreIsolating(records.slice(half), at.slice(half), rowIndex, rejects)),
      ];
    }
  }

  private async assertModelWorks(cause: unknown): Promise<void> {
    const example = this.model.package.inputExample.slice(0, 1);
    if (example.length === 0) return;
    try {
      await this.predictor.records(this.model, example, performance.now());
    } catch {
      throw new Error(`the model fails on its own input example too: ${(cause as Error).message}`, { cause });
    }
  }

  private prefix(input: string): string {
    let prefix = this.prefixes.get(input);
    if (!prefix) this.prefixes.set(input, (prefix = predictionIdPrefix(this.plan.model.name, this.plan.model.version, input)));
    return prefix;
  }

  private rejectColumns(block: BlockInput, rejects: readonly Reject[]): unknown[][] {
    const inputs = this.plan.inputs.map((c) => block.column(c.name));
    return [
      rejects.map(() => block.input),
      rejects.map((r) => BigInt(r.row)),
      rejects.map((r) => r.reason),
      rejects.map((r) => r.raw ?? null),
      ...inputs.map((values) => rejects.map((r) => (r.at === undefined || !values ? null : asText(values[r.at])))),
    ];
  }
}

/** The output columns of one block, filled as slices are scored. */
class OutputBuilder {
  rows = 0;
  private readonly valid: Int32Array;
  private readonly filled: (Float64Array | Int32Array | unknown[] | undefined)[];

  constructor(
    private readonly plan: ScoringPlan,
    capacity: number,
  ) {
    this.valid = new Int32Array(capacity);
    this.filled = plan.output.map(({ source }) => {
      switch (source.kind) {
        case "probability":
        case "class":
        case "value":
          return new Float64Array(capacity);
        case "label":
          return plan.task === "multiclass" ? [] : new Int32Array(capacity);
        case "record":
          return [];
        default:
          return undefined; // gathered from the block at the end
      }
    });
  }

  add(at: number, record: FeatureRecord, prediction: Prediction): void {
    const n = this.rows++;
    this.valid[n] = at;
    const columns = this.plan.output;
    for (let k = 0; k < columns.length; k++) {
      const source = columns[k]!.source;
      const into = this.filled[k];
      if (!into) continue;
      switch (source.kind) {
        case "probability":
          (into as Float64Array)[n] = prediction.probability!;
          break;
        case "class":
          (into as Float64Array)[n] = (prediction as MulticlassPrediction).probabilities[source.index]!;
          break;
        case "value":
          (into as Float64Array)[n] = prediction.value!;
          break;
        case "label":
          if (Array.isArray(into)) into.push(String(prediction.label));
          else (into as Int32Array)[n] = Number(prediction.label);
          break;
        case "record":
          (into as unknown[]).push(record[columns[k]!.name] ?? null);
      }
    }
  }

  columns(block: BlockInput, prefix: string, rowIndex: ArrayLike<number>): ScoredColumn[] {
    const n = this.rows;
    const valid = this.valid.subarray(0, n);
    const everyRow = n === block.rows;
    if (block.rowStart + block.rows + (block.malformedRows?.length ?? 0) > MAX_ID_ROWS) throw new Error(`${block.input} has more than ${MAX_ID_ROWS} rows`);
    const gather = (values: ArrayLike<unknown>, map: (v: unknown) => unknown = (v) => v) => {
      const out = new Array<unknown>(n);
      for (let j = 0; j < n; j++) out[j] = map(values[valid[j]!]);
      return out;
    };
    return this.plan.output.map((column, k) => {
      const into = this.filled[k];
      if (into) return Array.isArray(into) ? into : into.subarray(0, n);
      switch (column.source.kind) {
        case "cell": {
          const values = block.column(column.name);
          if (!values) return new Array(n).fill(null);
          return everyRow ? values : gather(values);
        }
        case "text": {
          const values = block.column(column.name);
          return values ? gather(values, asText) : new Array(n).fill(null);
        }
        case "predictionId": {
          const rows = new Float64Array(n);
          for (let j = 0; j < n; j++) rows[j] = rowIndex[valid[j]!]!;
          return new PredictionIds(prefix, rows);
        }
        case "model":
          return new ConstantText(this.plan.model.name, n);
        default:
          return new ConstantText(this.plan.model.version, n);
      }
    });
  }
}

/** Each parsed row's index in the input: unparsable rows take their own places in between. */
function rowIndexes(block: BlockInput): Float64Array {
  const index = new Float64Array(block.rows);
  const malformed = block.malformedRows ?? [];
  let k = 0;
  for (let i = 0; i < block.rows; i++) {
    while (k < malformed.length && malformed[k]!.before <= i) k++;
    index[i] = block.rowStart + i + k;
  }
  return index;
}

/** A cell as text, for columns kept verbatim (text inputs) and for the rejects. */
export function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "object") return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
  return String(value);
}
