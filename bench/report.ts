/** BENCHMARKS.md from one benchmark run's results: method, machine, and one table per scenario. */
import { medianInterval } from "./median-interval";
import type { BenchResults } from "./run";

const ms = (value: number) => (value < 1 ? value.toFixed(3) : value.toFixed(2));
const rps = (value: number) => value.toFixed(0);
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;
/** A median ratio and, when the rounds allow one, the interval it lies in with >= 90% confidence (median-interval.ts). */
function ratioCell(ratio: number, ratios: readonly number[]): string {
  const interval = medianInterval(ratios);
  return interval && interval.low !== interval.high ? `${pct(ratio)} (${pct(interval.low)}–${pct(interval.high)})` : pct(ratio);
}
const cpuUs = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(1));

type ComparisonRow = BenchResults["logging"][number];

/** One case per row against the first (off): the columns both comparisons share, then each one's own. */
function comparisonTable(rows: readonly ComparisonRow[], baseline: string, extra: ReadonlyArray<[string, (row: ComparisonRow) => string]>): string[] {
  return [
    `| case | req/s | p50 ms | p99 ms | % of ${baseline} (median) | all rounds | service CPU µs/request | event loop CPU µs/request | CPU-bound ratio | ${extra.map(([title]) => title).join(" | ")} |`,
    `|---|---:|---:|---:|---:|---|---:|---:|---:|${extra.map(() => "---:|").join("")}`,
    ...rows.map(
      (row) =>
        `| ${row.name} | ${rps(row.result.rps)} | ${ms(row.result.p50Ms)} | ${ms(row.result.p99Ms)} | ${ratioCell(row.ratio, row.ratios)} | ${row.ratios.map(pct).join(", ")} | ` +
        `${cpuUs(row.cpuUsPerRequest)} | ${cpuUs(row.eventLoopCpuUsPerRequest)} | ${pct(row.cpuRatio)} | ${extra.map(([, cell]) => cell(row)).join(" | ")} |`,
    ),
  ];
}

const loggingTable = (rows: readonly ComparisonRow[]) =>
  comparisonTable(rows, "logging off", [
    ["PostgreSQL CPU µs/request", (row) => cpuUs(row.databaseCpuUsPerRequest)],
    ["rows written", (row) => String(row.written ?? "n/a")],
    ["dropped", (row) => String(row.dropped ?? "n/a")],
  ]);

const onlineDriftTable = (rows: readonly ComparisonRow[]) => comparisonTable(rows, "off", [["windows tested (sum over features)", (row) => String(row.written ?? "n/a")]]);

