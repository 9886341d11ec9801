/**
 * Environment -> typed configuration. Every variable is documented in README.md; a bad value stops start-up
 * with one line per offending variable saying what is wrong and what would be accepted.
 */
import { readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { EMBEDDED_MODEL_DIR, ENV, EXECUTION_PROVIDERS, GRPC_PORT, HTTP_KEEP_ALIVE_TIMEOUT_MS, SERVICE_PORT, VARIANTS, type ExecutionProviderName, type Variant } from "./contract";
import type { ExecutionProviderSettings } from "./model/execution-provider";
import { projectRoot } from "./paths";
import { DEFAULT_ONLINE_DRIFT, type OnlineDriftSettings } from "./online-drift/settings";
import { parseModelUri } from "./registry/model-uri";
import { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from "./registry/transfer";

export interface MlflowSettings {
  readonly trackingUri?: string;
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
  readonly s3EndpointUrl?: string;
}

export interface ServiceConfig {
  readonly port: number;
  readonly host: string;
  /** Open Inference Protocol over gRPC, on its own port of the same host. */
  readonly grpc: { readonly port: number; readonly maxMessageBytes: number };
  readonly logLevel: string;
  readonly model: {
    /** models:/name@alias, models:/name/stage, models:/name/version or a local directory. */
    readonly uri: string;
    readonly variant: Variant;
    readonly pollIntervalMs: number;
    readonly cacheDir: string;
    /** Limits of each artifact download and the largest model accepted (MODEL_DOWNLOAD_*). */
    readonly download: DownloadLimits;
  };
  readonly mlflow: MlflowSettings;
  readonly shadow?: { readonly uri: string; readonly sampleRate: number };
  readonly limits: { readonly bodyLimitBytes: number; readonly bodyMaxKeys: number; readonly maxBatchRecords: number };
  /** Protection of the HTTP layer against slow and abusive clients (service/src/http/). */
  readonly http: HttpLimits;
  readonly inference: {
    /** Records per ONNX Runtime run; 1 disables micro-batching. */
    readonly batchMaxSize: number;
    /** Longest a record waits for company while a run is in flight. */
    readonly batchMaxWaitMs: number;
    /** Worker threads running sessions; 0 runs inference on the event loop thread. */
    readonly workers: number;
    /** Per-request deadline for the model answer. */
    readonly requestTimeoutMs: number;
    /** Records allowed to wait; beyond it requests get the fallback or 503 at once. */
    readonly maxQueue: number;
    /** Where ONNX Runtime runs the graph (EXECUTION_PROVIDER*). */
    readonly executionProvider: ExecutionProviderSettings;
  };
  /** Answer given instead of the model on timeout or overload; undefined = 503 with Retry-After. */
  readonly fallback?: { readonly label: 0 | 1; readonly probability: number };
  readonly predictionLog: {
    /** postgres:// or s3:// */
    readonly url?: string;
    readonly sampleRate: number;
    readonly spillDir: string;
    /** Cap on the local journal's disk use. */
    readonly spillMaxBytes: number;
    readonly fsyncIntervalMs: number;
    /** s3:// sink: roll a Parquet file after this many bytes of rows, or this long after its first row. */
    readonly rollBytes: number;
    readonly rollIntervalMs: number;
    /** Days of daily partitions (and feedback) kept. */
    readonly retentionDays: number;
  };
  readonly costs: {
    readonly falsePositive: number;
    readonly falseNegative: number;
    readonly misclassification: number;
    readonly perUnitError: number;
  };
  /** Run metric (or metrics.json key) read as the registered baseline hit rate. */
  readonly baselineMetric: string;
  /** Online drift of the serving version's features (window 0: off). */
  readonly onlineDrift: OnlineDriftSettings;
  readonly shutdownGraceMs: number;
  /** Time between readiness turning 503 and closing the listener, so load balancers stop routing here first. */
  readonly shutdownDelayMs: number;
  /** This replica's name (POD_NAME in Kubernetes), used to order its prediction-log rows. */
  readonly replica: string;
}

export interface HttpLimits {
  /** Whole request (headers and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** Headers must arrive within this (from the connection's start, or the end of the previous request). */
  readonly headersTimeoutMs: number;
  /** Socket inactivity while a request is open. */
  readonly connectionTimeoutMs: number;
  /** Idle time of a keep-alive connection between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once. */
  readonly maxConnections: number;
  /** Requests in progress on one connection. */
  readonly maxPipelinedRequests: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const fallbackLabel = read.optionalInt(ENV.fallbackLabel, 0, 1);
  const fallbackProbability = read.number(ENV.fallbackProbability, fallbackLabel === 1 ? 1 : 0, 0, 1);
  const shadowUri = read.string(ENV.shadowModelUri);
  const mlflowTrackingUri = read.url(ENV.mlflowTrackingUri, ["http:", "https:"]);
  const modelUri = read.string(ENV.modelUri) ?? join(projectRoot(), EMBEDDED_MODEL_DIR);
  for (const [name, uri] of [[ENV.modelUri, modelUri], [ENV.shadowModelUri, shadowUri]] as const) {
    if (uri === undefined) continue;
    try {
      parseModelUri(uri);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  }
  if (modelUri.startsWith("models:/") && !mlflowTrackingUri) {
    problems.push(`${ENV.modelUri}=${modelUri} is a registry URI but ${ENV.mlflowTrackingUri} is not set: set it to the MLflow tracking server URL`);
  }
  const username = read.string(ENV.mlflowTrackingUsername);
  const password = read.string(ENV.mlflowTrackingPassword);
  if ((username === undefined) !== (password === undefined)) {
    problems.push(`${ENV.mlflowTrackingUsername} and ${ENV.mlflowTrackingPassword} must be set together (basic auth)`);
  }

  const requestTimeoutMs = read.int(ENV.requestTimeoutMs, 1000, 1, 600_000);
  const config: ServiceConfig = {
    port: read.int(ENV.port, SERVICE_PORT, 0, 65535),
    host: read.string(ENV.host) ?? "0.0.0.0",
    grpc: {
      port: read.int(ENV.grpcPort, GRPC_PORT, 0, 65535),
      // gRPC's own default receive limit; raw tensors are about 4 bytes per float, JSON 10 to 20.
      maxMessageBytes: read.int(ENV.grpcMaxMessageBytes, 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    },
    logLevel: read.oneOf(ENV.logLevel, ["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
    model: {
      uri: modelUri,
      variant: read.oneOf(ENV.modelVariant, VARIANTS, "stable"),
      pollIntervalMs: read.number(ENV.modelPollIntervalSeconds, 30, 0.05, 86400) * 1000,
      cacheDir: read.string(ENV.modelCacheDir) ?? join(tmpdir(), "modelport-models"),
      download: downloadLimits(read),
    },
    mlflow: {
      trackingUri: mlflowTrackingUri,
      token: read.string(ENV.mlflowTrackingToken),
      username,
      password,
      s3EndpointUrl: read.url(ENV.mlflowS3EndpointUrl, ["http:", "https:"]),
    },
    shadow: shadowUri ? { uri: shadowUri, sampleRate: read.number(ENV.shadowSampleRate, 1, 0, 1) } : undefined,
    limits: {
      bodyLimitBytes: read.int(ENV.bodyLimitBytes, 1024 * 1024, 1024, 64 * 1024 * 1024),
      // A full batch (MAX_BATCH_RECORDS records) of a model with up to ~40 columns fits in the default.
      bodyMaxKeys: read.int(ENV.bodyMaxKeys, 50_000, 100, 10_000_000),
      maxBatchRecords: read.int(ENV.maxBatchRecords, 1000, 1, 100_000),
    },
    http: httpLimits(read, problems, requestTimeoutMs),
    inference: {
      batchMaxSize: read.int(ENV.batchMaxSize, 64, 1, 4096),
      batchMaxWaitMs: read.number(ENV.batchMaxWaitMs, 2, 0, 1000),
      workers: read.int(ENV.inferenceWorkers, 0, 0, Math.max(64, availableParallelism())),
      requestTimeoutMs,
      maxQueue: read.int(ENV.maxQueue, 4096, 1, 1_000_000),
      executionProvider: executionProvider(read, problems),
    },
    fallback: fallbackLabel === undefined ? undefined : { label: fallbackLabel as 0 | 1, probability: fallbackProbability },
    predictionLog: {
      url: predictionLogUrl(read),
      sampleRate: read.number(ENV.predictionLogSampleRate, 1, 0, 1),
      spillDir: read.string(ENV.predictionLogSpillDir) ?? join(tmpdir(), "modelport-spill"),
      spillMaxBytes: read.int(ENV.predictionLogSpillMaxBytes, 1 << 30, 16 << 20, Number.MAX_SAFE_INTEGER),
      fsyncIntervalMs: read.int(ENV.predictionLogFsyncIntervalMs, 1000, 0, 3_600_000),
      rollBytes: read.int(ENV.predictionLogRollBytes, 64 << 20, 1 << 20, 4 * 2 ** 30),
      rollIntervalMs: read.number(ENV.predictionLogRollSeconds, 300, 1, 86_400) * 1000,
      retentionDays: read.int(ENV.predictionLogRetentionDays, 30, 1, 3650),
    },
    costs: {
      falsePositive: read.number(ENV.costFalsePositive, 1, 0, 1e9),
      falseNegative: read.number(ENV.costFalseNegative, 5, 0, 1e9),
      misclassification: read.number(ENV.costMisclassification, 1, 0, 1e9),
      perUnitError: read.number(ENV.costPerUnitError, 1, 0, 1e9),
    },
    baselineMetric: read.string(ENV.baselineMetric) ?? "accuracy",
    onlineDrift: {
      window: read.int(ENV.onlineDriftWindow, DEFAULT_ONLINE_DRIFT.window, 0, 100_000),
      falseAlarmWindows: read.number(ENV.onlineDriftFalseAlarmWindows, DEFAULT_ONLINE_DRIFT.falseAlarmWindows, 1, 1e12),
      intervalMs: read.number(ENV.onlineDriftIntervalSeconds, DEFAULT_ONLINE_DRIFT.intervalMs / 1000, 0.01, 3600) * 1000,
    },
    shutdownGraceMs: read.number(ENV.shutdownGraceSeconds, 25, 0, 3600) * 1000,
    shutdownDelayMs: read.number(ENV.shutdownDelaySeconds, 0, 0, 3600) * 1000,
    replica: read.string(ENV.podName) ?? hostname(),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  if (config.grpc.port !== 0 && config.grpc.port === config.port) {
    throw new ConfigError([`${ENV.grpcPort}=${config.grpc.port} is also ${ENV.port}: gRPC needs a port of its own`]);
  }
  return config;
}

/**
 * Provider options in onnxruntime's own names, and which of them onnxruntime-node 1.30 passes on: its binding
 * (js/node/src/session_options_helper.cc, ParseExecutionProviders) creates the CUDA and TensorRT options with
 * their defaults and sets device_id only. An option it would drop is refused here instead of being ignored: a
 * gpu_mem_limit that silently does nothing is worse than none.
 */
const PROVIDER_OPTIONS: Readonly<Record<ExecutionProviderName, { readonly forwarded: readonly string[]; readonly known: readonly string[] }>> = {
  cpu: { forwarded: [], known: ["use_arena"] },
  cuda: {
    forwarded: ["device_id"],
    known: [
      "gpu_mem_limit",
      "arena_extend_strategy",
      "cudnn_conv_algo_search",
      "do_copy_in_default_stream",
      "cudnn_conv_use_max_workspace",
      "cudnn_conv1d_pad_to_nc1d",
      "enable_cuda_graph",
      "use_tf32",
      "prefer_nhwc",
      "tunable_op_enable",
      "tunable_op_tuning_enable",
    ],
  },
  tensorrt: {
    forwarded: ["device_id"],
    known: ["trt_max_workspace_size", "trt_fp16_enable", "trt_int8_enable", "trt_engine_cache_enable", "trt_engine_cache_path", "trt_timing_cache_enable"],
  },
};

function executionProvider(read: EnvReader, problems: string[]): ExecutionProviderSettings {
  const name = read.oneOf(ENV.executionProvider, EXECUTION_PROVIDERS, "cpu");
  let deviceId = read.int(ENV.executionProviderDeviceId, 0, 0, 255);
  const raw = read.string(ENV.executionProviderOptions);
  const { forwarded, known } = PROVIDER_OPTIONS[name];
  for (const pair of raw?.split(",").map((p) => p.trim()).filter(Boolean) ?? []) {
    const [key = "", value = ""] = pair.split("=", 2).map((p) => p.trim());
    const where = `${ENV.executionProviderOptions}: ${key}`;
    if (forwarded.includes(key)) {
      const id = Number(value);
      if (!Number.isInteger(id) || id < 0 || id > 255) problems.push(`${where}=${value} is not a device ordinal 0..255`);
      else if (read.string(ENV.executionProviderDeviceId) !== undefined && id !== deviceId) problems.push(`${where}=${id} contradicts ${ENV.executionProviderDeviceId}=${deviceId}`);
      else deviceId = id;
    } else if (known.includes(key)) {
      problems.push(
        `${where} is a ${name} provider option that onnxruntime-node 1.30 does not pass to onnxruntime (its binding sets ${forwarded.join(", ") || "no option"} only), so it would be ignored; remove it`,
      );
    } else {
      problems.push(`${where} is not a ${name} provider option (expected key=value pairs; ${name} takes ${forwarded.join(", ") || "none"})`);
    }
  }
  return { name, deviceId };
}

function downloadLimits(read: EnvReader): DownloadLimits {
  const d = DEFAULT_DOWNLOAD_LIMITS;
  const ms = (name: string, fallbackMs: number) => read.number(name, fallbackMs / 1000, 0.001, 86400) * 1000;
  return {
    connectTimeoutMs: ms(ENV.modelDownloadConnectTimeoutSeconds, d.connectTimeoutMs),
    firstByteTimeoutMs: ms(ENV.modelDownloadFirstByteTimeoutSeconds, d.firstByteTimeoutMs),
    idleTimeoutMs: ms(ENV.modelDownloadIdleTimeoutSeconds, d.idleTimeoutMs),
    minBytesPerSecond: read.number(ENV.modelDownloadMinBytesPerSecond, d.minBytesPerSecond, 1, 1e12),
    rateWindowMs: ms(ENV.modelDownloadRateWindowSeconds, d.rateWindowMs),
    maxBytes: read.int(ENV.modelDownloadMaxBytes, d.maxBytes, 1, Number.MAX_SAFE_INTEGER),
  };
}

/** PREDICTION_LOG_URL: a postgres:// URL, or s3://bucket[/prefix] for the object-storage sink. */
function predictionLogUrl(read: EnvReader): string | undefined {
  const url = read.url(ENV.predictionLogUrl, ["postgres:", "postgresql:", "s3:"]);
  if (url?.startsWith("s3:") && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(url)) {
    read.problem(`${ENV.predictionLogUrl} must be s3://<bucket>[/<prefix>] with a valid bucket name (3-63 lower-case letters, digits, dots, hyphens)`);
    return undefined;
  }
  return url;
}

/** Descriptors kept back from HTTP_MAX_CONNECTIONS's default for model files, the database, the registry and workers. */
const DESCRIPTOR_RESERVE = 256;

function httpLimits(read: EnvReader, problems: string[], modelDeadlineMs: number): HttpLimits {
  const limits: HttpLimits = {
    requestTimeoutMs: read.int(ENV.httpRequestTimeoutMs, 30_000, 1000, 3_600_000),
    headersTimeoutMs: read.int(ENV.httpHeadersTimeoutMs, 10_000, 1000, 3_600_000),
    connectionTimeoutMs: read.int(ENV.httpConnectionTimeoutMs, Math.max(60_000, modelDeadlineMs + 10_000), 1000, 3_600_000),
    keepAliveTimeoutMs: HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: read.int(ENV.httpMaxConnections, defaultMaxConnections(), 1, 1_000_000),
    maxPipelinedRequests: read.int(ENV.httpMaxPipelinedRequests, 8, 1, 1024),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    problems.push(`${ENV.httpHeadersTimeoutMs}=${limits.headersTimeoutMs} must not exceed ${ENV.httpRequestTimeoutMs}=${limits.requestTimeoutMs} (the headers are part of the request)`);
  }
  if (limits.connectionTimeoutMs <= modelDeadlineMs) {
    problems.push(`${ENV.httpConnectionTimeoutMs}=${limits.connectionTimeoutMs} must exceed ${ENV.requestTimeoutMs}=${modelDeadlineMs}: a connection waiting for the model is silent meanwhile`);
  }
  return limits;
}

/**
 * The open-file limit less a reserve, at most 8192: past the limit accept() fails and every new connection is
 * reset, the service's own (registry, database) included. 1024 when the limit cannot be read (not Linux).
 */
export function defaultMaxConnections(limitsFile = "/proc/self/limits"): number {
  let soft: number | undefined;
  try {
    const line = readFileSync(limitsFile, "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const value = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    soft = value === "unlimited" ? Number.POSITIVE_INFINITY : Number(value);
  } catch {
    soft = undefined;
  }
  if (soft === undefined || !(soft > 0)) return 1024;
  return Math.max(64, Math.min(8192, soft - DESCRIPTOR_RESERVE));
}

/** Small typed readers that collect problems instead of throwing at the first one. */
class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  problem(message: string): void {
    this.problems.push(message);
  }

  string(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      this.problems.push(`${name}=${raw} is not a number between ${min} and ${max}`);
      return fallback;
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInt(name, min, max) ?? fallback;
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${raw} is not an integer between ${min} and ${max}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${raw} is not one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    try {
      const url = new URL(raw);
      if (!protocols.includes(url.protocol)) {
        this.problems.push(`${name} must be a ${protocols.map((p) => p.replace(":", "://")).join(" or ")} URL, got ${url.protocol}//…`);
        return undefined;
      }
      return raw;
    } catch {
      // Never echo the value: URLs like PREDICTION_LOG_URL carry credentials.
      this.problems.push(`${name} is not a valid URL`);
      return undefined;
    }
  }
}
