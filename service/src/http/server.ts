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
 * A request with more than one Host header is answered 400 here too, and the connection closed.
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
  /** Answered with a closing error (429, 400): later requests on it are not handed to the app. */
  refusing: boolean;
  /** Requests parsed after that answer. */
  ignored: number;
}
const STATE = Symbol("modelport.connection");
type TrackedSocket = Socket & { [STATE]: ConnectionState };

/** Requests a refusing connection may still send (while the answers ahead of its 429 are pending) before it is cut. */
const IGNORED_LIMIT = 64;
const PIPELINING_BODY = JSON.stringify(errorBody(429, "too many pipelined requests on one connection; send them on more connections or wait for answers"));
const DUPLICATE_HOST_BODY = JSON.stringify(errorBody(400, "the request has more than one Host header: send exactly one"));

/**
 * Open connections in the order they were accepted. The hot path only counts requests in progress per
 * connection; the connection to close for a newcomer is looked for only at the cap, oldest first.
 */
class ConnectionTracker {
  private readonly open = new Set<TrackedSocket>();

  constructor(
    private readonly maxConnections: number,
    private readonly countDrop: CountDrop,
  ) {}

  /** A new connection: accepted, possibly in place of the longest-open one with nothing in progress. */
  accept(socket: TrackedSocket): void {
    if (this.open.size >= this.maxConnections) {
      this.countDrop("max_connections");
      const victim = this.victim();
      if (!victim) {
        socket.destroy();
        return;
      }
      this.open.delete(victim);
      victim.destroy();
    }
    socket[STATE] = { inFlight: 0, served: false, refusing: false, ignored: 0 };
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
  }

  stats(): ConnectionStats {
    let busy = 0;
    for (const socket of this.open) if (socket[STATE].inFlight > 0) busy++;
    return { open: this.open.size, busy };
  }

  /** The oldest connection that never completed a request, else the oldest idle between requests. */
  private victim(): TrackedSocket | undefined {
    let idle: TrackedSocket | undefined;
    for (const socket of this.open) {
      const state = socket[STATE];
      if (state.inFlight > 0) continue;
      if (!state.served) return socket;
      idle ??= socket;
    }
    return idle;
  }
}

export interface ConnectionStats {
  /** Connections open. */
  readonly open: number;
  /** Of which with a request in progress. */
  readonly busy: number;
}

const trackers = new WeakMap<Server, ConnectionTracker>();

/** Open and busy connections of a server made by httpServerFactory (O(open connections): diagnostics and tests). */
export function connectionStats(server: Server): ConnectionStats | undefined {
  return trackers.get(server)?.stats();
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
    trackers.set(server, tracker);
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

/**
 * Runs before Fastify for every request: the pipelining bound and the duplicate-Host check (RFC 9112 section
 * 3.2 requires a 400: Node keeps the first Host and drops the rest, while a proxy in front may have routed on
 * another). A loop over the raw header names and two counters per request, no allocation.
 */
function pipeliningGuard(handler: RequestListener, maxInFlight: number, countDrop: CountDrop): RequestListener {
  return (request, response) => {
    const socket = request.socket as TrackedSocket;
    const state = socket[STATE];
    if (state.refusing) {
      // Left unanswered: the connection closes once the answer that refused it is written. A client that keeps
      // sending meanwhile (the answers ahead are slow) is cut, so unanswered requests cannot pile up.
      if (++state.ignored > IGNORED_LIMIT) socket.destroy();
      return;
    }
    if (state.inFlight >= maxInFlight) return refuse(response, state, 429, PIPELINING_BODY, () => countDrop("pipelining"));
    if (hostHeaders(request.rawHeaders) > 1) return refuse(response, state, 400, DUPLICATE_HOST_BODY, () => countDrop("malformed"));
    state.inFlight++;
    state.served = true;
    response.on("close", onResponseClose);
    handler(request, response);
  };
}

function hostHeaders(raw: readonly string[]): number {
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  return hosts;
}

/** Answers `status` (in order, after the answers ahead of it) and closes the connection after it. */
function refuse(response: ServerResponse, state: ConnectionState, status: number, body: string, count: () => void): void {
  state.refusing = true;
  count();
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", connection: "close" };
  if (status === 429) headers["retry-after"] = "1";
  response.writeHead(status, headers);
  response.end(body);
}

/** Shared listener (no closure per request): `this` is the response. */
function onResponseClose(this: ServerResponse<IncomingMessage>): void {
  (this.req.socket as TrackedSocket)[STATE].inFlight--;
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