export function renderMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    "# Benchmarks",
    "",
    `Measured by \`npm run bench\` on ${r.startedAt.slice(0, 10)}: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}.`,
    `Load average before/after: ${r.machine.loadBefore.map((l) => l.toFixed(1)).join(" ")} / ${r.machine.loadAfter.map((l) => l.toFixed(1)).join(" ")}` +
      " (the machine is shared: figures above ~1 mean other work competed for the cores).",
    "The service, the bare Fastify baseline and the load generator run as separate processes on the same host,",
    `so they share the cores. ${r.settings.durationS as number} s per measurement (${r.settings.demoRounds as number} × ${r.settings.demoRoundS as number} s rounds per side for the demo comparison), wrk with one thread (closed loop: one request`,
    "in flight per connection), latency percentiles from wrk's own histogram. Raw numbers: `bench-results/latest.json`.",
    "Ratios are medians over rounds. In parentheses after a median: the range the true median lies in with at",
    "least 90% confidence, from the rounds themselves (the sign-test interval: with 16 rounds the 5th lowest to the",
    "5th highest, 92%; none with 4 rounds or fewer). A target inside that range is neither met nor missed by the run.",
    "The interval takes rounds as independent; this VM's slow phases last minutes, so the real uncertainty is wider.",
    "",
    "## Service vs bare route (demo model)",
    "",
    "`POST /predict` with validation, micro-batching, metrics and the GBDT demo model, against a bare Fastify",
    "route that parses the same body and returns a constant answer. Service and bare alternate in several rounds",
    "per concurrency; the row shows the round with the median ratio, the last column every round's ratio.",
    "",
    "| connections | service req/s | service p50 ms | service p99 ms | bare req/s | bare p50 ms | bare p99 ms | service / bare (median) | all rounds |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const row of r.comparison) {
    push(
      `| ${row.connections} | ${rps(row.service.rps)} | ${ms(row.service.p50Ms)} | ${ms(row.service.p99Ms)} | ${rps(row.bare.rps)} | ${ms(row.bare.p50Ms)} | ${ms(row.bare.p99Ms)} | ${ratioCell(row.ratio, row.ratios)} | ${row.ratios.map(pct).join(", ")} |`,
    );
  }
  push(
    "",
    "## Open Inference Protocol vs bare route",
    "",
    "`POST /v2/models/<name>/infer` with one row (the model's input example as its graph's tensors) for the demo model",
    "and a small tensor model (an MLP on one [N, 32] input), against the bare Fastify route's V2 path that parses",
    "the same body and answers a constant. Rounds alternate as above.",
    "",
    "| model | connections | service req/s | service p50 ms | service p99 ms | bare req/s | bare p99 ms | service / bare (median) | all rounds |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const row of r.v2 ?? []) {
    push(
      `| ${row.model} | ${row.connections} | ${rps(row.service.rps)} | ${ms(row.service.p50Ms)} | ${ms(row.service.p99Ms)} | ${rps(row.bare.rps)} | ${ms(row.bare.p99Ms)} | ${ratioCell(row.ratio, row.ratios)} | ${row.ratios.map(pct).join(", ")} |`,
    );
  }
  push(
    "",
    "## Heavy model: micro-batching and worker threads",
    "",
    `\`POST /predict\` with the heavy model at ${r.settings.heavyConnections as number} connections, and a lone request (1 connection),`,
    "with a deadline long enough that nothing is shed (the columns are capacity; non-2xx must be 0).",
    "Event-loop delay is the service's own `nodejs_eventloop_lag_p99_seconds` / `_max_seconds` (monitorEventLoopDelay)",
    "minus `_min_seconds`: Node records each 10 ms sampling interval in full, so an idle loop reads ~10.1 ms;",
    "during the lone-request run the CPU is not saturated, so it shows what blocks the loop (an in-thread run);",
    "under load it also shows CPU contention with the load generator and the worker on a 2-core machine.",
    "",
    "| configuration | req/s | p50 ms | p99 ms | non-2xx | lone p50 ms | lone p99 ms | loop p99 / max ms, lone | loop p99 / max ms, loaded |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const row of r.heavy) {
    push(
      `| ${row.config.name} | ${rps(row.loaded.rps)} | ${ms(row.loaded.p50Ms)} | ${ms(row.loaded.p99Ms)} | ${row.loaded.non2xx + row.lone.non2xx} | ${ms(row.lone.p50Ms)} | ${ms(row.lone.p99Ms)} | ` +
        `${ms(row.loneEventLoop.p99Ms)} / ${ms(row.loneEventLoop.maxMs)} | ${ms(row.loadedEventLoop.p99Ms)} / ${ms(row.loadedEventLoop.maxMs)} |`,
    );
  }
  const byName = (workers: boolean, on: boolean) => r.heavy.find((h) => (h.config.workers > 0) === workers && (h.config.batchMaxSize > 1) === on);
  const ratios: string[] = [];
  for (const workers of [false, true]) {
    const on = byName(workers, true);
    const off = byName(workers, false);
    if (on && off) {
      ratios.push(
        `- ${workers ? "worker threads" : "in-thread"}: batching gives ${(on.loaded.rps / off.loaded.rps).toFixed(2)}× the req/s of unbatched; ` +
          `lone-request p50 ${ms(on.lone.p50Ms)} ms vs ${ms(off.lone.p50Ms)} ms (${(on.lone.p50Ms - off.lone.p50Ms >= 0 ? "+" : "") + ms(on.lone.p50Ms - off.lone.p50Ms)} ms).`,
      );
    }
  }
  push("", ...ratios);
  const tensorHeavy = r.tensorHeavy ?? [];
  if (tensorHeavy.length > 0) {
    push(
      "",
      "## Tensor model: micro-batching over V2",
      "",
      `A compute-heavy MLP with a tensor signature and a dynamic batch axis ([N, 256], 6 dense layers), one row per`,
      `V2 infer request at ${r.settings.heavyConnections as number} connections and alone, in-thread: with batching on, concurrent`,
      "requests of the same shape are concatenated along dimension 0 into one run.",
      "",
      "| configuration | req/s | p50 ms | p99 ms | non-2xx | lone p50 ms | lone p99 ms |",
      "|---|---:|---:|---:|---:|---:|---:|",
    );
    for (const row of tensorHeavy) {
      push(
        `| ${row.config.name} | ${rps(row.loaded.rps)} | ${ms(row.loaded.p50Ms)} | ${ms(row.loaded.p99Ms)} | ${row.loaded.non2xx + row.lone.non2xx} | ${ms(row.lone.p50Ms)} | ${ms(row.lone.p99Ms)} |`,
      );
    }
    const [off, on] = [tensorHeavy.find((h) => h.config.batchMaxSize === 1), tensorHeavy.find((h) => h.config.batchMaxSize > 1)];
    if (off && on) push("", `Batching gives ${(on.loaded.rps / off.loaded.rps).toFixed(2)}× the req/s of unbatched for the tensor model.`);
  }
  push(
    "",
    "## Overload with deadlines",
    "",
    "`REQUEST_TIMEOUT_MS` is the deadline. Requests arrive open loop at a fixed rate (`bench/open-loop.ts`: one",
    "request every 1/rate s whatever the service answers, latency counted from each request's scheduled send,",
    "connections opened first, an unmeasured first second). A closed loop (wrk) cannot test overload: it sends a",
    "service that sheds fast ever more, and a slow one less. The offered rate is 4× the model's capacity, but at",
    "most a fifth of the bare route's req/s at 64 connections in the same run: past that the generator, the",
    "shedding loop and the model's worker together need more than these 2 shared cores, and the loop itself falls",
    "behind (at 10k req/s, under a third: p99 125 ms for a 100 ms deadline), which no in-process policy fixes. The",
    "overloaded configuration is the one with the lowest capacity, the heavy model on a worker without batching (capacity from",
    "the table above; under overload the worker shares the cores with the shedding and the generator, so the model",
    "answers fewer). Every request must be answered in time: by the model, by the configured fallback (200,",
    '`"fallback": true`) or by 503 + Retry-After; no connection errors or client timeouts, no other status. Reasons',
    "are the service's own counters over the measured phase (shed = refused on arrival, timeout = admitted, then",
    'answered just before its deadline); "within deadline" is the service\'s own histogram. The last row is the same',
    "generator against the bare route at the same rate: what the generator and the HTTP layer alone add here.",
    "",
    "| case | configuration | deadline ms | capacity req/s | offered req/s | model answers/s | answers by status | by reason | within deadline (service) | p50 ms | p99 ms | max ms | errors / timeouts |",
    "|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
  );
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([key, n]) => `${key}: ${n}`)
      .join(", ") || "none";
  for (const row of r.overload) {
    const res = row.result;
    push(
      `| ${row.name} | ${row.config} | ${row.deadlineMs} | ${rps(row.capacityRps)} | ${rps(row.rate)} (${(row.rate / row.capacityRps).toFixed(1)}×) | ` +
        `${row.modelRps === undefined ? "–" : rps(row.modelRps)} | ${counts(res.status)} | ` +
        `${counts(row.reasons)} | ${row.withinDeadline === undefined ? "–" : `${(Math.floor(10_000 * row.withinDeadline) / 100).toFixed(2)}%`} | ${ms(res.p50Ms)} | ${ms(res.p99Ms)} | ${ms(res.maxMs)} | ${res.errors} / ${res.timeouts} |`,
    );
  }
  push(
    "",
    "## Prediction logging",
    "",
    "Demo model at 64 connections: logging off, `PREDICTION_LOG_URL` at a real PostgreSQL 15 (COPY), and at s3rver",
    "(Parquet, rolled every 2 s so uploads happen during the rounds), all on the same host. Every accepted",
    "prediction is in the local journal before its answer leaves, so the logging cases include that write. The",
    "services run side by side and take turns, round after round, each round's backlog written before the next",
    "starts; the percentage is against logging off in the same round (median, and every round). The last case",
    "points at an unreachable database: the journal write on the request path alone, with no sink using CPU.",
    "CPU per request is the service process's (user + system, every thread) and PostgreSQL's (postmaster and",
    "backends) over each round and the writing of its backlog, median of the rounds; \"CPU-bound ratio\" is",
    "logging off's service CPU per request over this case's: the req/s ratio of a replica whose own CPU is the limit.",
    "\"Event loop\" is the service's main thread alone, which parses, logs and answers every request: where it",
    "saturates before the cores do, its CPU per request is what a case's req/s follows.",
    "",
    ...loggingTable(r.logging),
  );
  if (r.loggingPinned && r.loggingPinned.length > 0) {
    push(
      "",
      "The same comparison with each service pinned to a core of its own (taskset) and the load generator,",
      "PostgreSQL, s3rver and the bench on the other core(s): a replica with its own CPU and the database",
      "elsewhere, as the stacks deploy it. Here the service is the bottleneck in every case.",
      "",
      ...loggingTable(r.loggingPinned),
    );
  }
  if (r.writers.length > 0) {
    push(
      "",
      "Rows/s one writer sustains: a journal of rows is filled first (a backlog, as after an outage), then one writer",
      "drains it into the sink (`bench/prediction-log-writers.ts`; no HTTP, no model).",
      "",
      "| sink | rows | journal MiB | seconds | rows/s |",
      "|---|---:|---:|---:|---:|",
    );
    for (const w of r.writers) push(`| ${w.sink} | ${w.rows} | ${(w.journalBytes / 2 ** 20).toFixed(0)} | ${w.seconds.toFixed(2)} | ${rps(w.rowsPerSecond)} |`);
  }
  if (r.onlineDrift && r.onlineDrift.length > 0) {
    push(
      "",
      "## Online drift",
      "",
      "Demo model at 64 connections, `ONLINE_DRIFT_WINDOW=0` against the default window and interval, side by side,",
      "taking turns over 16 rounds of 3 s (single rounds swing ±10% here; the target is 3%); the percentage is against",
      "online drift off in the same round (median, and every round).",
      "Windows tested: `online_drift_windows_total` summed over the features after all rounds.",
      "",
      ...onlineDriftTable(r.onlineDrift),
    );
    if (r.onlineDriftPinned && r.onlineDriftPinned.length > 0) {
      push("", "The same with each service pinned to a core of its own (taskset), the load generator on the other core(s):", "", ...onlineDriftTable(r.onlineDriftPinned));
    }
  }
  if (r.protocols) renderProtocols(r.protocols, push);
  push(
    "",
    "## Choosing the settings",
    "",
    "- `BATCH_MAX_SIZE=64` (default): one run over 64 rows costs about what a handful of single-row runs cost, and",
    "  beyond 64 the per-row gain is small while a run (and every request in it) gets longer. Batching is adaptive:",
    "  a lone request is dispatched at once, so it costs a lone request nothing (see the lone-request columns).",
    "- `BATCH_MAX_WAIT_MS=2` (default) only matters with two or more workers: while one run is in progress and",
    "  another worker is free, a partial batch waits up to this long for company instead of leaving as a batch of 1.",
    "- `INFERENCE_WORKERS=0` (default) for short runs like the demo GBDT's: blocking the loop for one short run costs",
    "  little, and a worker adds a message round trip (records cloned over, probabilities back) per batch.",
    "  For heavy models use workers (one core left to the event loop: cores − 1): the loop stays free for health",
    "  probes, metrics scrapes and deadline timers, and batching still applies per worker.",
    "- `REQUEST_TIMEOUT_MS` with `FALLBACK_LABEL` / `FALLBACK_PROBABILITY`: under overload a request that the",
    "  measured drain rate says cannot be answered in time gets the fallback (or 503 + Retry-After) on arrival, and",
    "  one admitted but still late gets it a headroom before its deadline (10% of it, or the loop's recent p99",
    "  delay if more, never earlier than half of it); what fits in the next run is always admitted, so the model",
    "  stays busy at capacity.",
    "",
  );
  return lines.join("\n");
}

