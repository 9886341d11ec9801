/**
 * The Node HTTP server under Fastify, with the limits Fastify leaves open by default: a request (headers and
 * body) must arrive within HTTP_REQUEST_TIMEOUT_MS and its headers within HTTP_HEADERS_TIMEOUT_MS (408), a
 * connection silent for HTTP_CONNECTION_TIMEOUT_MS with a request open is closed, at most HTTP_MAX_CONNECTIONS
 * are open, and at most HTTP_MAX_PIPELINED_REQUESTS are in progress on one connection. Every drop is counted
 * in http_connections_dropped_total{reason}.
 *
 * At the connection cap a new connection is not simply refused (slow clients holding every slot would lock
 * everyone else out until their timeouts): the connection that has waited longest with nothing in progress is
 * closed for it, first one that never completed a request (a slowloris), then an idle keep-alive one. Only
 * when every connection has a request in progress is the new one closed on arrival. The cap stays below the
 * open-file limit, where accept() would fail and reset every new connection, the service's own included.
 *
 * Pipelining is bounded here, below Fastify, because Node parses every pipelined request in a socket read at
 * once and hands each to the app: 50 connections pipelining hundreds each put tens of thousands of requests in
 * progress and stalled the loop for seconds. The request past the limit is answered 429 with `Connection:
 * close` (after the ones ahead of it, in order); the requests after it on that connection are not handed to the
 * app, and a connection that sends many more meanwhile is cut at once.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyServerFactory } from "fastify";
import type { HttpLimits } from "../config";
import type { HttpDropReason } from "../contract";
import { errorBody } from "../errors";

export type CountDrop = (reason: HttpDropReason) => void;

/** Per-connection state, on the socket itself. */
interface ConnectionState {
  inFlight: number;
  /** A request was handed to the app on this connection. */
  served: boolean;
  /** Past the pipelining limit: the 429 is queued and the connection closes after it. */
  refusing: boolean;
  /** Requests parsed after the 429 (not handed to the app). */
  ignored: number;
  /** Counted in the tracker's open connections (until it closes or is evicted). */
  tracked: boolean;
}
const STATE = Symbol("modelport.connection");
type TrackedSocket = Socket & { [STATE]: ConnectionState; [TRACKER]: ConnectionTracker };
const TRACKER = Symbol("modelport.tracker");

/** Requests a refusing connection may still send (while the answers ahead of its 429 are pending) before it is cut. */
const IGNORED_LIMIT = 64;
const PIPELINING_BODY = JSON.stringify(errorBody(429, "too many pipelined requests on one connection; send them on more connections or wait for answers"));

/**
 * Open connections with nothing in progress, oldest first (a Map keeps insertion order: re-inserting moves a
 * connection to the end), in two classes: never completed a request, and idle between requests.
 */
class ConnectionTracker {
  readonly unfinished = new Map<TrackedSocket, true>();
  readonly idle = new Map<TrackedSocket, true>();
  open = 0;

  constructor(
    private readonly maxConnections: number,
    private readonly countDrop: CountDrop,
  ) {}

  /** A new connection: accepted, possibly in place of the longest-waiting one with nothing in progress. */
  accept(socket: TrackedSocket): void {
    if (this.open >= this.maxConnections) {
      const victim = first(this.unfinished) ?? first(this.idle);
      this.countDrop("max_connections");
      if (!victim) {
        socket.destroy();
        return;
      }
      this.forget(victim);
      victim.destroy();
    }
    this.open++;
    socket[STATE] = { inFlight: 0, served: false, refusing: false, ignored: 0, tracked: true };
    socket[TRACKER] = this;
    this.unfinished.set(socket, true);
    socket.once("close", () => this.forget(socket));
  }

  busy(socket: TrackedSocket): void {
    this.unfinished.delete(socket);
    this.idle.delete(socket);
  }

  rest(socket: TrackedSocket): void {
    if (socket[STATE].tracked && !socket.destroyed) this.idle.set(socket, true);
  }

  private forget(socket: TrackedSocket): void {
    const state = socket[STATE];
    if (!state.tracked) return;
    state.tracked = false;
    this.open--;
    this.unfinished.delete(socket);
    this.idle.delete(socket);
  }
}

function first<K>(map: Map<K, true>): K | undefined {
  for (const key of map.keys()) return key;
  return undefined;
}

/** A Fastify serverFactory applying `limits`; `countDrop` is called once per dropped connection. */
export function httpServerFactory(limits: HttpLimits, countDrop: CountDrop): FastifyServerFactory {
  return (handler) => {
    const server = createServer(
      {
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks the two timeouts above every 30 s by default, which would let a slow client hold on for
        // up to 30 s longer than configured.
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
      },
      pipeliningGuard(handler as RequestListener, limits.maxPipelinedRequests, countDrop),
    );
    const tracker = new ConnectionTracker(limits.maxConnections, countDrop);
    server.on("connection", (socket: TrackedSocket) => tracker.accept(socket));
    server.setTimeout(limits.connectionTimeoutMs);
    server.on("timeout", (socket: TrackedSocket) => {
      // The same socket timer expires keep-alive connections between requests: those are not drops.
      const state = socket[STATE] as ConnectionState | undefined;
      if (state && (!state.served || state.inFlight > 0)) countDrop("connection_timeout");
      socket.destroy();
    });
    return server as Server;
  };
}

function pipeliningGuard(handler: RequestListener, maxInFlight: number, countDrop: CountDrop): RequestListener {
  return (request, response) => {
    const socket = request.socket as TrackedSocket;
    const state = socket[STATE];
    if (state.refusing) {
      // Left unanswered: the connection closes once the 429 ahead of it is written. A client that keeps sending
      // meanwhile (the answers ahead are slow) is cut, so unanswered requests cannot pile up.
      if (++state.ignored > IGNORED_LIMIT) socket.destroy();
      return;
    }
    if (state.inFlight >= maxInFlight) {
      state.refusing = true;
      countDrop("pipelining");
      response.writeHead(429, { "content-type": "application/json; charset=utf-8", "retry-after": "1", connection: "close" });
      response.end(PIPELINING_BODY);
      return;
    }
    if (state.inFlight++ === 0) socket[TRACKER].busy(socket);
    state.served = true;
    response.once("close", onResponseClose);
    handler(request, response);
  };
}

/** Shared listener (no closure per request): `this` is the response. */
function onResponseClose(this: ServerResponse<IncomingMessage>): void {
  const socket = this.req.socket as TrackedSocket;
  if (--socket[STATE].inFlight === 0) socket[TRACKER].rest(socket);
}

/**
 * Fastify's clientErrorHandler, counting: Node reports a request that did not arrive in time (headers or body)
 * and one it cannot parse here, before any route sees it. Answers as Fastify would, in the service's error shape.
 */
export function clientErrorHandler(countDrop: CountDrop) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    // The client reset the connection, or closed it halfway through a request: nothing to answer, not a drop.
    if (error.code === "ECONNRESET" || error.code === "HPE_INVALID_EOF_STATE" || socket.destroyed) return void socket.destroy();
    const [status, reason, message] =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ([408, "request_timeout", "the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS)"] as const)
        : error.code === "HPE_HEADER_OVERFLOW"
          ? ([431, "malformed", "request headers are too large"] as const)
          : ([400, "malformed", "malformed HTTP request"] as const);
    countDrop(reason);
    if (socket.writable) {
      const body = JSON.stringify(errorBody(status, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
