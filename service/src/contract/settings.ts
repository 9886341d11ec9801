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
  /** Time for a whole request (headers and body) to arrive; slower clients get 408 and are disconnected. */
  httpRequestTimeoutMs: "HTTP_REQUEST_TIMEOUT_MS",
  /** Time for the request headers to arrive (a connection that sends nothing counts from its start). */
  httpHeadersTimeoutMs: "HTTP_HEADERS_TIMEOUT_MS",
  /** A connection silent this long while a request is open is closed (above REQUEST_TIMEOUT_MS). */
  httpConnectionTimeoutMs: "HTTP_CONNECTION_TIMEOUT_MS",
  /** Open connections accepted at once; more are closed on arrival. Default: the open-file limit less a reserve. */
  httpMaxConnections: "HTTP_MAX_CONNECTIONS",
  /** Requests in progress on one connection (HTTP/1.1 pipelining); the next gets 429 and the connection closes. */
  httpMaxPipelinedRequests: "HTTP_MAX_PIPELINED_REQUESTS",
  shutdownGraceSeconds: "SHUTDOWN_GRACE_SECONDS",
  shutdownDelaySeconds: "SHUTDOWN_DELAY_SECONDS",
  costFalsePositive: "COST_FALSE_POSITIVE",
  costFalseNegative: "COST_FALSE_NEGATIVE",
  baselineMetric: "BASELINE_METRIC",
  podName: "POD_NAME",
  pushgatewayUrl: "PUSHGATEWAY_URL",
  awsRegion: "AWS_REGION",
} as const;

/**
 * How long the service keeps an idle keep-alive connection: above the 60 s idle timeout of cloud load balancers
 * and of the pod's sidecar (InferenceService sets it below this), so the peer always closes first and never
 * sends a request on a connection the service is closing.
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** Where the embedded demo model lives, relative to the repository (and image) root. */
export const EMBEDDED_MODEL_DIR = "service/models/flight-delay";
export const EMBEDDED_MODEL_NAME = "flight-delay";
/** The compute-heavy variant for the batching benchmark (`npm run model:build -- --heavy`; git-ignored). */
export const HEAVY_MODEL_DIR = `${EMBEDDED_MODEL_DIR}-heavy`;
