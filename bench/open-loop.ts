/**
 * Open-loop load: POSTs a body at a fixed rate, whatever the server answers, the way independent clients arrive.
 * Overload has to be tested this way: a closed loop (wrk, autocannon -c) sends the next request only after an
 * answer, so a server that sheds fast is sent ever more and one that is slow is sent less (coordinated
 * omission). autocannon's --overallRate releases each connection's quota in bursts (p99 ~450 ms against the bare
 * route at 4.4k req/s on the bench machine), so this generator schedules every request itself.
 *
 * - Latency is measured from each request's scheduled send time, so a delay of the generator's own loop counts
 *   against the server, never in its favour.
 * - The first `warmUpS` seconds run at the same rate but are not measured: they open the connection pool (a
 *   burst of hundreds of new connections overflows the listen backlog, and a dropped SYN costs a 1 s retransmit)
 *   and let the server's estimates settle. `onMeasuring` is called when the measured phase starts.
 *
 * As a process: `node dist/bench/open-loop.js URL RATE SECONDS BODY_JSON [WARMUP_SECONDS]` prints
 * `OPEN_LOOP_MEASURING` when measuring starts and `OPEN_LOOP_RESULT {...}` at the end.
 */
import { Agent, request } from "node:http";
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
  readonly onMeasuring?: () => void;
}

export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate, durationS, body } = options;
  const warmUpS = options.warmUpS ?? 1;
  if (!(rate > 0) || !(durationS > 0) || !(warmUpS >= 0)) {
    throw new RangeError(`rate, duration and warm-up must be positive, got ${rate} req/s for ${durationS} s after ${warmUpS} s`);
  }
  const url = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const warmUp = Math.round(rate * warmUpS);
  const total = warmUp + Math.round(rate * durationS);
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let settled = 0;
  let scheduled = 0;

  return new Promise((resolve) => {
    const start = performance.now();
    const dueAt = (i: number) => start + (i * 1000) / rate;
    const finish = () => {
      if (++settled < total) return;
      agent.destroy();
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
    const send = (i: number) => {
      const due = dueAt(i);
      const measured = i >= warmUp;
      let done = false;
      const settle = (outcome: () => void) => {
        if (done) return;
        done = true;
        if (measured) outcome();
        finish();
      };
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent, headers }, (res) => {
        res.resume();
        res.on("end", () =>
          settle(() => {
            latencies.push(performance.now() - due);
            const code = String(res.statusCode ?? 0);
            status[code] = (status[code] ?? 0) + 1;
          }),
        );
      });
      req.setTimeout(timeoutMs, () => {
        settle(() => timeouts++);
        req.destroy();
      });
      req.on("error", () => settle(() => errors++));
      req.end(body);
    };
    // Every millisecond, send what is due by now: request i is due at start + i / rate.
    const tick = () => {
      const now = performance.now();
      while (scheduled < total && dueAt(scheduled) <= now) {
        if (scheduled === warmUp) options.onMeasuring?.();
        send(scheduled++);
      }
      if (scheduled < total) setTimeout(tick, 1);
    };
    tick();
  });
}

if (require.main === module) {
  const [url, rate, seconds, body, warmUp] = process.argv.slice(2);
  if (!url || !rate || !seconds || body === undefined) {
    console.error("usage: open-loop URL RATE SECONDS BODY_JSON [WARMUP_SECONDS]");
    process.exit(2);
  }
  const onMeasuring = () => console.log("OPEN_LOOP_MEASURING");
  runOpenLoop({ url, rate: Number(rate), durationS: Number(seconds), body, warmUpS: warmUp === undefined ? undefined : Number(warmUp), onMeasuring }).then(
    (result) => console.log(`OPEN_LOOP_RESULT ${JSON.stringify(result)}`),
    (error: Error) => {
      console.error(`open-loop: ${error.message}`);
      process.exit(2);
    },
  );
}
