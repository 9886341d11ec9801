/**
 * HTTP routes and ports of the inference service: a contract shared by the service, the constructs (probes,
 * ServiceMonitor, VirtualService) and the runbooks. Change a path here and every consumer follows.
 */
export const ROUTES = {
  /** Process is up (liveness). Never depends on the model. */
  healthz: "/healthz",
  /** Model loaded and warmed (readiness). 503 with a reason otherwise. */
  readyz: "/readyz",
  predict: "/predict",
  predictBatch: "/predict/batch",
  /** Model metadata and lineage (registry version, run id, git commit, dataset). */
  model: "/model",
  feedback: "/feedback",
  metrics: "/metrics",
  /** Open Inference Protocol (KServe V2) REST. */
  v2: {
    server: "/v2",
    live: "/v2/health/live",
    ready: "/v2/health/ready",
    model: "/v2/models/:name",
    modelVersion: "/v2/models/:name/versions/:version",
    modelReady: "/v2/models/:name/ready",
    modelVersionReady: "/v2/models/:name/versions/:version/ready",
    infer: "/v2/models/:name/infer",
    inferVersion: "/v2/models/:name/versions/:version/infer",
  },
} as const;

/** Container port the service listens on (PORT overrides it outside Kubernetes). */
export const SERVICE_PORT = 8080;
/** Kubernetes port name used by Service, ServiceMonitor and probes. */
export const SERVICE_PORT_NAME = "http";

/** Container port of the Open Inference Protocol over gRPC (GRPC_PORT overrides it outside Kubernetes). */
export const GRPC_PORT = 8081;
/** Kubernetes port name (and appProtocol) of the gRPC port: Istio routes a `grpc` port as HTTP/2. */
export const GRPC_PORT_NAME = "grpc";

/** The Open Inference Protocol's gRPC service (package `inference`, service/src/grpc/open_inference_grpc.proto). */
export const GRPC_SERVICE = "inference.GRPCInferenceService";
/** Its methods, as the `route` label of the request metrics carries them: the HTTP/2 :path of the call. */
export const GRPC_METHODS = {
  serverLive: `/${GRPC_SERVICE}/ServerLive`,
  serverReady: `/${GRPC_SERVICE}/ServerReady`,
  modelReady: `/${GRPC_SERVICE}/ModelReady`,
  serverMetadata: `/${GRPC_SERVICE}/ServerMetadata`,
  modelMetadata: `/${GRPC_SERVICE}/ModelMetadata`,
  modelInfer: `/${GRPC_SERVICE}/ModelInfer`,
} as const;

/** `protocol` label of http_requests_total / http_request_duration_seconds. */
export const PROTOCOLS = ["http", "grpc"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Model variants a deployment can run as; `variant` label on every model metric. */
export const VARIANTS = ["stable", "canary", "shadow"] as const;
export type Variant = (typeof VARIANTS)[number];

/** Header that pins a request to a variant through the mesh (testing a canary before it takes weight). */
export const VARIANT_HEADER = "x-model-variant";
/** Header carrying the caller's request id; echoed back and used as the log correlation id. */
export const REQUEST_ID_HEADER = "x-request-id";
