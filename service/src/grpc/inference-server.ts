/**
 * inference.GRPCInferenceService (the Open Inference Protocol over gRPC) on @grpc/grpc-js, on its own port. Every
 * RPC calls the same V2 operations as the REST routes (v2/service.ts): one model manager, predictor, batcher,
 * fallback, prediction log and shadow. Errors carry the protocol's status codes: INVALID_ARGUMENT for a request
 * the codec refuses (naming the field), NOT_FOUND for another model or version, UNAVAILABLE while nothing is
 * loaded or when the batcher sheds (with retry information: grpc-retry-pushback-ms and a google.rpc.RetryInfo in
 * grpc-status-details-bin), DEADLINE_EXCEEDED when the caller's own deadline cannot be met, RESOURCE_EXHAUSTED
 * (from grpc-js) for a message over GRPC_MAX_MESSAGE_BYTES, INTERNAL for anything else (details in the log only).
 * The call's gRPC deadline bounds its time in the batcher like REQUEST_TIMEOUT_MS does. Each call is counted in
 * http_requests_total{protocol="grpc"} by an interceptor that sees every status, the transport's own included.
 */
import * as grpc from "@grpc/grpc-js";
import type { FastifyBaseLogger } from "fastify";
import { GRPC_HTTP_STATUS } from "../contract";
import type { CounterSeries, HistogramSeries } from "../metrics/hot-metrics";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { Arrival } from "../model/predictor";
import { V2RequestError } from "../v2/codec";
import { V2NotFoundError, V2UnavailableError, type V2Service } from "../v2/service";
import { fromInferRequest, toInferResponse } from "./messages";
import { inferenceServiceDefinition, type ModelInferRequest } from "./proto";

export interface GrpcInferenceServerOptions {
  readonly service: V2Service;
  readonly metrics: ServiceMetrics;
  /** Largest message received (GRPC_MAX_MESSAGE_BYTES). */
  readonly maxMessageBytes: number;
  /** REQUEST_TIMEOUT_MS: when a call's own deadline is sooner, a refusal near it is DEADLINE_EXCEEDED. */
  readonly requestTimeoutMs: number;
  readonly log: FastifyBaseLogger;
}

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;
type ModelRefRequest = { readonly name: string; readonly version: string };

export class GrpcInferenceServer {
  private readonly server: grpc.Server;
  private port: number | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: GrpcInferenceServerOptions) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxMessageBytes,
      interceptors: [metricsInterceptor(options.metrics)],
    });
    this.server.addService(inferenceServiceDefinition(), this.handlers());
  }

  /** Binds host:port (0 = any free port) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) return reject(new Error(`cannot listen for gRPC on ${address}: ${error.message}`));
        this.port = bound;
        resolve(bound);
      });
    });
  }

  get boundPort(): number | undefined {
    return this.port;
  }

  /**
   * Stops taking new calls (GOAWAY to every connection) and resolves once the calls in flight have answered; past
   * `timeoutMs` the remaining ones are cancelled.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.options.log.warn({ timeoutMs }, "gRPC calls still in flight at the drain deadline; cancelling them");
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    return this.closing;
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const { service } = this.options;
    // proto3 strings default to "": an empty version means whatever version is served.
    const ref = (req: ModelRefRequest) => ({ name: req.name, version: req.version || undefined });
    return {
      ServerLive: this.unary(() => ({ live: true })),
      ServerReady: this.unary(() => ({ ready: service.ready() })),
      ModelReady: this.unary((req: ModelRefRequest) => ({ ready: service.modelReady(ref(req)) })),
      ServerMetadata: this.unary(() => service.server),
      ModelMetadata: this.unary((req: ModelRefRequest) => service.metadata(ref(req))),
      ModelInfer: this.infer(),
    };
  }

  private infer(): Unary<ModelInferRequest, unknown> {
    const { service } = this.options;
    return (call, callback) => {
      const arrival = arrivalOf(call);
      const request = call.request;
      let shadow: (() => void) | undefined;
      let raw = false;
      Promise.resolve()
        .then(async () => {
          const answer = await service.infer({
            model: { name: request.model_name, version: request.model_version || undefined },
            request: () => {
              const decoded = fromInferRequest(request);
              raw = decoded.raw;
              return decoded;
            },
            arrival,
            defaultId: request.id ?? "",
          });
          shadow = answer.afterResponse;
          return toInferResponse(answer, raw);
        })
        .then(
          (response) => {
            callback(null, response);
            if (shadow) setImmediate(shadow);
          },
          (error: unknown) => callback(this.toStatus(error, arrival)),
        );
    };
  }

  private unary<Req, Res>(handle: (request: Req) => Res): Unary<Req, Res> {
    return (call, callback) => {
      try {
        callback(null, handle(call.request));
      } catch (error) {
        callback(this.toStatus(error));
      }
    };
  }

  /** The protocol's status for an error; unexpected ones are logged and answered INTERNAL without details. */
  private toStatus(error: unknown, arrival?: Arrival): Partial<grpc.StatusObject> {
    if (error instanceof V2RequestError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
    if (error instanceof V2NotFoundError) return { code: grpc.status.NOT_FOUND, details: error.message };
    if (error instanceof V2UnavailableError) {
      if (error.reason && error.reason !== "queue_full" && ownDeadlineBinds(arrival, this.options.requestTimeoutMs)) {
        return { code: grpc.status.DEADLINE_EXCEEDED, details: `the call's deadline cannot be met: ${error.message}` };
      }
      return unavailable(error);
    }
    this.options.log.error({ err: error }, "gRPC call failed");
    return { code: grpc.status.INTERNAL, details: "internal error while serving the call; see the service log" };
  }
}

