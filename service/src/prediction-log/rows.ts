/**
 * The two streams' rows as journal lines (COPY text, fields in contract order, seq last and added by the
 * journal): predictions (PREDICTION_LOG_COLUMNS) and, for the object-storage sink, ground truth (FEEDBACK_COLUMNS
 * plus the prediction's model and version, which place the row in its partition, and replica and seq).
 */
import { FEEDBACK_COLUMNS as F, PARQUET_LOG, PREDICTION_LOG_COLUMNS as P, type PredictionLogEntry } from "../contract";
import { booleanField, jsonField, numberField, NULL_FIELD, textField } from "./copy-text";
import { actualLabel, actualValue, type FeedbackActual } from "./feedback";

/** Prediction lines: the table's columns, seq last. */
export const PREDICTION_LINE_COLUMNS: readonly string[] = [
  P.predictionId,
  P.modelName,
  P.modelVersion,
  P.variant,
  P.createdAt,
  P.task,
  P.features,
  P.probability,
  P.label,
  P.value,
  P.latencyMs,
  P.fallback,
  P.replica,
  P.seq,
];

/** Feedback-stream lines (object-storage sink). */
export const FEEDBACK_LINE_COLUMNS: readonly string[] = [
  F.predictionId,
  F.actual,
  F.actualValue,
  F.receivedAt,
  P.modelName,
  P.modelVersion,
  PARQUET_LOG.feedbackStreamColumns.replica,
  PARQUET_LOG.feedbackStreamColumns.seq,
];

/**
 * One prediction as a line without its seq; `replica` is already a field (textField). Throws on what cannot be
 * stored (an invalid Date, features JSON.stringify refuses): the caller counts it as rejected.
 */
export function predictionLine(entry: PredictionLogEntry, replica: string): string {
  const label = entry.label === null || entry.label === undefined ? NULL_FIELD : textField(String(entry.label));
  return (
    `${textField(entry.predictionId)}\t${textField(entry.modelName)}\t${textField(entry.modelVersion)}\t${textField(entry.variant)}\t` +
    `${entry.createdAt.toISOString()}\t${textField(entry.task)}\t${jsonField(JSON.stringify(entry.features))}\t` +
    `${numberField(entry.probability)}\t${label}\t${numberField(entry.value)}\t${numberField(entry.latencyMs)}\t` +
    `${booleanField(entry.fallback)}\t${replica}`
  );
}

/** Ground truth for the object-storage sink's feedback stream. */
export interface FeedbackRecord {
  readonly predictionId: string;
  readonly actual: FeedbackActual;
  readonly receivedAt: Date;
  /** The prediction's model and version when known (partition), else the served model and PARQUET_LOG.unknownVersion. */
  readonly model: string;
  readonly version: string;
}

export function feedbackLine(record: FeedbackRecord, replica: string): string {
  const label = actualLabel(record.actual);
  return (
    `${textField(record.predictionId)}\t${label === null ? NULL_FIELD : textField(label)}\t${numberField(actualValue(record.actual))}\t` +
    `${record.receivedAt.toISOString()}\t${textField(record.model)}\t${textField(record.version)}\t${replica}`
  );
}
