/** What every reader yields: a block of rows, column by column, so no reader builds an object per row. */
export interface ColumnBatch {
  readonly rows: number;
  /** Columns this source has (the CSV header, the Parquet schema, the NDJSON keys asked for or first seen). */
  readonly names: readonly string[];
  /** Values of one column for this block's rows, or undefined when the source has no such column. */
  column(name: string): ArrayLike<unknown> | undefined;
  /** Rows of the source that could not be parsed (wrong field count, bad JSON) and were left out. */
  readonly malformed: number;
}

/** Rows per batch: large enough to amortize per-batch work, small enough to keep memory flat. */
export const BATCH_ROWS = 16_384;
