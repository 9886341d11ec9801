/**
 * Environment variables the service and the drift job read: shared with the constructs that set them, so a
 * renamed variable cannot silently stop being set. Parsing and validation live in service/src/config.ts.
 */
export const ENV = {
  port: "PORT",
  host: "HOST",
  /** Port of the Open Inference Protocol over gRPC (same HOST). */
  grpcPort: "GRPC_PORT",
  /** Largest gRPC message received; larger ones are refused with RESOURCE_EXHAUSTED. */
  grpcMaxMessageBytes: "GRPC_MAX_MESSAGE_BYTES",
  logLevel: "LOG_LEVEL",
  modelUri: "MODEL_URI",
  modelVariant: "MODEL_VARIANT",
  modelPollIntervalSeconds: "MODEL_POLL_INTERVAL_SECONDS",
  modelCacheDir: "MODEL_CACHE_DIR",
  /** TCP (and TLS) connect timeout of an artifact download. */
  modelDownloadConnectTimeoutSeconds: "MODEL_DOWNLOAD_CONNECT_TIMEOUT_SECONDS",
  /** Wait for a download's first byte, plus the listed size at the minimum rate (the proxy copies the file first). */
  modelDownloadFirstByteTimeoutSeconds: "MODEL_DOWNLOAD_FIRST_BYTE_TIMEOUT_SECONDS",
  /** Longest gap between two chunks of a download. */
  modelDownloadIdleTimeoutSeconds: "MODEL_DOWNLOAD_IDLE_TIMEOUT_SECONDS",
  /** Slowest transfer accepted, averaged over each rate window; also scales the first-byte wait and the deadline. */
  modelDownloadMinBytesPerSecond: "MODEL_DOWNLOAD_MIN_BYTES_PER_SECOND",
  modelDownloadRateWindowSeconds: "MODEL_DOWNLOAD_RATE_WINDOW_SECONDS",
  /** Largest model directory (sum of its listed files) downloaded. */
  modelDownloadMaxBytes: "MODEL_DOWNLOAD_MAX_BYTES",
  mlflowTrackingUri: "MLFLOW_TRACKING_URI",
  mlflowTrackingToken: "MLFLOW_TRACKING_TOKEN",
  mlflowTrackingUsername: "MLFLOW_TRACKING_USERNAME",
  mlflowTrackingPassword: "MLFLOW_TRACKING_PASSWORD",
  mlflowS3EndpointUrl: "MLFLOW_S3_ENDPOINT_URL",
  predictionLogUrl: "PREDICTION_LOG_URL",
  predictionLogSampleRate: "PREDICTION_LOG_SAMPLE_RATE",
  predictionLogSpillDir: "PREDICTION_LOG_SPILL_DIR",
  /** Days of prediction-log partitions (and feedback) kept; older ones are dropped by the hourly maintenance. */
  predictionLogRetentionDays: "PREDICTION_LOG_RETENTION_DAYS",
  shadowModelUri: "SHADOW_MODEL_URI",
  shadowSampleRate: "SHADOW_SAMPLE_RATE",
  batchMaxSize: "BATCH_MAX_SIZE",
  batchMaxWaitMs: "BATCH_MAX_WAIT_MS",
  inferenceWorkers: "INFERENCE_WORKERS",
  /** cpu | cuda | tensorrt: where ONNX Runtime runs the graph; a GPU provider that cannot serve makes the version not ready. */
  executionProvider: "EXECUTION_PROVIDER",
  /** GPU ordinal for cuda / tensorrt (within the GPUs the container sees). */
  executionProviderDeviceId: "EXECUTION_PROVIDER_DEVICE_ID",
  /** Provider options as key=value pairs in onnxruntime's own names (device_id, gpu_mem_limit, ...). */
  executionProviderOptions: "EXECUTION_PROVIDER_OPTIONS",
  requestTimeoutMs: "REQUEST_TIMEOUT_MS",
  maxQueue: "MAX_QUEUE",
  fallbackLabel: "FALLBACK_LABEL",
  fallbackProbability: "FALLBACK_PROBABILITY",
  maxBatchRecords: "MAX_BATCH_RECORDS",
  bodyLimitBytes: "BODY_LIMIT_BYTES",
  shutdownGraceSeconds: "SHUTDOWN_GRACE_SECONDS",
  shutdownDelaySeconds: "SHUTDOWN_DELAY_SECONDS",
  costFalsePositive: "COST_FALSE_POSITIVE",
  costFalseNegative: "COST_FALSE_NEGATIVE",
  /** Multiclass: cost of one misclassification (version tag cost_misclassification overrides it). */
  costMisclassification: "COST_MISCLASSIFICATION",
  /** Regression: cost of one unit of absolute error (version tag cost_per_unit_error overrides it). */
  costPerUnitError: "COST_PER_UNIT_ERROR",
  baselineMetric: "BASELINE_METRIC",
  podName: "POD_NAME",
  pushgatewayUrl: "PUSHGATEWAY_URL",
  awsRegion: "AWS_REGION",
} as const;

/** Where the embedded demo model lives, relative to the repository (and image) root. */
export const EMBEDDED_MODEL_DIR = "service/models/flight-delay";
export const EMBEDDED_MODEL_NAME = "flight-delay";
/** The compute-heavy variant for the batching benchmark (`npm run model:build -- --heavy`; git-ignored). */
export const HEAVY_MODEL_DIR = `${EMBEDDED_MODEL_DIR}-heavy`;
