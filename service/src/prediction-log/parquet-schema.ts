/**
 * The object-storage sink's Parquet schema, mirroring the PostgreSQL tables column for column (contract names),
 * with the types a Glue table declares for them. Shared by the sink (writing), the drift job's reader and the
 * Glue catalog construct, so the three cannot drift apart.
 */
import type { SchemaElement } from "hyparquet";
import { FEEDBACK_COLUMNS as F, PARQUET_LOG, PREDICTION_LOG_COLUMNS as P } from "../contract";
import { decodeField } from "./copy-text";

export type ParquetKind = "string" | "timestamp" | "double" | "float" | "boolean" | "bigint";

export interface ParquetColumn {
  readonly name: string;
  readonly kind: ParquetKind;
  readonly nullable: boolean;
  /** Unique per row (ids) or increasing (seq, times): no dictionary attempt, or delta encoding. @default chosen by the writer */
  readonly encoding?: "PLAIN" | "DELTA_BINARY_PACKED";
}

const column = (name: string, kind: ParquetKind, nullable = false, encoding?: ParquetColumn["encoding"]): ParquetColumn => ({ name, kind, nullable, encoding });

export const PREDICTION_PARQUET_COLUMNS: readonly ParquetColumn[] = [
  column(P.predictionId, "string", false, "PLAIN"),
  column(P.modelName, "string"),
  column(P.modelVersion, "string"),
  column(P.variant, "string"),
  column(P.createdAt, "timestamp", false, "DELTA_BINARY_PACKED"),
  column(P.task, "string"),
  // JSON text: Athena reads it with json_extract_scalar(features, '$.distance').
  column(P.features, "string"),
  column(P.probability, "double", true),
  column(P.label, "string", true),
  column(P.value, "double", true),
  column(P.latencyMs, "float"),
  column(P.fallback, "boolean"),
  column(P.replica, "string"),
  column(P.seq, "bigint", false, "DELTA_BINARY_PACKED"),
];

export const FEEDBACK_PARQUET_COLUMNS: readonly ParquetColumn[] = [
  column(F.predictionId, "string", false, "PLAIN"),
  column(F.actual, "string", true),
  column(F.actualValue, "double", true),
  column(F.receivedAt, "timestamp"),
  column(P.modelName, "string"),
  column(P.modelVersion, "string"),
  column(PARQUET_LOG.feedbackStreamColumns.replica, "string"),
  column(PARQUET_LOG.feedbackStreamColumns.seq, "bigint", false, "DELTA_BINARY_PACKED"),
];

/** Per stream: its columns and the one whose time places a row in its date/hour partition. */
export const PARQUET_STREAMS = {
  predictions: { columns: PREDICTION_PARQUET_COLUMNS, time: P.createdAt },
  feedback: { columns: FEEDBACK_PARQUET_COLUMNS, time: F.receivedAt },
} as const;
export type ParquetStream = keyof typeof PARQUET_STREAMS;

/** Glue/Hive column types. */
export const GLUE_TYPES: Record<ParquetKind, string> = {
  string: "string",
  timestamp: "timestamp",
  double: "double",
  float: "float",
  boolean: "boolean",
  bigint: "bigint",
};

export function parquetSchema(columns: readonly ParquetColumn[]): SchemaElement[] {
  return [
    { name: "root", num_children: columns.length },
    ...columns.map((c): SchemaElement => {
      const repetition_type = c.nullable ? "OPTIONAL" : "REQUIRED";
      switch (c.kind) {
        case "string":
          return { name: c.name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type };
        case "timestamp":
          return { name: c.name, type: "INT64", converted_type: "TIMESTAMP_MILLIS", repetition_type };
        case "double":
          return { name: c.name, type: "DOUBLE", repetition_type };
        case "float":
          return { name: c.name, type: "FLOAT", repetition_type };
        case "boolean":
          return { name: c.name, type: "BOOLEAN", repetition_type };
        case "bigint":
          return { name: c.name, type: "INT64", repetition_type };
      }
    }),
  ];
}

/**
 * A journal field (COPY text) as the column's value; throws on a value the column cannot hold, so the row is
 * refused (counted) instead of the whole file.
 */
export function parquetValue(kind: ParquetKind, nullable: boolean, raw: string, name: string): unknown {
  const text = decodeField(raw);
  if (text === null) {
    if (!nullable) throw new Error(`${name} is NULL`);
    return null;
  }
  switch (kind) {
    case "string":
      return text;
    case "timestamp": {
      const time = Date.parse(text);
      if (Number.isNaN(time)) throw new Error(`${name} is not a time: ${text.slice(0, 40)}`);
      return BigInt(time);
    }
    case "double":
    case "float": {
      const value = Number(text);
      if (Number.isNaN(value) && text !== "NaN") throw new Error(`${name} is not a number: ${text.slice(0, 40)}`);
      return value;
    }
    case "boolean":
      if (text !== "t" && text !== "f") throw new Error(`${name} is not a boolean: ${text.slice(0, 40)}`);
      return text === "t";
    case "bigint":
      if (!/^-?\d+$/.test(text)) throw new Error(`${name} is not an integer: ${text.slice(0, 40)}`);
      return BigInt(text);
  }
}