/** The arrival and, when the caller set one, its deadline in performance.now() time. */
function arrivalOf(call: grpc.ServerUnaryCall<unknown, unknown>): Arrival {
  const receivedAt = performance.now();
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? { receivedAt, deadline: receivedAt + (at - Date.now()) } : receivedAt;
}

function ownDeadlineBinds(arrival: Arrival | undefined, requestTimeoutMs: number): boolean {
  return typeof arrival === "object" && arrival.deadline < arrival.receivedAt + requestTimeoutMs;
}

/**
 * UNAVAILABLE with when to retry, in both forms clients read: gRPC's retry pushback (A6: grpc-retry-pushback-ms,
 * honoured by grpc-js, grpc-go and grpc-java retry policies) and google.rpc.RetryInfo in the rich error details.
 */
function unavailable(error: V2UnavailableError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  const delayMs = error.retryAfterSeconds * 1000;
  metadata.set("grpc-retry-pushback-ms", String(delayMs));
  metadata.set("grpc-status-details-bin", retryInfoStatus(grpc.status.UNAVAILABLE, error.message, delayMs));
  return { code: grpc.status.UNAVAILABLE, details: error.message, metadata };
}

/** A serialized google.rpc.Status {code, message, details: [Any(google.rpc.RetryInfo {retry_delay})]}. */
export function retryInfoStatus(code: number, message: string, delayMs: number): Buffer {
  const seconds = Math.floor(delayMs / 1000);
  const nanos = Math.round((delayMs - seconds * 1000) * 1e6);
  const duration = Buffer.concat([varintField(1, seconds), nanos ? varintField(2, nanos) : Buffer.alloc(0)]);
  const retryInfo = bytesField(1, duration);
  const any = Buffer.concat([bytesField(1, Buffer.from("type.googleapis.com/google.rpc.RetryInfo")), bytesField(2, retryInfo)]);
  return Buffer.concat([varintField(1, code), bytesField(2, Buffer.from(message, "utf8")), bytesField(3, any)]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

function bytesField(field: number, value: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(value.length), value]);
}

/**
 * Counts every call in http_requests_total / http_request_duration_seconds {protocol="grpc"}: method POST, route =
 * the method path, status_code = the HTTP status of its gRPC code. A call the transport ends before the service
 * answers (a message over the size limit, bytes that do not decode, a client cancelling or its deadline passing)
 * ends with a cancel the interceptor sees: counted as 499, "closed without an answer".
 */
function metricsInterceptor(metrics: ServiceMetrics): grpc.ServerInterceptor {
  const series = new Map<string, { requests: CounterSeries; duration: HistogramSeries }>();
  const record = (path: string, code: number, seconds: number) => {
    const key = `${path} ${code}`;
    let s = series.get(key);
    if (!s) {
      const labels = { method: "POST", route: path, status_code: String(GRPC_HTTP_STATUS[code] ?? 500), protocol: "grpc" };
      series.set(key, (s = { requests: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) }));
    }
    s.requests.inc();
    s.duration.observe(seconds);
  };
  return (method, call) => {
    const started = performance.now();
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      record(method.path, code, (performance.now() - started) / 1000);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => finish(grpc.status.CANCELLED) }),
      sendStatus: (status, next) => {
        finish(status.code);
        next(status);
      },
    });
  };
}
