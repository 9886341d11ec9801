/**
 * Open-loop load: POSTs a body at a fixed rate, whatever the server answers, the way independent clients arrive.
 * Overload has to be tested this way: a closed loop (wrk, autocannon -c) sends the next request only after an
 * answer, so a server that sheds fast is sent ever more and one that is slow is sent less (coordinated
 * omission). autocannon's --overallRate releases each connection's quota in bursts (p99 ~450 ms against the bare
 * route at 4.4k req/s on the bench machine), so this generator schedules every request itself.
 *
 * - Latency is measured from each request's scheduled send time, so a delay of the generator's own loop counts
 *   against the server, never in its favour.
 * - The keep-alive connection pool is opened before the clock starts (see `connections`), and the first
 *   `warmUpS` seconds then run at the full rate without being measured, so the server's estimates settle.
 *   `onMeasuring` is called when the measured phase starts.
 *
 * As a process: `node dist/bench/open-loop.js URL RATE SECONDS BODY_JSON [WARMUP_SECONDS] [TIMEOUT_MS]` prints
 * `OPEN_LOOP_MEASURING` when measuring starts and `OPEN_LOOP_RESULT {...}` at the end.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";

export interface OpenLoopResult {
  readonly rate: number;
  readonly durationS: number;
  readonly warmUpS: number;
  /** Requests scheduled in the measured phase (rate x duration). */
  readonly sent: number;
  readonly answered: number;
  /** Measured answers by HTTP status. */
  readonly status: Record<string, number>;
  /** Connection errors, and requests not answered within the client timeout. */
  readonly errors: number;
  readonly timeouts: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface OpenLoopOptions {
  readonly url: string;
  readonly rate: number;
  readonly durationS: number;
  readonly body: string;
  /** Unmeasured lead-in at the same rate. @default 1 */
  readonly warmUpS?: number;
  /** A request unanswered after this long counts as a timeout. @default 10000 */
  readonly timeoutMs?: number;
  /**
   * Connections opened before the first request, MAX_CONNECTING at a time: opening hundreds at once under load
   * overflows the server's listen backlog, and a dropped SYN costs a 1 s retransmit. Enough for every request of
   * 200 ms in flight at once; more are opened on demand, a few at a time.
   * @default rate x 0.2 s
   */
  readonly connections?: number;
  readonly onMeasuring?: () => void;
}

/**
 * One keep-alive connection with at most one request in flight (no pipelining: a response queued behind another
 * would be timed for both). Requests are pre-encoded bytes; responses are parsed just far enough to find the
 * status and the end of the body (Content-Length, which Fastify sends, or chunked encoding).
 */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private inFlight?: { readonly due: number; readonly sentAt: number; readonly done: (outcome: Outcome) => void };
  private connected = false;
  private waiting?: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly events: { readonly connect: () => void; readonly idle: (c: Connection) => void; readonly close: (c: Connection) => void },
  ) {
    socket.setNoDelay(true);
    socket.on("connect", () => {
      this.connected = true;
      events.connect();
      this.waiting?.();
      this.waiting = undefined;
    });
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("error", () => this.settle({ kind: "error" }));
    socket.on("close", () => {
      this.settle({ kind: "error" });
      this.events.close(this);
    });
  }

  get busySince(): number | undefined {
    return this.inFlight?.sentAt;
  }

  send(request: Buffer, due: number, done: (outcome: Outcome) => void): void {
    this.inFlight = { due, sentAt: performance.now(), done };
    if (this.connected) this.socket.write(request);
    else this.waiting = () => this.socket.write(request);
  }

  /** Ends the request in flight as a timeout and drops the connection (its late answer must not be read). */
  timeOut(): void {
    this.settle({ kind: "timeout" });
    this.socket.destroy();
  }

  close(): void {
    this.inFlight = undefined;
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headerEnd = this.buffer.indexOf("\r\n\r\n");
    if (headerEnd < 0) return;
    const head = this.buffer.toString("latin1", 0, headerEnd);
    let end: number;
    if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      // Ends with the zero-length chunk after the last CRLF (JSON bodies never contain that byte sequence).
      const last = this.buffer.indexOf("\r\n0\r\n\r\n", headerEnd + 2);
      if (last < 0) return;
      end = last + 7;
    } else {
      end = headerEnd + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buffer.length < end) return;
    }
    this.buffer = this.buffer.subarray(end);
    this.settle({ kind: "answer", status: head.slice(9, 12), at: performance.now() });
    this.events.idle(this);
  }

  private settle(outcome: Outcome): void {
    const request = this.inFlight;
    if (!request) return;
    this.inFlight = undefined;
    request.done(outcome.kind === "answer" ? { ...outcome, latencyMs: outcome.at - request.due } : outcome);
  }
}

type Outcome = { kind: "answer"; status: string; at: number; latencyMs?: number } | { kind: "error" } | { kind: "timeout" };

