/**
 * npm run simulate -- --drift true|false [--url http://127.0.0.1:8080] [--count 5000] [--duration 120]
 *
 * Sends real flights to a running service's POST /predict, shaped exactly like the model's input_example.json
 * (flightFeatures from the model kit), then reports the true outcome of each flight on POST /feedback so target
 * drift has labels. --drift false replays the training months (no drift expected); --drift true replays a later
 * month whose schedule, routes and delays differ (real seasonal drift). Requests stop at --count or --duration,
 * whichever comes first; non-loopback URLs need --allow-remote.
 */
import { parseArgs } from "node:util";
import { flightAt, flightFeatures, isDelayed, readFlightTable, type FlightTable } from "../../model-kit/flights";
import { ROUTES } from "../contract";
import { DriftInputError } from "./errors";

export interface SimulateOptions {
  readonly url: string;
  readonly drift: boolean;
  /** Flights sent. @default 5000 */
  readonly count: number;
  /** Stop after this many seconds even if fewer were sent. @default 120 */
  readonly durationSeconds: number;
  /** Requests in flight at once. @default 8 */
  readonly concurrency: number;
  /** Post ground truth to /feedback. @default true */
  readonly feedback: boolean;
  /** Months replayed without drift (the model's training months). @default 1-4 */
  readonly baselineMonths: readonly number[];
  /** Month replayed with --drift true. @default 6 */
  readonly driftMonth: number;
  readonly seed: number;
  /** Preloaded flights (tests); default reads the months from flights-3m.parquet. */
  readonly flights?: FlightTable;
  readonly log?: (message: string) => void;
}

export interface SimulateResult {
  readonly sent: number;
  /** HTTP status -> responses ("error" for transport failures). */
  readonly statuses: Record<string, number>;
  readonly feedbackAccepted: number;
  readonly meanProbability: number;
  readonly seconds: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const FEEDBACK_BATCH = 500;

/** mulberry32: a small seeded generator, so a run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const log = options.log ?? (() => undefined);
  const months = options.drift ? [options.driftMonth] : options.baselineMonths;
  const flights = options.flights ?? (await readFlightTable({ months }));
  if (flights.length === 0) throw new DriftInputError(`no flights in months ${months.join(", ")}`);
  log(`${flights.length} flights from months ${months.join(", ")}; sending up to ${options.count} to ${options.url}`);
  const next = random(options.seed);
  const base = options.url.replace(/\/+$/, "");
  const deadline = Date.now() + options.durationSeconds * 1000;
  const started = Date.now();
  const statuses: Record<string, number> = {};
  const pendingFeedback: { prediction_id: string; actual: 0 | 1 }[] = [];
  let sent = 0;
  let probabilitySum = 0;
  let scored = 0;
  let feedbackAccepted = 0;

  const postFeedback = async (items: { prediction_id: string; actual: 0 | 1 }[]) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await fetch(base + ROUTES.feedback, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ items }) }).catch(() => undefined);
      if (response?.ok) {
        feedbackAccepted += items.length;
        return;
      }
      // 503 = some predictions not yet written to the log: wait as told and resend (duplicates are harmless).
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    log(`feedback for ${items.length} predictions was not accepted after 5 attempts`);
  };

  const worker = async () => {
    while (sent < options.count && Date.now() < deadline) {
      sent++;
      const flight = flightAt(flights, Math.floor(next() * flights.length));
      try {
        const response = await fetch(base + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(flightFeatures(flight)) });
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const body = (await response.json().catch(() => undefined)) as { prediction_id?: string; probability?: number; fallback?: boolean } | undefined;
        if (response.ok && body?.prediction_id) {
          if (typeof body.probability === "number" && !body.fallback) {
            probabilitySum += body.probability;
            scored++;
          }
          if (options.feedback) pendingFeedback.push({ prediction_id: body.prediction_id, actual: isDelayed(flight) });
          if (pendingFeedback.length >= FEEDBACK_BATCH) await postFeedback(pendingFeedback.splice(0, FEEDBACK_BATCH));
        }
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  while (pendingFeedback.length) await postFeedback(pendingFeedback.splice(0, FEEDBACK_BATCH));
  const result = { sent, statuses, feedbackAccepted, meanProbability: scored ? probabilitySum / scored : Number.NaN, seconds: (Date.now() - started) / 1000 };
  log(`sent ${sent} in ${result.seconds.toFixed(1)} s; statuses ${JSON.stringify(statuses)}; feedback ${feedbackAccepted}; mean probability ${result.meanProbability.toFixed(4)}`);
  return result;
}

export const SIMULATE_USAGE = `Usage: npm run simulate -- --drift true|false [options]
  --url <url>           service base URL. Default: http://127.0.0.1:8080
  --count <n>           flights to send. Default: 5000
  --duration <seconds>  stop after this long. Default: 120
  --concurrency <n>     requests in flight. Default: 8
  --feedback true|false post ground truth to /feedback. Default: true
  --baseline-months <m,m,...>  months for --drift false (the training months). Default: 1,2,3,4
  --drift-month <m>     month for --drift true. Default: 6
  --seed <n>            Default: 1
  --allow-remote        allow a non-loopback URL
`;

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new DriftInputError(`${flag} ${value}: expected a positive integer`);
  return n;
}

function bool(value: string | undefined, flag: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "true" || value === "false") return value === "true";
  throw new DriftInputError(`${flag} ${value}: expected true or false`);
}

function month(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 12) throw new DriftInputError(`${flag} ${value}: expected a month 1-12`);
  return n;
}

export function parseSimulateArgs(argv: readonly string[]): SimulateOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        drift: { type: "string" },
        url: { type: "string" },
        count: { type: "string" },
        duration: { type: "string" },
        concurrency: { type: "string" },
        feedback: { type: "string" },
        "baseline-months": { type: "string" },
        "drift-month": { type: "string" },
        seed: { type: "string" },
        "allow-remote": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new DriftInputError(`${(error as Error).message}\n\n${SIMULATE_USAGE}`);
  }
  if (values.help) return "help";
  const url = values.url ?? "http://127.0.0.1:8080";
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new DriftInputError(`--url ${url}: not a URL`);
  }
  if (!LOOPBACK.has(host) && !values["allow-remote"]) throw new DriftInputError(`--url ${url} is not loopback; pass --allow-remote to send traffic there`);
  return {
    url,
    drift: bool(values.drift, "--drift", false),
    count: positiveInt(values.count, "--count", 5000),
    durationSeconds: positiveInt(values.duration, "--duration", 120),
    concurrency: positiveInt(values.concurrency, "--concurrency", 8),
    feedback: bool(values.feedback, "--feedback", true),
    baselineMonths: values["baseline-months"] ? values["baseline-months"].split(",").map((m) => month(m, "--baseline-months")) : [1, 2, 3, 4],
    driftMonth: values["drift-month"] ? month(values["drift-month"], "--drift-month") : 6,
    seed: positiveInt(values.seed, "--seed", 1),
    log: (message) => process.stderr.write(`simulate: ${message}\n`),
  };
}

if (require.main === module) {
  (async () => {
    try {
      const options = parseSimulateArgs(process.argv.slice(2));
      if (options === "help") {
        process.stdout.write(SIMULATE_USAGE);
        return 0;
      }
      const result = await simulate(options);
      return result.sent > 0 && !result.statuses.error ? 0 : 1;
    } catch (error) {
      process.stderr.write(`simulate: ${error instanceof DriftInputError ? error.message : (error as Error).stack}\n`);
      return error instanceof DriftInputError ? 2 : 1;
    }
  })().then((code) => {
    process.exitCode = code;
  });
}
