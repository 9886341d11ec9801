/**
 * npm run simulate -- --drift true|false [--url http://127.0.0.1:8080] [--requests N] [--duration 30s]
 *                     [--concurrency 8] [--feedback] [--seed 1] [--months 5,6] [--scale distance=1.25]
 *
 * Realistic traffic for a running service: real flights (vega-datasets flights-3m) drawn at random, one
 * POST /predict per flight with the model's request record. `--drift false` draws from the months the model was
 * trained on (January to April), `--drift true` from June, the later month whose features moved most (measured
 * against the model's reference.csv with Evidently's defaults: day_of_week normed Wasserstein 0.103 >= 0.1,
 * origin/destination Jensen-Shannon ~0.098 just under 0.1; May moves the target more, 16.1% delayed vs 20.6%
 * in training). Neither month reaches dataset drift at the default 50% share: real seasonal drift in this data
 * is mild, so alerting on it needs per-column thresholds or a lower share (--drift-share). With
 * `--feedback` the flight's real outcome goes to POST /feedback as ground truth, so target drift shows up too.
 * `--scale <feature>=<factor>` multiplies a numeric feature of every request (an upstream unit or pipeline
 * change: the shift the online drift detector must catch within a few windows).
 * Prints a summary (sent, ok, errors by status, requests per second) as one JSON line; exit code 0 when at least
 * one prediction succeeded, 1 when none did, 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { ROUTES } from "../contract";
import { flightAt, flightFeatures, isDelayed, readFlightTable, type FlightTable } from "../../model-kit/flights";
import { seededRandom } from "../../model-kit/random";
import { parseDuration } from "./cli";
import { DriftInputError } from "./errors";

/** The model's training months, and the later month replayed as drifted traffic. */
export const TRAINING_MONTHS = [1, 2, 3, 4] as const;
export const DRIFTED_MONTHS = [6] as const;
/** Feedback labels per POST /feedback (the route accepts up to 1000). */
const FEEDBACK_BATCH = 100;

export interface SimulateOptions {
  readonly url: string;
  readonly months: readonly number[];
  /** Stop after this many requests. */
  readonly requests?: number;
  /** Stop after this many milliseconds. */
  readonly durationMs?: number;
  readonly concurrency: number;
  readonly feedback: boolean;
  readonly seed: number;
  readonly timeoutMs?: number;
  /** Numeric features multiplied by a factor in every request. */
  readonly scale?: Readonly<Record<string, number>>;
}

export interface SimulateSummary {
  readonly url: string;
  readonly months: readonly number[];
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  /** Non-2xx answers by status code; "network" for requests that got no answer. */
  readonly errorsByStatus: Record<string, number>;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly feedbackSent: number;
  /** Feedback items by the status the service gave each (accepted, duplicate, pending, unknown), or by HTTP status. */
  readonly feedbackByStatus: Record<string, number>;
}

export const USAGE = `Usage: npm run simulate -- --drift true|false [options]
  --drift true|false    false: flights from the training months (Jan-Apr); true: June flights (drifted)
  --months <list>       months to draw from instead, e.g. 5 or 5,6
  --url <url>           service base URL. Default: http://127.0.0.1:8080
  --requests <n>        stop after n requests
  --duration <d>        stop after d, e.g. 30s or 5m (default when --requests is absent: 30s)
  --concurrency <n>     requests in flight. Default: 8
  --feedback            send each flight's real outcome (delayed > 15 min) to ${ROUTES.feedback}
  --seed <n>            random seed for drawing flights. Default: 1
  --scale <f>=<x>       multiply numeric feature f of every request by x (repeatable), e.g. distance=1.25
`;

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new DriftInputError(`${flag} ${value}: expected a positive integer`);
  return n;
}

