/**
 * Metric names, labels and buckets: the contract between the service (which emits them), the dashboards and
 * alert rules (which query them) and the constructs (which scrape them). Prometheus conventions: `_total`
 * counters, `_seconds` units, low-cardinality labels.
 */

/** Labels every model metric carries, so stable, canary and shadow compare side by side. */
export const MODEL_LABELS = ["model", "version", "variant"] as const;

export const METRICS = {
  // --- RED, per prediction -------------------------------------------------------------------------------
  /** Counter {model,version,variant,outcome}; outcome is one of PREDICTION_OUTCOMES (every task). */
  predictionsTotal: "predictions_total",
  /** Histogram {model,version,variant}: model time per record, queueing included. */
  predictionLatencySeconds: "prediction_latency_seconds",
  /**
   * Histogram {model,version,variant}: binary = positive-class probability; multiclass = the predicted class's
   * probability (the model's confidence). Not emitted for regression or tensor models.
   */
  predictionProbability: "prediction_probability",
  /** Counter {model,version,variant,class}: multiclass (and binary) answers per predicted class. */
  predictionClassTotal: "prediction_class_total",
  /**
   * Histogram {model,version,variant}: regression = the predicted value, with buckets taken from the version's
   * training distribution (stored with the model), so each model's histogram resolves its own range.
   */
  predictionValue: "prediction_value",
  /** Histogram {model,version,variant}: tensor models = L2 norm of the first output, per row. */
  predictionOutputNorm: "prediction_output_norm",
  /** Counter {model,variant,reason}: answers given by the configured fallback instead of the model. */
  predictionsFallbackTotal: "predictions_fallback_total",
  /** Counter {model,variant,reason}: requests refused with 503 (load shedding, no fallback configured). */
  predictionsRejectedTotal: "predictions_rejected_total",

  // --- model lifecycle ----------------------------------------------------------------------------------------
  /** Gauge {model,variant}: 1 when a model is loaded and warmed, else 0. */
  modelLoaded: "model_loaded",
  /**
   * Gauge {model,version,alias,run_id,variant,task,execution_provider} = 1 for the version being served; task is
   * one of TASKS, execution_provider one of EXECUTION_PROVIDERS (the provider that ran the graph's nodes).
   */
  modelInfo: "model_info",
  /** Counter {model,variant,result}: result is one of RELOAD_RESULTS. */
  modelReloadsTotal: "model_reloads_total",

  // --- HTTP -------------------------------------------------------------------------------------------------------
  /**
   * Counter {method,route,status_code,protocol}; route is the route template, never the raw URL. protocol is
   * `http` or `grpc` (PROTOCOLS): a gRPC call is counted as the HTTP/2 POST it is, route = its method path
   * (GRPC_METHODS), status_code = the HTTP status its gRPC code maps to (GRPC_HTTP_STATUS), so 5xx ratios
   * cover both protocols.
   */
  httpRequestsTotal: "http_requests_total",
  /** Histogram {method,route,status_code,protocol}. */
  httpRequestDurationSeconds: "http_request_duration_seconds",
  /** Counter {reason}: connections the HTTP layer closed to protect the service; reason is one of HTTP_DROP_REASONS. */
  httpConnectionsDroppedTotal: "http_connections_dropped_total",

  // --- micro-batching ----------------------------------------------------------------------------------------------
  /** Histogram {model,variant}: records per ONNX Runtime run. */
  inferenceBatchSize: "inference_batch_size",
  /** Histogram {model,variant}: time a record waited in the batch queue. */
  inferenceQueueWaitSeconds: "inference_queue_wait_seconds",
  /** Gauge {model,variant}: records waiting for a batch slot. */
  inferenceQueueDepth: "inference_queue_depth",
  /** prom-client default metric: event-loop delay p99 (seconds). */
  eventLoopLagP99Seconds: "nodejs_eventloop_lag_p99_seconds",
  /** prom-client default metric: resident memory of the process (bytes). */
  processResidentMemoryBytes: "process_resident_memory_bytes",
  /** prom-client default metric: user + system CPU time (counter, seconds). */
  processCpuSecondsTotal: "process_cpu_seconds_total",

  // --- prediction log ---------------------------------------------------------------------------------------------
  /** Counter: rows inserted into the table by this replica (from the queue and from spill replay). */
  predictionLogWrittenTotal: "prediction_log_written_total",
  /** Counter: entries written to the local spill file because the queue was full or the service was stopping. */
  predictionLogSpilledTotal: "prediction_log_spilled_total",
  /** Counter: spilled entries read back and written to the table. */
  predictionLogReplayedTotal: "prediction_log_replayed_total",
  /** Counter {reason}: reason is one of PREDICTION_LOG_DROP_REASONS. Must stay 0 unless the spill disk is full. */
  predictionLogDroppedTotal: "prediction_log_dropped_total",
  /** Gauge: entries waiting in memory. */
  predictionLogQueueDepth: "prediction_log_queue_depth",
  /** Gauge: records in the local spill file not yet replayed. */
  predictionLogSpillDepth: "prediction_log_spill_depth",
  /** Gauge: bytes the local journal (queue and spill) holds on disk. */
  predictionLogSpillBytes: "prediction_log_spill_bytes",
  /** Gauge: PREDICTION_LOG_SPILL_MAX_BYTES, the cap on prediction_log_spill_bytes (entries beyond it are dropped). */
  predictionLogSpillLimitBytes: "prediction_log_spill_limit_bytes",
  /** Counter: failed writes to the spill directory (read-only, full, I/O error); entries then wait in memory. */
  predictionLogSpillErrorsTotal: "prediction_log_spill_errors_total",
  /** Histogram: one batch INSERT, successful or not (seconds). */
  predictionLogWriteDurationSeconds: "prediction_log_write_duration_seconds",

  // --- ground truth and business ------------------------------------------------------------------------------------
  /**
   * Counter {model,version,variant,outcome}: labelled predictions; outcome is one of FEEDBACK_OUTCOMES (binary
   * tp|fp|tn|fn, multiclass correct|incorrect, regression observed). Hit rate = (tp+tn+correct) / all.
   */
  modelFeedbackTotal: "model_feedback_total",
  /** Counter {model,version,variant,actual,predicted}: multiclass confusion counts (classes as the model names them). */
  modelConfusionTotal: "model_confusion_total",
  /** Counter {model,version,variant}: regression, sum of |actual - predicted| (MAE = rate(this) / rate(feedback)). */
  modelFeedbackAbsoluteErrorTotal: "model_feedback_absolute_error_total",
  /** Counter {model,version,variant}: regression, sum of (actual - predicted)^2 (RMSE = sqrt(rate(this) / rate(feedback))). */
  modelFeedbackSquaredErrorTotal: "model_feedback_squared_error_total",
  /** Counter {model,version,variant}: cost-matrix-weighted errors (classifiers), cost per unit of absolute error (regression). */
  modelBusinessCostTotal: "model_business_cost_total",
  /** Gauge {model,version}: classifiers, the hit rate (accuracy) the version scored at registration. */
  modelBaselineHitRate: "model_baseline_hit_rate",
  /** Gauge {model,version}: regression, the mean absolute error the version scored at registration. */
  modelBaselineMae: "model_baseline_mae",

  // --- drift job (pushed to the Pushgateway, job="drift", grouped by model) ------------------------------------------
  driftDatasetDrifted: "drift_dataset_drifted",
  driftShare: "drift_share",
  /** Gauge {model,column,method}. */
  driftColumnScore: "drift_column_score",
  /** Gauge {model,column}. */
  driftColumnDrifted: "drift_column_drifted",
  /** Gauge {model,dataset}: dataset is reference or current. */
  driftRows: "drift_rows",
  driftLastRunTimestampSeconds: "drift_last_run_timestamp_seconds",

  // --- online drift (in the service: recent requests of a version vs its reference sample, per feature) --------------
  /** Gauge {model,version,variant,column,method}: the last tested window's statistic (KS D, two-sample chi-squared). */
  onlineDriftStatistic: "online_drift_statistic",
  /** Gauge {model,version,variant,column,method}: its p-value. */
  onlineDriftPValue: "online_drift_p_value",
  /** Gauge {model,version,variant,column,method}: the p-value under which the feature drifts (1 / (ONLINE_DRIFT_FALSE_ALARM_WINDOWS x features)). */
  onlineDriftThreshold: "online_drift_threshold",
  /** Gauge {model,version,variant,column}: 1 when the last tested window drifted, else 0. */
  onlineDriftDrifted: "online_drift_drifted",
  /** Counter {model,version,variant,column}: windows tested. */
  onlineDriftWindowsTotal: "online_drift_windows_total",
  /** Counter {model,version,variant,column}: tested windows that drifted. */
  onlineDriftDriftedWindowsTotal: "online_drift_drifted_windows_total",
  /** Gauge {model,version,variant,column}: when the feature last drifted (0: not since the version loaded). */
  onlineDriftLastDriftTimestampSeconds: "online_drift_last_drift_timestamp_seconds",
  /** Gauge {model,version,variant}: when the last window was tested. */
  onlineDriftLastEvaluationTimestampSeconds: "online_drift_last_evaluation_timestamp_seconds",
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** positive/negative: binary answers; predicted: an answer of any other task; fallback and error as before. */
export const PREDICTION_OUTCOMES = ["positive", "negative", "predicted", "fallback", "error"] as const;
/** tp/fp/tn/fn: binary; correct/incorrect: multiclass; observed: a regression label (its error is in the sums). */
export const FEEDBACK_OUTCOMES = ["tp", "fp", "tn", "fn", "correct", "incorrect", "observed"] as const;
/**
 * Why the HTTP layer closed a connection: `max_connections` = HTTP_MAX_CONNECTIONS were open, the new one was
 * closed on arrival; `pipelining` = more than HTTP_MAX_PIPELINED_REQUESTS requests in progress on it (429);
 * `request_timeout` = its headers or body did not arrive in time (408); `connection_timeout` = silent too long
 * with a request open; `malformed` = not parseable as HTTP (400, 431).
 */
export const HTTP_DROP_REASONS = ["max_connections", "pipelining", "request_timeout", "connection_timeout", "malformed"] as const;
export type HttpDropReason = (typeof HTTP_DROP_REASONS)[number];
/**
 * Why a prediction-log entry was lost:
 * - `spill_full`: the local journal reached PREDICTION_LOG_SPILL_MAX_BYTES (the sink has been down or slow long
 *   enough to fill it); new entries are dropped instead of the pod being evicted for its emptyDir;
 * - `spill_write_failed`: the spill directory failed (read-only, full, I/O error) and the in-memory stand-in was
 *   full too;
 * - `spill_unreadable`: a journal line found torn at start (a machine crash mid-write);
 * - `lost`: entries a previous run of this replica accepted that are missing from its journal, found at start
 *   from gaps in the per-replica seq (a machine crash lost unsynced writes, or entries held in memory while the
 *   spill directory was failing);
 * - `rejected`: the row itself cannot be stored (the database refuses it, e.g. a NUL character in a feature
 *   string, which jsonb cannot hold).
 */
export const PREDICTION_LOG_DROP_REASONS = ["spill_full", "spill_write_failed", "spill_unreadable", "lost", "rejected"] as const;
/**
 * Why a prediction was answered by the fallback (or refused with 503): `shed` = refused on arrival because the
 * work queued ahead would keep it past its deadline; `timeout` = its deadline passed while it waited or ran;
 * `queue_full` = MAX_QUEUE records were already waiting; `model_unavailable` = no version loaded yet.
 */
export const FALLBACK_REASONS = ["shed", "timeout", "queue_full", "model_unavailable"] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/**
 * `result` of model_reloads_total: a version swapped in, a check or load that failed (registry down, download
 * stalled, corrupt artifact; retried with backoff), or a load abandoned because the alias moved on meanwhile.
 */
export const RELOAD_RESULTS = ["success", "failure", "superseded"] as const;
export type ReloadResult = (typeof RELOAD_RESULTS)[number];

/** Label naming the feature of a drift series, batch and online alike. */
export const DRIFT_COLUMN_LABEL = "column";
/** Label naming the test of a drift series (ks, chisquare, ...). */
export const DRIFT_METHOD_LABEL = "method";
/**
 * gRPC status code (by number) -> the HTTP status the `status_code` label carries for a gRPC call: the mapping
 * google/rpc/code.proto documents for each code (CANCELLED as 499, "client closed request").
 */
export const GRPC_HTTP_STATUS: Readonly<Record<number, number>> = {
  0: 200, // OK
  1: 499, // CANCELLED
  2: 500, // UNKNOWN
  3: 400, // INVALID_ARGUMENT
  4: 504, // DEADLINE_EXCEEDED
  5: 404, // NOT_FOUND
  6: 409, // ALREADY_EXISTS
  7: 403, // PERMISSION_DENIED
  8: 429, // RESOURCE_EXHAUSTED
  9: 400, // FAILED_PRECONDITION
  10: 409, // ABORTED
  11: 400, // OUT_OF_RANGE
  12: 501, // UNIMPLEMENTED
  13: 500, // INTERNAL
  14: 503, // UNAVAILABLE
  15: 500, // DATA_LOSS
  16: 401, // UNAUTHENTICATED
};

/**
 * Where ONNX Runtime runs a version's graph (EXECUTION_PROVIDER), and the `execution_provider` label of
 * model_info: the provider that actually ran the graph's nodes, checked at load (a GPU provider that runs none of
 * them makes the version not ready rather than serving on CPU unnoticed).
 */
export const EXECUTION_PROVIDERS = ["cpu", "cuda", "tensorrt"] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** Pushgateway job name of the drift CronJob. */
export const DRIFT_JOB_NAME = "drift";

/** 1 ms .. 2.5 s: covers a µs-scale tree model and a slow GPU batch alike. */
export const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
] as const;
/** 0.05 steps. */
export const PROBABILITY_BUCKETS = Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100);
/**
 * prediction_value buckets of a regressor that stores none with the model (MLmodel metadata
 * `modelport.value_buckets`, from its training target distribution): symmetric powers of ten.
 */
export const DEFAULT_VALUE_BUCKETS = [-1000, -100, -10, -1, 0, 1, 10, 100, 1000, 10000] as const;
/** prediction_output_norm buckets: L2 norms from a unit vector's 1 to large activations, in powers of two. */
export const OUTPUT_NORM_BUCKETS = [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024] as const;
/**
 * Classes beyond which a classifier's per-class series (prediction_class_total, model_confusion_total) are not
 * emitted: K classes make K and K^2 series.
 */
export const MAX_CLASS_LABEL_VALUES = 100;
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;
export const QUEUE_WAIT_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] as const;

/** NVIDIA DCGM exporter metrics used by the GPU dashboard and alerts. */
export const DCGM_METRICS = {
  gpuUtil: "DCGM_FI_DEV_GPU_UTIL",
  fbUsed: "DCGM_FI_DEV_FB_USED",
  fbFree: "DCGM_FI_DEV_FB_FREE",
  gpuTemp: "DCGM_FI_DEV_GPU_TEMP",
  powerUsage: "DCGM_FI_DEV_POWER_USAGE",
  xidErrors: "DCGM_FI_DEV_XID_ERRORS",
} as const;
export const DCGM_EXPORTER_PORT = 9400;