/** Connections in their handshake at once: opening hundreds together overflows the server's listen backlog. */
const MAX_CONNECTING = 8;
/** The same before any traffic, when the server accepts at once. */
const MAX_CONNECTING_AT_START = 64;

export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate, durationS } = options;
  const warmUpS = options.warmUpS ?? 1;
  if (!(rate > 0) || !(durationS > 0) || !(warmUpS >= 0)) {
    throw new RangeError(`rate, duration and warm-up must be positive, got ${rate} req/s for ${durationS} s after ${warmUpS} s`);
  }
  const url = new URL(options.url);
  const port = Number(url.port || 80);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const request = Buffer.from(
    `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(options.body)}\r\n\r\n${options.body}`,
  );
  const warmUp = Math.round(rate * warmUpS);
  const total = warmUp + Math.round(rate * durationS);
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let settled = 0;
  let scheduled = 0;

  return new Promise((resolve) => {
    let start = 0;
    const dueAt = (i: number) => start + (i * 1000) / rate;
    const finish = () => {
      if (++settled < total) return;
      clearInterval(sweep);
      for (const connection of all) connection.close();
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
      resolve({
        rate,
        durationS,
        warmUpS,
        sent: total - warmUp,
        answered: latencies.length,
        status,
        errors,
        timeouts,
        p50Ms: at(0.5),
        p90Ms: at(0.9),
        p99Ms: at(0.99),
        maxMs: latencies[latencies.length - 1] ?? Number.NaN,
      });
    };
    // Requests due while every connection is busy and MAX_CONNECTING handshakes are under way wait here for the
    // next free connection (their latency still counts from their due time).
    const waiting: number[] = [];
    let connecting = 0;
    const connection = () => {
      connecting++;
      let counted = true;
      const settleHandshake = () => {
        if (counted) connecting--;
        counted = false;
      };
      const fresh = new Connection(connect({ host: url.hostname, port }), {
        connect: settleHandshake,
        idle: (c) => (waiting.length > 0 ? send(waiting.shift()!, c) : idle.push(c)),
        close: (c) => {
          settleHandshake();
          all.delete(c);
          const at = idle.indexOf(c);
          if (at >= 0) idle.splice(at, 1);
        },
      });
      all.add(fresh);
      return fresh;
    };
    const dispatch = (i: number) => {
      const c = idle.pop() ?? (connecting < MAX_CONNECTING ? connection() : undefined);
      if (c) send(i, c);
      else waiting.push(i);
    };
    const send = (i: number, c: Connection) => {
      const measured = i >= warmUp;
      c.send(request, dueAt(i), (outcome) => {
        if (measured) {
          if (outcome.kind === "answer") {
            latencies.push(outcome.latencyMs!);
            status[outcome.status] = (status[outcome.status] ?? 0) + 1;
          } else if (outcome.kind === "timeout") timeouts++;
          else errors++;
        }
        finish();
      });
    };
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const c of all) if (c.busySince !== undefined && now - c.busySince > timeoutMs) c.timeOut();
      // Never got a connection (the server stopped answering and accepting): a timeout too.
      while (waiting.length > 0 && now - dueAt(waiting[0]!) > timeoutMs) {
        if (waiting.shift()! >= warmUp) timeouts++;
        finish();
      }
    }, 100);
    const pool = Math.max(1, Math.round(options.connections ?? rate * 0.2));
    // Every millisecond, send what is due by now: request i is due at start + i / rate.
    const tick = () => {
      const now = performance.now();
      while (scheduled < total && dueAt(scheduled) <= now) {
        if (scheduled === warmUp) options.onMeasuring?.();
        dispatch(scheduled++);
      }
      if (scheduled < total) setTimeout(tick, 1);
    };
    // Open the pool first, on an idle server, then start the clock.
    let attempts = 0;
    const grow = () => {
      // Attempts are capped: against a server that refuses connections, the requests themselves fail and count.
      while (all.size < pool && connecting < MAX_CONNECTING_AT_START && attempts < 2 * pool) {
        attempts++;
        idle.push(connection());
      }
      if ((all.size < pool && attempts < 2 * pool) || connecting > 0) return void setTimeout(grow, 1);
      start = performance.now();
      tick();
    };
    grow();
  });
}

if (require.main === module) {
  const [url, rate, seconds, body, warmUp, timeout] = process.argv.slice(2);
  if (!url || !rate || !seconds || body === undefined) {
    console.error("usage: open-loop URL RATE SECONDS BODY_JSON [WARMUP_SECONDS] [TIMEOUT_MS]");
    process.exit(2);
  }
  const onMeasuring = () => console.log("OPEN_LOOP_MEASURING");
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  runOpenLoop({ url, rate: Number(rate), durationS: Number(seconds), body, warmUpS: number(warmUp), timeoutMs: number(timeout), onMeasuring }).then(
    (result) => console.log(`OPEN_LOOP_RESULT ${JSON.stringify(result)}`),
    (error: Error) => {
      console.error(`open-loop: ${error.message}`);
      process.exit(2);
    },
  );
}
