/**
 * `npm run bench:abuse [-- --seconds N] [-- --root DIR] [-- SCENARIO ...]`
 *
 * The abusive and slow clients of issue 19, each against a fresh service process, with a well-behaved client
 * alongside (open loop, one /predict every 75 ms, answered within 1 s or counted as not answered): what share
 * of its requests the abuse leaves it, the service's worst event-loop delay and CPU time over the run, its peak
 * open descriptors, and what the HTTP layer dropped (http_connections_dropped_total). `--root` runs another
 * checkout's dist/ (a baseline build of an older commit), so before and after come from the same machine.
 *
 * Scenarios: pipelining (50 connections pipelining 200 requests at a time), slowloris (1,000 connections that
 * trickle headers, service under `ulimit -n 1024`), unknown-fields (4 clients sending 0.85 MB bodies of 100k
 * unknown keys), slow-upload (bodies that take 1.5 s to arrive, deadline 1 s, idle model), idle-batch (batches of
 * 1000 on a freshly started idle service), edge-cases (duplicate Host, duplicate key, gzip, unknown encoding).
 * Prints one JSON line per scenario (`ABUSE_RESULT {...}`) and a summary table.
 */
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { EMBEDDED_MODEL_DIR, ENV, METRICS, ROUTES } from "../service/src/contract";
import { readModelPackage } from "../service/src/model/mlmodel";
import { projectRoot } from "../service/src/paths";
import { startService, type RunningService } from "../test/support/service-process";
import type { OpenLoopResult } from "./open-loop";
import { byLabel, eventLoopDelay, openLoop, scrape, sum } from "./run";

interface AbuseResult {
  readonly scenario: string;
  /** The well-behaved client on keep-alive connections (opened while the abuse runs). */
  readonly normal?: { readonly sent: number; readonly answered200: number; readonly p99Ms: number; readonly statuses: Record<string, number> };
  /** A client opening a fresh connection per request (a probe, a new caller), 4 a second: how many got a 200 within 1 s. */
  readonly fresh?: { readonly sent: number; readonly answered200: number };
  readonly loopMaxMs?: number;
  readonly cpuSeconds?: number;
  readonly peakFds?: number;
  readonly dropped?: Record<string, number>;
  readonly notes: Record<string, unknown>;
}