export function parseSimulateArgs(argv: readonly string[]): SimulateOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        drift: { type: "string" },
        months: { type: "string" },
        url: { type: "string", default: "http://127.0.0.1:8080" },
        requests: { type: "string" },
        duration: { type: "string" },
        concurrency: { type: "string", default: "8" },
        feedback: { type: "boolean", default: false },
        seed: { type: "string", default: "1" },
        scale: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new DriftInputError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return "help";
  let months: readonly number[];
  if (values.months) {
    months = values.months.split(",").map((m) => {
      const month = Number(m.trim());
      if (!Number.isInteger(month) || month < 1 || month > 6) throw new DriftInputError(`--months ${values.months}: the flights data covers months 1 to 6`);
      return month;
    });
  } else if (values.drift === "true" || values.drift === "false") {
    months = values.drift === "true" ? DRIFTED_MONTHS : TRAINING_MONTHS;
  } else {
    throw new DriftInputError(`--drift ${values.drift ?? "(missing)"}: expected true or false\n\n${USAGE}`);
  }
  let url: URL;
  try {
    url = new URL(values.url!);
  } catch {
    throw new DriftInputError(`--url ${values.url}: not a URL`);
  }
  const requests = values.requests === undefined ? undefined : positiveInteger(values.requests, "--requests");
  const durationMs = values.duration === undefined ? (requests === undefined ? 30_000 : undefined) : parseDuration(values.duration, "--duration");
  const scale: Record<string, number> = {};
  for (const pair of values.scale ?? []) {
    const [feature, factor] = pair.split("=");
    if (!feature || !(Number(factor) > 0)) throw new DriftInputError(`--scale ${pair}: expected <feature>=<positive factor>, e.g. distance=1.25`);
    scale[feature] = Number(factor);
  }
  return {
    url: url.href.replace(/\/+$/, ""),
    months,
    scale,
    requests,
    durationMs,
    concurrency: positiveInteger(values.concurrency!, "--concurrency"),
    feedback: values.feedback!,
    seed: positiveInteger(values.seed!, "--seed"),
  };
}

export async function simulate(options: SimulateOptions, flights?: FlightTable): Promise<SimulateSummary> {
  const table = flights ?? (await readFlightTable({ months: options.months }));
  if (table.length === 0) throw new DriftInputError(`no flights in months ${options.months.join(", ")}`);
  const next = seededRandom(options.seed);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  const limit = options.requests ?? Infinity;
  let sent = 0;
  let ok = 0;
  const errorsByStatus: Record<string, number> = {};
  const countError = (key: string) => (errorsByStatus[key] = (errorsByStatus[key] ?? 0) + 1);
  let pendingFeedback: { prediction_id: string; actual: 0 | 1 }[] = [];
  let feedbackSent = 0;
  const feedbackByStatus: Record<string, number> = {};
  const countFeedback = (key: string, n = 1) => (feedbackByStatus[key] = (feedbackByStatus[key] ?? 0) + n);

  const flushFeedback = async () => {
    const items = pendingFeedback;
    pendingFeedback = [];
    if (items.length === 0) return;
    feedbackSent += items.length;
    try {
      const response = await post(options.url + ROUTES.feedback, { items }, timeoutMs);
      const body = (await response.json().catch(() => undefined)) as { results?: { status?: string }[] } | undefined;
      if (body?.results) for (const item of body.results) countFeedback(item.status ?? String(response.status));
      else countFeedback(String(response.status), items.length);
    } catch {
      countFeedback("network", items.length);
    }
  };

  const worker = async () => {
    while (sent < limit && performance.now() < deadline) {
      sent++;
      const flight = flightAt(table, Math.floor(next() * table.length));
      try {
        const response = await post(options.url + ROUTES.predict, scaled(flightFeatures(flight), options.scale), timeoutMs);
        const body = (await response.json().catch(() => undefined)) as { prediction_id?: string } | undefined;
        if (!response.ok) {
          countError(String(response.status));
          continue;
        }
        ok++;
        if (options.feedback && body?.prediction_id) {
          pendingFeedback.push({ prediction_id: body.prediction_id, actual: isDelayed(flight) });
          if (pendingFeedback.length >= FEEDBACK_BATCH) await flushFeedback();
        }
      } catch {
        countError("network");
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await flushFeedback();
  const seconds = (performance.now() - started) / 1000;
  return {
    url: options.url,
    months: options.months,
    sent,
    ok,
    errors: sent - ok,
    errorsByStatus,
    seconds: Number(seconds.toFixed(3)),
    requestsPerSecond: Number((sent / seconds).toFixed(1)),
    feedbackSent,
    feedbackByStatus,
  };
}

function scaled(features: Record<string, unknown>, scale: Readonly<Record<string, number>> = {}): Record<string, unknown> {
  const out = { ...features };
  for (const [feature, factor] of Object.entries(scale)) if (typeof out[feature] === "number") out[feature] = (out[feature] as number) * factor;
  return out;
}

function post(url: string, body: unknown, timeoutMs: number): Promise<Response> {
  return fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const options = parseSimulateArgs(argv);
    if (options === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`simulate: drawing flights from months ${options.months.join(", ")} against ${options.url}\n`);
    const summary = await simulate(options);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (summary.ok === 0) {
      process.stderr.write(`simulate: no request succeeded (${JSON.stringify(summary.errorsByStatus)}); is the service running at ${options.url}?\n`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (error instanceof DriftInputError) {
      process.stderr.write(`simulate: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`simulate: failed: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
