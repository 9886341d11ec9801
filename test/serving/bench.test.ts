// Smoke run of `npm run bench -- --quick`: every scenario runs for a second against real processes (service,
// bare Fastify, wrk, PostgreSQL) and the results file carries each table's figures. The embedded model stands
// in for the heavy one, which is built on demand and not committed.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { renderMarkdown } from "../../bench/report";
import type { BenchResults } from "../../bench/run";
import { EMBEDDED_MODEL_DIR } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";

const run = promisify(execFile);
const root = projectRoot();

it("runs every benchmark scenario in --quick mode and writes the results", async () => {
  const out = await mkdtemp(join(tmpdir(), "bench-"));
  try {
    const markdown = join(out, "BENCHMARKS.md");
    const args = ["--quick", "--out", out, "--heavy-model", join(root, EMBEDDED_MODEL_DIR), "--markdown", markdown];
    await run(process.execPath, [join(root, "dist", "bench", "run.js"), ...args], { cwd: root });
    const results = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as BenchResults;
    expect(results.comparison.map((r) => r.connections)).toEqual([1, 16]);
    for (const row of results.comparison) {
      expect(row.service.rps).toBeGreaterThan(0);
      expect(row.service.non2xx + row.service.socketErrors).toBe(0);
      expect(row.ratio).toBeCloseTo(row.service.rps / row.bare.rps, 6);
    }
    expect(results.v2.map((r) => [r.model, r.connections])).toEqual([
      ["demo model", 16],
      ["tensor model (MLP [N, 32])", 16],
    ]);
    for (const row of results.v2) {
      expect(row.service.rps).toBeGreaterThan(0);
      expect(row.service.non2xx + row.service.socketErrors + row.bare.non2xx).toBe(0);
    }
    expect(results.tensorHeavy.map((r) => r.config.batchMaxSize)).toEqual([1, 64]);
    for (const row of results.tensorHeavy) expect(row.loaded.rps).toBeGreaterThan(0);
    expect(results.tensorHeavy.every((row) => row.loaded.non2xx + row.lone.non2xx === 0)).toBe(true);
    expect(results.heavy).toHaveLength(2);
    for (const row of results.heavy) {
      expect(row.loaded.rps).toBeGreaterThan(0);
      expect(row.loaded.non2xx + row.lone.non2xx).toBe(0); // capacity runs: nothing shed
      expect(row.loneEventLoop.p99Ms).toBeGreaterThanOrEqual(0);
      expect(row.loadedEventLoop.maxMs).toBeGreaterThanOrEqual(row.loadedEventLoop.p99Ms);
    }
    const [overload, floor] = results.overload;
    expect(overload!.result.errors + overload!.result.timeouts).toBe(0);
    expect(overload!.result.answered).toBe(overload!.result.sent);
    expect(Object.keys(overload!.result.status)).toEqual(["200"]);
    expect(overload!.withinDeadline).toBeGreaterThan(0);
    expect(floor).toMatchObject({ config: "bare route", rate: overload!.rate });
    expect(results.logging.map((r) => r.name)).toEqual(["logging off", "PostgreSQL (COPY)", "S3 Parquet", "journal only (sink unreachable)"]);
    for (const row of results.logging) expect(row.result.non2xx + row.result.socketErrors).toBe(0);
    // Every logged answer reached its sink before the next round, nothing dropped.
    const sinks = results.logging.slice(1, 3);
    expect(sinks.map((r) => r.dropped)).toEqual([0, 0]);
    for (const row of sinks) expect(row.written).toBeGreaterThan(0);
    expect(results.logging[3]).toMatchObject({ written: 0, dropped: 0 });
    // CPU per request from /proc: the service's, and PostgreSQL's where it took the rows.
    for (const row of results.logging) expect(row.cpuUsPerRequest).toBeGreaterThan(0);
    // The event loop is one thread of the process: some of its CPU, never more (/proc ticks are 10 ms, hence the slack).
    for (const row of results.logging) expect(row.eventLoopCpuUsPerRequest).toBeGreaterThan(0);
    for (const row of results.logging) expect(row.eventLoopCpuUsPerRequest).toBeLessThanOrEqual(row.cpuUsPerRequest * 1.05);
    expect(results.logging[1]!.databaseCpuUsPerRequest).toBeGreaterThan(0);
    // Pinned (each service on a core of its own), on a machine with at least 2 CPUs.
    if (availableParallelism() >= 2) {
      expect(results.loggingPinned!.map((r) => r.name)).toEqual(["logging off", "PostgreSQL (COPY)", "S3 Parquet"]);
      for (const row of results.loggingPinned!) expect(row).toMatchObject({ dropped: 0, cpuUsPerRequest: expect.any(Number) });
      expect(results.loggingPinned![1]!.written).toBeGreaterThan(0);
    }
    expect(results.writers.map((w) => w.sink)).toEqual(["PostgreSQL (COPY)", "S3 Parquet"]);
    for (const w of results.writers) expect(w).toMatchObject({ rows: 20_000, rowsPerSecond: expect.any(Number) });
    expect(results.onlineDrift!.map((r) => r.name)).toEqual(["online drift off", "online drift on (window 1000)"]);
    for (const row of results.onlineDrift!) expect(row.result.non2xx + row.result.socketErrors).toBe(0);
    const protocols = results.protocols!;
    expect(protocols.rows.map((r) => r.model)).toEqual(["flight-delay (binary, 1 row)", "torch-token-embedding (tensor, 3 × 7 token ids)"]);
    for (const row of protocols.rows) {
      for (const side of [row.rest, row.typed, row.raw]) expect(side.rps).toBeGreaterThan(0);
      expect(row.rest.non2xx + row.rest.socketErrors).toBe(0);
      expect([row.typed.errors, row.raw.errors]).toEqual([{}, {}]);
      expect(row.typedRatio).toBeCloseTo(row.typed.rps / row.rest.rps, 6);
    }
    expect(protocols.floor.bareGrpc.rps).toBeGreaterThan(0);
    const report = await readFile(markdown, "utf8");
    for (const heading of ["Service vs bare route", "Open Inference Protocol vs bare route", "Heavy model", "Tensor model: micro-batching over V2", "Overload with deadlines", "Prediction logging", "Online drift", "Open Inference Protocol: REST vs gRPC"]) {
      expect(report).toContain(heading);
    }
    // One round per case gives no interval; with 8 the report prints the sign-test one beside the median.
    expect(report).not.toMatch(/\d+% \(\d+%–\d+%\)/);
    const eightRounds = [0.84, 0.9, 0.8, 0.86, 0.88, 0.92, 0.87, 0.94];
    const rendered = renderMarkdown({ ...results, logging: results.logging.map((row) => ({ ...row, ratio: 0.88, ratios: eightRounds })) });
    expect(rendered).toContain("| 88% (84%–92%) | 84%, 90%, 80%, 86%, 88%, 92%, 87%, 94% |");
    expect((await readdir(out)).some((f) => /^bench-.*\.json$/.test(f))).toBe(true);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 240_000);
