/**
 * File cells -> the JSON values a /predict body would carry, so the service's record validator judges a file's
 * rows exactly as it judges requests. CSV has no types: a numeric column's text is read as a number when it is
 * a decimal literal, a boolean column's true/false/1/0 as a boolean, anything else is kept as text for the
 * validator to name ("hour must be integer"). NDJSON values are JSON already and are taken as they are, as the
 * HTTP API takes them. Parquet values are typed by the file; INT64 comes out of hyparquet as bigint and is
 * read as a number, timestamps as ISO 8601 text for datetime columns.
 */
import type { ColumnSpec, ColumnType } from "../model/mlmodel";
import type { FeatureRecord } from "../model/types";
import type { TableFormat } from "../drift/readers";

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TRUE_TEXT = new Set(["true", "True", "TRUE", "1"]);
const FALSE_TEXT = new Set(["false", "False", "FALSE", "0"]);
const NUMERIC: ReadonlySet<ColumnType> = new Set(["integer", "long", "float", "double"]);

type Decode = (raw: unknown) => unknown;

/** How one column's cells become JSON values, for a source format. */
export function cellDecoder(type: ColumnType, format: TableFormat): Decode {
  if (format === "csv") return textDecoder(type);
  if (format === "ndjson") return (raw) => (raw === null ? undefined : raw);
  return typedDecoder(type);
}

function textDecoder(type: ColumnType): Decode {
  if (NUMERIC.has(type)) {
    return (raw) => {
      if (raw === "" || raw === undefined || raw === null) return undefined;
      const text = (raw as string).trim();
      return DECIMAL.test(text) ? Number(text) : raw;
    };
  }
  if (type === "boolean") {
    return (raw) => {
      if (raw === "" || raw === undefined || raw === null) return undefined;
      const text = (raw as string).trim();
      return TRUE_TEXT.has(text) ? true : FALSE_TEXT.has(text) ? false : raw;
    };
  }
  return (raw) => (raw === "" || raw === undefined || raw === null ? undefined : raw);
}

function typedDecoder(type: ColumnType): Decode {
  return (raw) => {
    if (raw === null || raw === undefined) return undefined;
    if (typeof raw === "bigint") {
      const value = Number(raw);
      return Number.isSafeInteger(value) ? value : raw;
    }
    if (raw instanceof Date) return type === "datetime" || type === "string" ? raw.toISOString() : raw;
    if (raw instanceof Uint8Array) return type === "binary" ? Buffer.from(raw).toString("base64") : raw;
    return raw;
  };
}

export interface RecordBuilder {
  /** The record for row `i` of a batch whose columns are `values` (one array per signature column, or undefined). */
  record(values: readonly (ArrayLike<unknown> | undefined)[], i: number): FeatureRecord;
}

/** Builds records with exactly the signature's columns, leaving out missing values (as a JSON body would). */
export function recordBuilder(columns: readonly ColumnSpec[], format: TableFormat): RecordBuilder {
  const names = columns.map((c) => c.name);
  const decoders = columns.map((c) => cellDecoder(c.type, format));
  return {
    record(values, i) {
      const record: Record<string, unknown> = {};
      for (let k = 0; k < names.length; k++) {
        const column = values[k];
        if (!column) continue;
        const value = decoders[k]!(column[i]);
        if (value !== undefined) record[names[k]!] = value;
      }
      return record;
    },
  };
}
