/**
 * The two streams' rows as journal lines (COPY text, fields in contract order, seq last and added by the
 * journal): predictions (PREDICTION_LOG_COLUMNS) and, for the object-storage sink, ground truth (FEEDBACK_COLUMNS
 * plus the prediction's model and version, which place the row in its partition, and replica and seq).
 */
import { FEEDBACK_COLUMNS as F, PARQUET_LOG, PREDICTION_LOG_COLUMNS as P, type PredictionLogEntry } from "../contract";
import { booleanField, jsonField, millisecondsField, numberField, NULL_FIELD, outputField, textField } from "./copy-text";
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
    `${textField(entry.predictionId)}\t${served(entry.modelName, entry.modelVersion, entry.variant)}\t` +
    `${isoTime(entry.createdAt)}\t${textField(entry.task)}\t${jsonField(JSON.stringify(entry.features))}\t` +
    `${outputField(entry.probability)}\t${label}\t${outputField(entry.value)}\t${latency(entry.latencyMs)}\t` +
    `${booleanField(entry.fallback)}\t${replica}`
  );
}

// On the request path consecutive entries share their model, version and variant, a micro-batch's entries
// their latency, and at thousands of requests a second their createdAt millisecond: the last fields are kept
// instead of escaped and formatted again for every entry (toISOString alone was ~1 µs an entry).
let lastServed: { model: string; version: string; variant: string; fields: string } | undefined;
let lastTime: { ms: number; iso: string } | undefined;
let lastLatency: { ms: number; field: string } | undefined;

/** The model_name, model_version and variant fields. */
function served(model: string, version: string, variant: string): string {
  const last = lastServed;
  if (last && last.model === model && last.version === version && last.variant === variant) return last.fields;
  const fields = `${textField(model)}\t${textField(version)}\t${textField(variant)}`;
  lastServed = { model, version, variant, fields };
  return fields;
}

function latency(ms: number): string {
  const last = lastLatency;
  if (last && last.ms === ms) return last.field;
  const field = millisecondsField(ms);
  lastLatency = { ms, field };
  return field;
}

function isoTime(date: Date): string {
  const ms = date.getTime();
  const last = lastTime;
  if (last && last.ms === ms) return last.iso;
  const iso = date.toISOString(); // throws on an invalid Date (ms NaN, never cached): the entry is refused, counted
  lastTime = { ms, iso };
  return iso;
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
