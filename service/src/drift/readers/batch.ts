/** What every reader yields: a block of rows, column by column, so no reader builds an object per row. */
export interface ColumnBatch {
  readonly rows: number;
  /** Columns this source has (the CSV header, the Parquet schema, the NDJSON keys asked for or first seen). */
  readonly names: readonly string[];
  /** Values of one column for this block's rows, or undefined when the source has no such column. */
  column(name: string): ArrayLike<unknown> | undefined;
  /** Rows of the source that could not be parsed (wrong field count, bad JSON) and were left out. */
  readonly malformed: number;
  /**
   * The rows counted in `malformed`, in source order, for callers that must account for every row (batch
   * scoring writes them to its rejects file). Text readers fill it; a Parquet row group has none.
   */
  readonly malformedRows?: readonly MalformedRow[];
}

/** A source row that could not be parsed, and where it sat among the batch's parsed rows. */
export interface MalformedRow {
  /** Parsed rows of this batch that came before it in the source. */
  readonly before: number;
  /** 1-based line of the source where the row starts. */
  readonly line: number;
  /** The row as the source had it (CSV fields re-joined; the NDJSON line), cut at MALFORMED_TEXT_LIMIT characters. */
  readonly text: string;
  readonly reason: string;
}

/** Rows per batch: large enough to amortize per-batch work, small enough to keep memory flat. */
export const BATCH_ROWS = 16_384;
/** Characters of a malformed row kept for its report. */
export const MALFORMED_TEXT_LIMIT = 4096;
