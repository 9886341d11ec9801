/**
 * Scoring with a leased model version the one way every caller does it, independent of the transport (HTTP
 * routes, V2, the shadow; batch scoring and gRPC later): the deadline, the task's fallback on overload (when one
 * is configured), the task's prediction metrics and the prediction log. Overloaded without a fallback it rejects
 * with ScoringRejectedError, counted in predictions_rejected_total; the caller answers 503.
 */
import type { PredictionLogEntry, Variant } from "../contract";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { NewPredictionId, Prediction, TaskSeries } from "../tasks/task";
import { newPredictionId } from "./prediction-id";
import type { LoadedModel } from "./model-manager";
import type { TensorMap } from "./tensors";
import { ModelRunError, ScoringRejectedError, type FeatureRecord, type TensorRequest } from "./types";

export interface PredictorOptions {
  readonly variant: Variant;
  readonly metrics: ServiceMetrics;
  /** Deadline per request, counted from its arrival (`receivedAt`). */
  readonly requestTimeoutMs: number;
  /** Hands each answered prediction to the prediction log (must not block or throw). */
  readonly recordPrediction?: (entry: PredictionLogEntry) => void;
  /** Sees every validated record scored with a version, before it is scored (online drift; must not block or throw). */
  readonly observeRecords?: (model: LoadedModel, records: readonly FeatureRecord[]) => void;
  /**
   * Names each prediction. Batch scoring names its rows itself (deterministic ids) and passes one that returns
   * "", sparing an id per row. @default newPredictionId (UUIDv7)
   */
  readonly newPredictionId?: NewPredictionId;
}

/**
 * When a request arrived (performance.now() time), or that and a deadline of its own (a gRPC call's): the
 * request is answered by REQUEST_TIMEOUT_MS after its arrival, or by its own deadline when that comes first.
 */
export type Arrival = number | { readonly receivedAt: number; readonly deadline: number };

export interface InferResult {
  readonly predictions: Prediction[];
  /** The answer's tensors: the graph's outputs (classifiers' label output set to the served decision), or the fallback's. */
  readonly tensors: TensorMap;
}

export interface Predictor {
  /** One prediction per record (a tabular version), answered within the deadline `arrival` sets. */
  records(model: LoadedModel, records: readonly FeatureRecord[], arrival: Arrival): Promise<Prediction[]>;
  /**
   * One prediction per row of a tensor request, and the output tensors named in `outputs`. `records` are the
   * request's rows as named columns when the version has a column contract (they are what is logged).
   */
  tensors(model: LoadedModel, request: TensorRequest, outputs: readonly string[], arrival: Arrival, records?: readonly FeatureRecord[]): Promise<InferResult>;
}

const NO_FEATURES: FeatureRecord = Object.freeze({});

export function createPredictor(options: PredictorOptions): Predictor {
  const { variant, metrics, requestTimeoutMs } = options;
  const newId = options.newPredictionId ?? newPredictionId;
  const deadlineOf = (arrival: Arrival) =>
    typeof arrival === "number" ? arrival + requestTimeoutMs : Math.min(arrival.receivedAt + requestTimeoutMs, arrival.deadline);
  const series = new WeakMap<LoadedModel, TaskSeries>();
  const seriesFor = (model: LoadedModel): TaskSeries => {
    let s = series.get(model);
    if (!s) series.set(model, (s = model.task.series(metrics, { model: model.identity.name, version: model.identity.version, variant })));
    return s;
  };

  /** Counts a failed run; returns the fallback's predictions, or rethrows (counted) when there is none. */
  function overloaded(model: LoadedModel, s: TaskSeries, error: unknown, rows: number, canFallBack: boolean): Prediction[] {
    // The request's data, not the model: a 400 for the caller, not an error of the model (which pages).
    if (error instanceof ModelRunError) throw error;
    if (!(error instanceof ScoringRejectedError)) {
      s.error.inc(rows);
      throw error;
    }
    const fallback = canFallBack ? model.task.fallback : undefined;
    if (!fallback) {
      metrics.rejected.inc({ model: model.identity.name, variant, reason: error.reason });
      throw error;
    }
    metrics.fallbacks.inc({ model: model.identity.name, variant, reason: error.reason }, rows);
    s.fallback.inc(rows);
    return Array.from({ length: rows }, () => ({ prediction_id: newId(), ...fallback }));
  }

  function log(model: LoadedModel, records: readonly FeatureRecord[] | undefined, predictions: readonly Prediction[], latencyMs: number): void {
    const record = options.recordPrediction;
    if (!record) return;
    const createdAt = new Date();
    const task = model.task.task;
    for (let i = 0; i < predictions.length; i++) {
      const p = predictions[i]!;
      record({
        predictionId: p.prediction_id,
        modelName: model.identity.name,
        modelVersion: model.identity.version,
        variant,
        createdAt,
        task,
        features: records?.[i] ?? NO_FEATURES,
        probability: p.probability,
        label: p.label,
        value: p.value,
        latencyMs,
        fallback: p.fallback,
      });
    }
  }

  return {
    async records(model, records, arrival) {
      options.observeRecords?.(model, records);
      const s = seriesFor(model);
      const started = performance.now();
      let predictions: Prediction[];
      try {
        const rows = await model.scorer.score(records, { deadline: deadlineOf(arrival) });
        predictions = model.task.fromRows(rows, records.length, s, (performance.now() - started) / 1000, newId);
      } catch (error) {
        predictions = overloaded(model, s, error, records.length, true);
      }
      log(model, records, predictions, performance.now() - started);
      return predictions;
    },

    async tensors(model, request, outputs, arrival, records) {
      if (records) options.observeRecords?.(model, records);
      const s = seriesFor(model);
      const started = performance.now();
      let result: InferResult;
      try {
        const graphOutputs = await model.scorer.run(request, { deadline: deadlineOf(arrival) });
        const predictions = model.task.fromOutputs(graphOutputs, request.rows, s, (performance.now() - started) / 1000, newId);
        result = { predictions, tensors: model.task.answerTensors(graphOutputs, predictions) };
      } catch (error) {
        // A fallback answer must hold every output asked for; when the task cannot make one up, it is a 503.
        const tensors = error instanceof ScoringRejectedError ? model.task.fallbackTensors?.(outputs, request.rows) : undefined;
        const predictions = overloaded(model, s, error, request.rows, tensors !== undefined);
        result = { predictions, tensors: tensors! };
      }
      log(model, records, result.predictions, performance.now() - started);
      return result;
    },
  };
}
