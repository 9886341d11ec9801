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
  /** Most object keys a JSON body may hold: counted before parsing, since parsing 100k keys costs ~100 ms of the loop. */
  bodyMaxKeys: "BODY_MAX_KEYS",
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
  /** Multiclass: cost of one misclassification (version tag cost_misclassification overrides it). */
  costMisclassification: "COST_MISCLASSIFICATION",
  /** Regression: cost of one unit of absolute error (version tag cost_per_unit_error overrides it). */
  costPerUnitError: "COST_PER_UNIT_ERROR",
  baselineMetric: "BASELINE_METRIC",
  /** Values per feature in an online drift window; 0 turns online drift off. */
  onlineDriftWindow: "ONLINE_DRIFT_WINDOW",
  /** Expected windows between two false alarms of online drift on traffic that has not drifted. */
  onlineDriftFalseAlarmWindows: "ONLINE_DRIFT_FALSE_ALARM_WINDOWS",
  /** Shortest time between two online drift evaluations. */
  onlineDriftIntervalSeconds: "ONLINE_DRIFT_INTERVAL_SECONDS",
  podName: "POD_NAME",
  pushgatewayUrl: "PUSHGATEWAY_URL",
  awsRegion: "AWS_REGION",
  /** The AWS SDK's standard endpoint settings (S3-specific first), e.g. an S3-compatible server; path-style then. */
  awsEndpointUrlS3: "AWS_ENDPOINT_URL_S3",
  awsEndpointUrl: "AWS_ENDPOINT_URL",
  /** Set by Kubernetes in each pod of an Indexed Job: the batch scorer's default shard index. */
  jobCompletionIndex: "JOB_COMPLETION_INDEX",
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
