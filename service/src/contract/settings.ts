/**
 * Environment variables the service and the drift job read: shared with the constructs that set them, so a
 * renamed variable cannot silently stop being set. Parsing and validation live in service/src/config.ts.
 */
export const ENV = {
  port: "PORT",
  host: "HOST",
  logLevel: "LOG_LEVEL",
  modelUri: "MODEL_URI",
  modelVariant: "MODEL_VARIANT",
  modelPollIntervalSeconds: "MODEL_POLL_INTERVAL_SECONDS",
  modelCacheDir: "MODEL_CACHE_DIR",
  mlflowTrackingUri: "MLFLOW_TRACKING_URI",
  mlflowTrackingToken: "MLFLOW_TRACKING_TOKEN",
  mlflowTrackingUsername: "MLFLOW_TRACKING_USERNAME",
  mlflowTrackingPassword: "MLFLOW_TRACKING_PASSWORD",
  mlflowS3EndpointUrl: "MLFLOW_S3_ENDPOINT_URL",
  predictionLogUrl: "PREDICTION_LOG_URL",
  predictionLogSampleRate: "PREDICTION_LOG_SAMPLE_RATE",
  predictionLogSpillDir: "PREDICTION_LOG_SPILL_DIR",
  /** Bytes the local journal (spill) may hold; beyond it new entries are dropped and counted, never an eviction. */
  predictionLogSpillMaxBytes: "PREDICTION_LOG_SPILL_MAX_BYTES",
  /** fdatasync interval of the local journal (0: leave write-back to the kernel). */
  predictionLogFsyncIntervalMs: "PREDICTION_LOG_FSYNC_INTERVAL_MS",
  /** s3:// sink: a Parquet file is rolled after this many bytes of rows (uncompressed) ... */
  predictionLogRollBytes: "PREDICTION_LOG_ROLL_BYTES",
  /** ... or this many seconds after its first row, whichever comes first. */
  predictionLogRollSeconds: "PREDICTION_LOG_ROLL_SECONDS",
  /** Days of prediction-log partitions (and feedback) kept; older ones are dropped by the hourly maintenance. */
  predictionLogRetentionDays: "PREDICTION_LOG_RETENTION_DAYS",
  shadowModelUri: "SHADOW_MODEL_URI",
  shadowSampleRate: "SHADOW_SAMPLE_RATE",
  batchMaxSize: "BATCH_MAX_SIZE",
  batchMaxWaitMs: "BATCH_MAX_WAIT_MS",
  inferenceWorkers: "INFERENCE_WORKERS",
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
  baselineMetric: "BASELINE_METRIC",
  podName: "POD_NAME",
  pushgatewayUrl: "PUSHGATEWAY_URL",
  awsRegion: "AWS_REGION",
  /** The AWS SDK's standard endpoint settings (S3-specific first), e.g. an S3-compatible server; path-style then. */
  awsEndpointUrlS3: "AWS_ENDPOINT_URL_S3",
  awsEndpointUrl: "AWS_ENDPOINT_URL",
} as const;

/** Where the embedded demo model lives, relative to the repository (and image) root. */
export const EMBEDDED_MODEL_DIR = "service/models/flight-delay";
export const EMBEDDED_MODEL_NAME = "flight-delay";
/** The compute-heavy variant for the batching benchmark (`npm run model:build -- --heavy`; git-ignored). */
export const HEAVY_MODEL_DIR = `${EMBEDDED_MODEL_DIR}-heavy`;