function renderProtocols(p: NonNullable<BenchResults["protocols"]>, push: (...lines: string[]) => void): void {
  const errors = (e: Readonly<Record<string, number>>) => Object.values(e).reduce((a, b) => a + b, 0);
  push(
    "",
    "## Open Inference Protocol: REST vs gRPC",
    "",
    `The same inference request at ${p.floor.concurrency} requests in flight, on one service process: REST`,
    "(`POST /v2/models/{name}/infer`, JSON, wrk) and gRPC `ModelInfer` with typed contents and with",
    "`raw_input_contents` (`bench/grpc-load.ts`: closed loop, 4 HTTP/2 connections, one pre-serialized message, answers",
    "not decoded, as wrk does not parse its JSON). The three alternate over rounds; the row is the round with the",
    "median typed/REST ratio, the ratio columns the median over rounds. Both protocols answered the same outputs",
    "before the load (checked). Floors: the bare Fastify route under wrk, and a bare grpc-js server (decodes the",
    "request, answers a constant) under the gRPC generator: what each transport and generator reach here at all.",
    "",
    "| model | REST req/s | REST p99 ms | gRPC typed req/s | typed p99 ms | gRPC raw req/s | raw p99 ms | typed / REST | raw / REST | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const row of p.rows) {
    push(
      `| ${row.model} | ${rps(row.rest.rps)} | ${ms(row.rest.p99Ms)} | ${rps(row.typed.rps)} | ${ms(row.typed.p99Ms)} | ${rps(row.raw.rps)} | ${ms(row.raw.p99Ms)} | ` +
        `${pct(row.typedRatio)} (${row.typedRatios.map(pct).join(", ")}) | ${pct(row.rawRatio)} (${row.rawRatios.map(pct).join(", ")}) | ` +
        `${row.rest.non2xx + row.rest.socketErrors + errors(row.typed.errors) + errors(row.raw.errors)} |`,
    );
  }
  const f = p.floor;
  push(
    "",
    `Floors at ${f.concurrency} in flight: bare Fastify ${rps(f.bareHttp.rps)} req/s (p99 ${ms(f.bareHttp.p99Ms)} ms), bare grpc-js ` +
      `${rps(f.bareGrpc.rps)} req/s (p99 ${ms(f.bareGrpc.p99Ms)} ms). Each side as a share of its own floor (what the model,`,
    "validation, batching and metrics cost on top of the transport):",
    "",
    ...p.rows.map(
      (row) =>
        `- ${row.model}: REST ${pct(row.rest.rps / f.bareHttp.rps)} of bare Fastify; gRPC typed ${pct(row.typed.rps / f.bareGrpc.rps)}, ` +
        `raw ${pct(row.raw.rps / f.bareGrpc.rps)} of bare grpc-js.`,
    ),
  );
}