const SCENARIOS = ["pipelining", "slowloris", "unknown-fields", "slow-upload", "idle-batch", "edge-cases"] as const;
type Scenario = (typeof SCENARIOS)[number];

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "--fresh-probe") return freshProbe(Number(argv[1]), Number(argv[2]), argv[3]!);
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const seconds = Number(value("--seconds") ?? 15);
  const root = resolve(value("--root") ?? projectRoot());
  const chosen = argv.filter((a, i) => !a.startsWith("--") && !["--seconds", "--root"].includes(argv[i - 1] ?? "")) as Scenario[];
  const unknown = chosen.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}; scenarios: ${SCENARIOS.join(", ")}`);
  const record = (await readModelPackage(`${projectRoot()}/${EMBEDDED_MODEL_DIR}`)).inputExample[0]!;
  const results: AbuseResult[] = [];
  for (const scenario of chosen.length > 0 ? chosen : SCENARIOS) {
    const result = await SCENARIO_RUNS[scenario]({ root, seconds, record: JSON.stringify(record) });
    console.log(`ABUSE_RESULT ${JSON.stringify(result)}`);
    results.push(result);
  }
  console.error(summary(results));
}

interface Context {
  readonly root: string;
  readonly seconds: number;
  readonly record: string;
}

const SCENARIO_RUNS: Record<Scenario, (c: Context) => Promise<AbuseResult>> = {
  async pipelining(c) {
    return underAbuse(c, "pipelining", {}, (service) => {
      const burst = Buffer.from(rawRequest(ROUTES.predict, c.record).repeat(200));
      return keepOpen(50, () => {
        const socket = connect(service.port, "127.0.0.1");
        // Read (and drop) answers; send the next burst once the previous one's answers are in or it closed.
        let answers = 0;
        socket.on("data", (chunk: Buffer) => {
          answers += count(chunk.toString("latin1"), "HTTP/1.1 ");
          if (answers >= 200) {
            answers = 0;
            socket.write(burst);
          }
        });
        socket.write(burst);
        return socket;
      });
    });
  },

  async slowloris(c) {
    return underAbuse(c, "slowloris", {}, (service) =>
      keepOpen(1000, () => {
        const socket = connect(service.port, "127.0.0.1");
        socket.write(`POST ${ROUTES.predict} HTTP/1.1\r\nHost: x\r\n`);
        // One more header line every 5 s: never finishes, never idle for long.
        const trickle = setInterval(() => socket.write(`X-${Math.random().toString(36).slice(2, 6)}: 1\r\n`), 5000);
        socket.once("close", () => clearInterval(trickle));
        return socket;
      }),
    { openFileLimit: 1024 },
    );
  },

  async "unknown-fields"(c) {
    const unknown = Array.from({ length: 100_000 }, (_, i) => `"${i.toString(36)}":0`).join(",");
    const body = `{${c.record.slice(1, -1)},${unknown}}`;
    let answerBytes = 0;
    const result = await underAbuse(c, "unknown-fields", {}, (service) => {
      let stopped = false;
      const loop = async () => {
        while (!stopped) {
          const response = await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body }).catch(() => undefined);
          const text = await response?.text().catch(() => "");
          answerBytes = Math.max(answerBytes, text?.length ?? 0);
        }
      };
      const clients = Array.from({ length: 4 }, loop);
      return async () => {
        stopped = true;
        await Promise.all(clients);
      };
    });
    return { ...result, notes: { ...result.notes, bodyBytes: body.length, largestAnswerBytes: answerBytes } };
  },

  async "slow-upload"(c) {
    const service = await startService({ root: c.root, env: serviceEnv({ [ENV.requestTimeoutMs]: "1000" }) });
    try {
      const statuses: Record<string, number> = {};
      for (let i = 0; i < 10; i++) {
        const answer = await slowUpload(service.port, c.record, 1500);
        const key = `${answer.status}${/overloaded \((\w+)\)/.exec(answer.body)?.[1] ? ` ${/overloaded \((\w+)\)/.exec(answer.body)![1]}` : ""}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
      const metrics = await scrape(service);
      return { scenario: "slow-upload", notes: { uploadMs: 1500, deadlineMs: 1000, statuses, rejectedByReason: byLabel(metrics, METRICS.predictionsRejectedTotal, "reason") } };
    } finally {
      await service.stop();
    }
  },

  async "idle-batch"(c) {
    const statuses: Record<string, number> = {};
    // Fresh processes: the estimate that refused these came from the warm-up run, so each start matters.
    for (let start = 0; start < 3; start++) {
      const service = await startService({ root: c.root, env: serviceEnv({}) });
      try {
        const batch = `[${Array(1000).fill(c.record).join(",")}]`;
        for (let i = 0; i < 10; i++) {
          const response = await fetch(service.url + ROUTES.predictBatch, { method: "POST", headers: { "content-type": "application/json" }, body: batch });
          const text = await response.text();
          const key = `${response.status}${/overloaded \((\w+)\)/.exec(text)?.[1] ? ` ${/overloaded \((\w+)\)/.exec(text)![1]}` : ""}`;
          statuses[key] = (statuses[key] ?? 0) + 1;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      } finally {
        await service.stop();
      }
    }
    return { scenario: "idle-batch", notes: { batches: 30, records: 1000, statuses } };
  },

  async "edge-cases"(c) {
    const service = await startService({ root: c.root, env: serviceEnv({}) });
    try {
      const [first, ...rest] = Object.entries(JSON.parse(c.record) as Record<string, unknown>);
      const duplicateKey = `{${[first!, [first![0], first![1]], ...rest].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
      const gzipped = gzipSync(Buffer.from(c.record));
      const cases: Record<string, Buffer> = {
        "duplicate Host": Buffer.from(rawRequest(ROUTES.predict, c.record, "Host: other\r\n")),
        "duplicate key": Buffer.from(rawRequest(ROUTES.predict, duplicateKey)),
        "gzip body": Buffer.concat([Buffer.from(rawHead(ROUTES.predict, gzipped.length, "Content-Encoding: gzip\r\n")), gzipped]),
        "zstd body": Buffer.from(rawRequest(ROUTES.predict, c.record, "Content-Encoding: zstd\r\n")),
      };
      const statuses: Record<string, string> = {};
      for (const [name, bytes] of Object.entries(cases)) statuses[name] = (await exchange(service.port, bytes)).slice(9, 12) || "no answer";
      return { scenario: "edge-cases", notes: { statuses } };
    } finally {
      await service.stop();
    }
  },
};

/**
 * Starts a service, runs the well-behaved client for `seconds` while `abuse` runs, and reports what the client
 * got and what the service went through.
 */
async function underAbuse(
  c: Context,
  scenario: string,
  env: Record<string, string>,
  abuse: (service: RunningService) => () => void | Promise<void>,
  options: { openFileLimit?: number } = {},
): Promise<AbuseResult> {
  const service = await startService({ root: c.root, env: serviceEnv(env), openFileLimit: options.openFileLimit, timeoutMs: 60_000 });
  try {
    const before = await scrape(service);
    await eventLoopDelay(service); // resets the service's delay histogram
    const stop = abuse(service);
    let peakFds = 0;
    const fds = setInterval(() => (peakFds = Math.max(peakFds, openFds(service.process.pid!))), 250);
    // Let the abuse build up for a second before the client starts.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let normal: OpenLoopResult;
    let fresh: { sent: number; answered200: number };
    try {
      // Both in their own processes: the abusive clients here must not delay their timers.
      [normal, fresh] = await Promise.all([
        openLoop(service.url + ROUTES.predict, 1000 / 75, c.seconds, c.record, undefined, [0, 1000]),
        runFreshProbe(service.port, c.seconds, c.record),
      ]);
    } finally {
      clearInterval(fds);
      await stop();
    }
    // Scrapes may themselves be refused or slow while the abuse lasts: read them after it stopped.
    const loop = await eventLoopDelay(service).catch(() => undefined);
    const after = await scrape(service);
    const cpu = (sum(after, METRICS.processCpuSecondsTotal) ?? NaN) - (sum(before, METRICS.processCpuSecondsTotal) ?? NaN);
    return {
      scenario,
      normal: { sent: normal.sent, answered200: normal.status["200"] ?? 0, p99Ms: normal.p99Ms, statuses: { ...normal.status, errors: normal.errors, timeouts: normal.timeouts } },
      fresh,
      loopMaxMs: loop?.maxMs,
      cpuSeconds: cpu,
      peakFds,
      dropped: byLabel(after, METRICS.httpConnectionsDroppedTotal, "reason"),
      notes: {},
    };
  } finally {
    await service.stop("SIGKILL");
  }
}

/** `--fresh-probe PORT SECONDS BODY`: a new connection per request, 4 a second, each answered within 1 s or not. */
async function freshProbe(port: number, seconds: number, body: string): Promise<void> {
  const request = Buffer.from(rawRequest(ROUTES.predict, body));
  const outcomes: Promise<boolean>[] = [];
  for (let i = 0; i < seconds * 4; i++) {
    outcomes.push(
      new Promise((resolve) => {
        const socket = connect(port, "127.0.0.1");
        let received = "";
        const done = (ok: boolean) => {
          clearTimeout(timer);
          socket.destroy();
          resolve(ok);
        };
        const timer = setTimeout(() => done(false), 1000);
        socket.on("data", (chunk) => {
          received += chunk;
          if (/\r\n\r\n[\s\S]*\}/.test(received)) done(received.startsWith("HTTP/1.1 200"));
        });
        socket.on("error", () => done(false));
        socket.once("close", () => done(false));
        socket.write(request);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const answered = (await Promise.all(outcomes)).filter(Boolean).length;
  console.log(`FRESH_PROBE ${JSON.stringify({ sent: outcomes.length, answered200: answered })}`);
}

function runFreshProbe(port: number, seconds: number, body: string): Promise<{ sent: number; answered200: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, "--fresh-probe", String(port), String(seconds), body], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("exit", () => {
      const line = output.split("\n").find((l) => l.startsWith("FRESH_PROBE "));
      if (line) resolve(JSON.parse(line.slice("FRESH_PROBE ".length)));
      else reject(new Error(`fresh probe failed:\n${output}`));
    });
  });
}

/** Keeps `n` abusive connections open (reopening closed ones); the returned function closes them all. */
function keepOpen(n: number, open: () => Socket): () => void {
  let stopped = false;
  const sockets = new Set<Socket>();
  let opening = 0;
  const replace = () => {
    // At most 16 handshakes at a time, so the reopening itself does not overflow the listen backlog.
    while (!stopped && sockets.size + opening < n && opening < 16) {
      opening++;
      const socket = open();
      sockets.add(socket);
      socket.once("connect", () => opening--);
      socket.on("error", () => undefined);
      socket.once("close", () => {
        if (socket.connecting) opening--;
        sockets.delete(socket);
        setTimeout(replace, 10);
      });
    }
    if (!stopped && sockets.size < n) setTimeout(replace, 10);
  };
  replace();
  return () => {
    stopped = true;
    for (const socket of sockets) socket.destroy();
  };
}

function slowUpload(port: number, body: string, overMs: number): Promise<{ status: string; body: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => (received += chunk));
    socket.on("error", () => undefined);
    socket.once("close", () => resolve({ status: received.slice(9, 12) || "no answer", body: received }));
    setTimeout(() => socket.destroy(), overMs + 5000);
    socket.write(rawHead(ROUTES.predict, Buffer.byteLength(body)));
    const slices = 5;
    const size = Math.ceil(body.length / slices);
    for (let i = 0; i < slices; i++) setTimeout(() => socket.write(body.slice(i * size, (i + 1) * size)), (overMs / (slices - 1)) * i);
    const done = setInterval(() => {
      if (/\r\n\r\n[\s\S]*\}/.test(received)) {
        clearInterval(done);
        socket.destroy();
      }
    }, 10);
  });
}

/** Sends `bytes` on a fresh connection; resolves with what came back once the first answer is complete (or 3 s). */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const finish = () => {
      socket.destroy();
      resolve(received);
    };
    socket.on("data", (chunk) => {
      received += chunk;
      if (/\r\n\r\n[\s\S]*\}/.test(received)) finish();
    });
    socket.on("error", () => undefined);
    socket.once("close", finish);
    setTimeout(finish, 3000);
    socket.write(bytes);
  });
}

const rawHead = (path: string, length: number, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: bench\r\n${extra}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
const rawRequest = (path: string, body: string, extra = "") => rawHead(path, Buffer.byteLength(body), extra) + body;

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function serviceEnv(extra: Record<string, string>): Record<string, string> {
  return { [ENV.logLevel]: "warn", [ENV.modelPollIntervalSeconds]: "3600", ...extra };
}

function summary(results: readonly AbuseResult[]): string {
  const lines = [
    "scenario | normal client 200s (keep-alive) | its p99 | fresh connections 200s | service loop max | CPU s | peak fds | dropped | notes",
    "--- | --- | --- | --- | --- | --- | --- | --- | ---",
  ];
  for (const r of results) {
    const dropped = Object.entries(r.dropped ?? {})
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    lines.push(
      [
        r.scenario,
        r.normal ? `${r.normal.answered200} of ${r.normal.sent}` : "",
        r.normal ? `${r.normal.p99Ms?.toFixed(0) ?? "-"} ms` : "",
        r.fresh ? `${r.fresh.answered200} of ${r.fresh.sent}` : "",
        r.loopMaxMs !== undefined ? `${r.loopMaxMs.toFixed(0)} ms` : "",
        r.cpuSeconds !== undefined ? r.cpuSeconds.toFixed(1) : "",
        r.peakFds ?? "",
        dropped,
        JSON.stringify(r.notes),
      ].join(" | "),
    );
  }
  return lines.join("\n");
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(`bench:abuse failed: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
