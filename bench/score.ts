/**
 * `npm run bench:score [-- --quick] [-- --workers N] [-- --rows N] [-- --big-rows N] [-- --out DIR]`
 *
 * Batch scoring against the physical limit, on real flights: vega-datasets' 3M flights as the demo model's
 * request columns in Parquet (bench/score-data.ts), and a 10M-row file cycling through them.
 *   1. raw onnxruntime loops over the same model and file on the same number of worker threads
 *      (bench/raw-ort.ts): `read` (decode the row groups, build tensors, run: what any scoring program must do,
 *      the baseline), `infer` (only session.run on tensors decoded beforehand: the model's own ceiling) and
 *      `write` (read plus the inputs and the probability written back as Parquet);
 *   2. `npm run score` on the same file, alternating with the `read` loop for `rounds` rounds (a shared
 *      machine drifts; the median ratio is kept), wall time from spawn to exit for both;
 *   3. the `read` loop and `npm run score` on the 10M-row file: rows/s with start-up amortized, and the scorer's
 *      peak RSS (bounded memory: it must not grow with the input);
 *   4. 2,000 scored rows sent to /predict/batch of the same model: every probability and label must be equal.
 * Writes bench-results/score-<time>.json, score-latest.json and a markdown table (score.md).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { EMBEDDED_MODEL_DIR, ENV, ROUTES } from "../service/src/contract";
import { projectRoot } from "../service/src/paths";
import type { ScoringSummary } from "../service/src/scoring/job";
import { startTestApp } from "../test/support/service-app";
import type { RawOrtResult } from "./raw-ort";
import { writeFlightFeatures } from "./score-data";

interface Args {
  readonly quick: boolean;
  readonly workers: number;
  readonly rows: number;
  readonly bigRows: number;
  readonly rounds: number;
  readonly outDir: string;
  readonly dataDir: string;
}

export function parseArgs(argv: readonly string[]): Args {
  const root = projectRoot();
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const quick = argv.includes("--quick");
  const number = (flag: string, fallback: number) => {
    const raw = value(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${raw}: expected a positive integer`);
    return n;
  };
  return {
    quick,
    workers: number("--workers", availableParallelism()),
    rows: number("--rows", quick ? 40_000 : 3_000_000),
    bigRows: number("--big-rows", quick ? 80_000 : 10_000_000),
    rounds: number("--rounds", quick ? 1 : 3),
    outDir: resolve(value("--out") ?? join(root, "bench-results")),
    dataDir: resolve(value("--data") ?? join(root, ".tmp", "bench-score")),
  };
}

function run(args: readonly string[]): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: projectRoot(), stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done({ stdout, seconds: (performance.now() - started) / 1000 }) : fail(new Error(`${args.join(" ")} exited with ${code}`))));
  });
}

async function rawOrt(model: string, file: string, workers: number, mode: "infer" | "read" | "write", out: string): Promise<RawOrtResult & { wallSeconds: number }> {
  const { stdout, seconds } = await run([join(__dirname, "raw-ort.js"), model, file, String(workers), mode, out]);
  const line = stdout.split("\n").find((l) => l.startsWith("RAW_ORT_RESULT "))!;
  return { ...(JSON.parse(line.slice("RAW_ORT_RESULT ".length)) as RawOrtResult), wallSeconds: seconds };
}

async function score(model: string, file: string, workers: number, out: string): Promise<ScoringSummary & { wallSeconds: number; wallRowsPerSecond: number }> {
  const cli = join(projectRoot(), "dist", "service", "src", "scoring", "cli.js");
  const { stdout, seconds } = await run([cli, "--model", model, "--input", file, "--output", out, "--workers", String(workers), "--progress-seconds", "3600"]);
  const summary = JSON.parse(stdout.trim().split("\n").pop()!) as ScoringSummary;
  return { ...summary, wallSeconds: seconds, wallRowsPerSecond: Math.round(summary.read / seconds) };
}

/** Every probability and label of `sample` scored rows against /predict/batch of the same model. */
async function compareWithPredict(model: string, output: string, sample: number): Promise<{ rows: number; probabilityMismatches: number; labelMismatches: number; maxAbsDifference: number }> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import("hyparquet");
  const { compressors } = await import("hyparquet-compressors");
  const file = await asyncBufferFromFile(output);
  const total = Number((await parquetMetadataAsync(file)).num_rows);
  const step = Math.max(1, Math.floor(total / sample));
  const rows: Record<string, unknown>[] = [];
  for (let at = 0; at < total && rows.length < sample; at += step * 64) {
    const block = await parquetReadObjects({ file, rowStart: at, rowEnd: Math.min(total, at + step * 64), compressors });
    for (let i = 0; i < block.length && rows.length < sample; i += step) rows.push(block[i]!);
  }
  const app = await startTestApp({ [ENV.modelUri]: model });
  let probabilityMismatches = 0;
  let labelMismatches = 0;
  let maxAbsDifference = 0;
  try {
    for (let at = 0; at < rows.length; at += 500) {
      const chunk = rows.slice(at, at + 500);
      const payload = chunk.map((r) => ({ hour: Number(r.hour), day_of_week: Number(r.day_of_week), day_of_month: Number(r.day_of_month), distance: r.distance, origin: r.origin, destination: r.destination }));
      const response = await app.inject({ method: "POST", url: ROUTES.predictBatch, payload });
      const predictions = (response.json() as { predictions: { probability: number; label: number }[] }).predictions;
      predictions.forEach((p, k) => {
        const row = chunk[k]!;
        if (p.probability !== row.probability) probabilityMismatches++;
        if (p.label !== row.label) labelMismatches++;
        maxAbsDifference = Math.max(maxAbsDifference, Math.abs(p.probability - (row.probability as number)));
      });
    }
  } finally {
    await app.close();
  }
  return { rows: rows.length, probabilityMismatches, labelMismatches, maxAbsDifference };
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function runScoreBench(args: Args): Promise<Record<string, unknown>> {
  const log = (line: string) => console.error(`bench:score: ${line}`);
  const model = join(projectRoot(), EMBEDDED_MODEL_DIR);
  await mkdir(args.outDir, { recursive: true });
  // Quick runs use small row groups, so every worker gets some.
  const rowGroupRows = args.quick ? 8192 : undefined;
  const data = join(args.dataDir, `flights-features-${args.rows}.parquet`);
  const big = join(args.dataDir, `flights-features-${args.bigRows}.parquet`);
  for (const [path, rows] of [[data, args.rows], [big, args.bigRows]] as const) {
    if (existsSync(path)) continue;
    log(`writing ${rows} rows of flight features to ${path}`);
    await writeFlightFeatures(path, rows, undefined, rowGroupRows);
  }
  const scratch = join(args.dataDir, "out");
  await mkdir(scratch, { recursive: true });
  const loadBefore = loadavg();

  const infer = await rawOrt(model, data, args.workers, "infer", join(scratch, "raw.parquet"));
  log(`raw onnxruntime, inference only: ${infer.rowsPerSecond} rows/s`);
  const write = await rawOrt(model, data, args.workers, "write", join(scratch, "raw.parquet"));
  log(`raw onnxruntime, read + run + write: ${write.wallSeconds.toFixed(1)} s, ${Math.round(write.rows / write.wallSeconds)} rows/s`);
  const rounds: { raw: RawOrtResult & { wallSeconds: number }; scorer: ScoringSummary & { wallSeconds: number; wallRowsPerSecond: number }; ratio: number }[] = [];
  for (let round = 0; round < args.rounds; round++) {
    const raw = await rawOrt(model, data, args.workers, "read", join(scratch, "raw.parquet"));
    const scorer = await score(model, data, args.workers, join(scratch, "scored.parquet"));
    const rawRowsPerSecond = raw.rows / raw.wallSeconds;
    rounds.push({ raw, scorer, ratio: scorer.wallRowsPerSecond / rawRowsPerSecond });
    log(`round ${round + 1}: raw read+run ${Math.round(rawRowsPerSecond)} rows/s, npm run score ${scorer.wallRowsPerSecond} rows/s (${(100 * rounds.at(-1)!.ratio).toFixed(0)}%), peak RSS ${(scorer.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  }
  const kept = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
  const equality = await compareWithPredict(model, join(scratch, "scored.parquet"), args.quick ? 500 : 2000);
  log(`vs /predict/batch on ${equality.rows} rows: ${equality.probabilityMismatches} probability and ${equality.labelMismatches} label mismatches (max |diff| ${equality.maxAbsDifference})`);
  const largeRaw = await rawOrt(model, big, args.workers, "read", join(scratch, "raw.parquet"));
  const large = await score(model, big, args.workers, join(scratch, "scored-big.parquet"));
  const largeRatio = large.wallRowsPerSecond / (largeRaw.rows / largeRaw.wallSeconds);
  log(`${large.read} rows: raw read+run ${Math.round(largeRaw.rows / largeRaw.wallSeconds)} rows/s, npm run score ${large.wallRowsPerSecond} rows/s (${(100 * largeRatio).toFixed(0)}%), peak RSS ${(large.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  await rm(scratch, { recursive: true, force: true });

  const results = {
    startedAt: new Date().toISOString(),
    quick: args.quick,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version, loadBefore, loadAfter: loadavg() },
    settings: { workers: args.workers, rows: args.rows, bigRows: args.bigRows, rounds: args.rounds },
    raw: { infer, write, read: kept.raw },
    scorer: kept.scorer,
    ratios: {
      vsReadRunMedian: kept.ratio,
      allRounds: rounds.map((r) => r.ratio),
      vsInferenceOnly: kept.scorer.wallRowsPerSecond / infer.rowsPerSecond,
      vsReadRunWrite: kept.scorer.wallRowsPerSecond / (write.rows / write.wallSeconds),
      largeVsReadRun: largeRatio,
    },
    large,
    largeRaw,
    equality,
  };
  const stamp = results.startedAt.replace(/[:.]/g, "-");
  await writeFile(join(args.outDir, `score-${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(args.outDir, "score-latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(args.outDir, "score.md"), markdown(results));
  log(`results in ${join(args.outDir, "score-latest.json")} and score.md`);
  return results;
}

function markdown(r: Awaited<ReturnType<typeof runScoreBench>> & Record<string, any>): string {
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const readRate = Math.round(r.raw.read.rows / r.raw.read.wallSeconds);
  return [
    "## Batch scoring (`npm run bench:score`)",
    "",
    `${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, ${r.settings.workers} worker threads, load ${r.machine.loadBefore.map((l: number) => l.toFixed(1)).join(" ")} before.`,
    `Input: ${r.settings.rows.toLocaleString("en-US")} real flights (vega-datasets flights-3m) as the demo model's columns in Parquet; wall time from process start to exit.`,
    "",
    "| run | rows | seconds | rows/s | npm run score / it | peak RSS |",
    "|---|---:|---:|---:|---:|---:|",
    `| raw onnxruntime, inference only (tensors decoded beforehand) | ${r.raw.infer.rows} | ${r.raw.infer.seconds} | ${r.raw.infer.rowsPerSecond} | ${pct(r.ratios.vsInferenceOnly)} | ${mib(r.raw.infer.peakRssBytes)} |`,
    `| raw onnxruntime, read + tensors + run (baseline) | ${r.raw.read.rows} | ${r.raw.read.wallSeconds.toFixed(2)} | ${readRate} | **${pct(r.ratios.vsReadRunMedian)}** (rounds ${r.ratios.allRounds.map(pct).join(", ")}) | ${mib(r.raw.read.peakRssBytes)} |`,
    `| raw onnxruntime, read + run + write Parquet | ${r.raw.write.rows} | ${r.raw.write.wallSeconds.toFixed(2)} | ${Math.round(r.raw.write.rows / r.raw.write.wallSeconds)} | ${pct(r.ratios.vsReadRunWrite)} | ${mib(r.raw.write.peakRssBytes)} |`,
    `| npm run score | ${r.scorer.read} | ${r.scorer.wallSeconds.toFixed(2)} | ${r.scorer.wallRowsPerSecond} | 100% | ${mib(r.scorer.peakRssBytes)} |`,
    `| raw onnxruntime, read + tensors + run, ${r.largeRaw.rows.toLocaleString("en-US")} rows | ${r.largeRaw.rows} | ${r.largeRaw.wallSeconds.toFixed(2)} | ${Math.round(r.largeRaw.rows / r.largeRaw.wallSeconds)} | **${pct(r.ratios.largeVsReadRun)}** | ${mib(r.largeRaw.peakRssBytes)} |`,
    `| npm run score, ${r.large.read.toLocaleString("en-US")} rows | ${r.large.read} | ${r.large.wallSeconds.toFixed(2)} | ${r.large.wallRowsPerSecond} | 100% | ${mib(r.large.peakRssBytes)} |`,
    "",
    `Against /predict/batch on ${r.equality.rows} scored rows: ${r.equality.probabilityMismatches} probability and ${r.equality.labelMismatches} label mismatches (max |difference| ${r.equality.maxAbsDifference}).`,
    "",
  ].join("\n");
}

if (require.main === module) {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench:score: ${(error as Error).message}`);
    process.exit(2);
  }
  runScoreBench(args).catch((error: Error) => {
    console.error(`bench:score failed: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
