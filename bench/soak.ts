/**
 * `npm run bench:soak [-- --minutes M] [-- --rate R] [-- --swap-ms S] [-- --out DIR]`
 *
 * Steady load with a hot swap every second, for minutes: the service process serves models:/flight-delay@champion
 * from a local fake MLflow (test/support/fake-mlflow.ts: the registry REST API and artifact proxy, real model
 * files) whose alias flips between two versions every `--swap-ms`; the service polls every 250 ms, so every flip
 * is a download-or-cache hit, a load, a warm-up, a swap and the old version's retirement under load. Meanwhile an
 * open-loop client (bench/open-loop.ts, own process) sends /predict at `--rate` req/s.
 *
 * Every second: resident memory, open descriptors and event-loop delay (p99, max) of the service, and the version
 * it serves. At the end: failed requests (anything but 200, connection errors, timeouts: must be 0), reloads done
 * and failed, and for RSS, descriptors and loop delay whether they stayed flat: the median of the last quarter of
 * samples against the median of the first quarter after a warm-up tenth, plus a least-squares slope per minute.
 * Writes bench-results/soak-<time>.json.
 */
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { EMBEDDED_MODEL_DIR, ENV, METRICS, ROUTES } from "../service/src/contract";
import { readModelPackage } from "../service/src/model/mlmodel";
import { projectRoot } from "../service/src/paths";
import { FakeMlflow } from "../test/support/fake-mlflow";
import { startService } from "../test/support/service-process";
import type { OpenLoopResult } from "./open-loop";
import { byLabel, eventLoopDelay, openLoop, scrape } from "./run";

export interface SoakSample {
  readonly atS: number;
  readonly rssMb: number;
  readonly fds: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly version?: string;
}

export interface Trend {
  readonly firstMedian: number;
  readonly lastMedian: number;
  readonly slopePerMinute: number;
  readonly flat: boolean;
}

export interface SoakResult {
  readonly minutes: number;
  readonly rate: number;
  readonly swapEveryMs: number;
  readonly load: OpenLoopResult;
  readonly failedRequests: number;
  readonly aliasFlips: number;
  readonly reloads: Record<string, number>;
  readonly versionsSeen: number;
  readonly rss: Trend;
  readonly fds: Trend;
  readonly loopP99: Trend;
  readonly samples: readonly SoakSample[];
}

const NAME = "flight-delay";

export async function runSoak(options: { minutes: number; rate: number; swapEveryMs: number }): Promise<SoakResult> {
  const demo = join(projectRoot(), EMBEDDED_MODEL_DIR);
  const record = JSON.stringify((await readModelPackage(demo)).inputExample[0]);
  const mlflow = await FakeMlflow.start();
  const service = await (async () => {
    try {
      const versions = [
        await mlflow.register(NAME, { dir: demo, runMetrics: { accuracy: 0.66 }, aliases: ["champion"] }),
        await mlflow.register(NAME, { dir: demo, runMetrics: { accuracy: 0.67 } }),
      ];
      const started = await startService({
        env: {
          [ENV.modelUri]: `models:/${NAME}@champion`,
          [ENV.mlflowTrackingUri]: mlflow.url,
          [ENV.modelPollIntervalSeconds]: "0.25",
          [ENV.logLevel]: "warn",
          // A deadline no swap should ever make a request miss: a missed one is a failure here.
          [ENV.requestTimeoutMs]: "2000",
        },
      });
      return { started, versions };
    } catch (error) {
      await mlflow.stop();
      throw error;
    }
  })();
  const { started, versions } = service;
  const durationS = options.minutes * 60;
  const samples: SoakSample[] = [];
  const t0 = Date.now();
  let flips = 0;
  const flipper = setInterval(() => {
    flips++;
    mlflow.setAlias(NAME, "champion", versions[flips % 2]!.version);
  }, options.swapEveryMs);
  const sampler = setInterval(() => {
    void (async () => {
      const loop = await eventLoopDelay(started).catch(() => undefined);
      const served = await fetch(started.url + ROUTES.readyz)
        .then((r) => r.json() as Promise<{ version?: string }>)
        .catch(() => undefined);
      samples.push({
        atS: (Date.now() - t0) / 1000,
        rssMb: residentMb(started.process.pid!),
        fds: openFds(started.process.pid!),
        loopP99Ms: loop?.p99Ms ?? Number.NaN,
        loopMaxMs: loop?.maxMs ?? Number.NaN,
        version: served?.version,
      });
    })();
  }, 1000);
  try {
    const load = await openLoop(started.url + ROUTES.predict, options.rate, durationS, record, undefined, [1, 2000]);
    clearInterval(flipper);
    clearInterval(sampler);
    const reloads = byLabel(await scrape(started), METRICS.modelReloadsTotal, "result");
    const failedRequests = load.sent - (load.status["200"] ?? 0);
    // The first tenth warms up (JIT, heap growth to its working size, both versions cached): compare after it.
    const steady = samples.filter((s) => s.atS >= durationS / 10);
    return {
      minutes: options.minutes,
      rate: options.rate,
      swapEveryMs: options.swapEveryMs,
      load,
      failedRequests,
      aliasFlips: flips,
      reloads,
      versionsSeen: new Set(samples.map((s) => s.version).filter(Boolean)).size,
      rss: trend(steady, (s) => s.rssMb, (first, last) => last <= first * 1.1 + 5),
      fds: trend(steady, (s) => s.fds, (first, last) => last <= first + 5),
      loopP99: trend(steady, (s) => s.loopP99Ms, (first, last) => last <= Math.max(2 * first, first + 5)),
      samples,
    };
  } finally {
    clearInterval(flipper);
    clearInterval(sampler);
    await started.stop();
    await mlflow.stop();
  }
}

/** First-quarter vs last-quarter medians of `value`, and its least-squares slope per minute. */
export function trend(samples: readonly SoakSample[], value: (s: SoakSample) => number, isFlat: (first: number, last: number) => boolean): Trend {
  const points = samples.filter((s) => Number.isFinite(value(s)));
  const quarter = Math.max(1, Math.floor(points.length / 4));
  const firstMedian = median(points.slice(0, quarter).map(value));
  const lastMedian = median(points.slice(-quarter).map(value));
  const n = points.length;
  const mx = points.reduce((a, s) => a + s.atS, 0) / n;
  const my = points.reduce((a, s) => a + value(s), 0) / n;
  const sxx = points.reduce((a, s) => a + (s.atS - mx) ** 2, 0);
  const sxy = points.reduce((a, s) => a + (s.atS - mx) * (value(s) - my), 0);
  return { firstMedian, lastMedian, slopePerMinute: sxx > 0 ? (60 * sxy) / sxx : 0, flat: n > 0 && isFlat(firstMedian, lastMedian) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

function residentMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function report(r: SoakResult): string {
  const line = (name: string, t: Trend, unit: string) =>
    `${name}: ${t.firstMedian.toFixed(1)} -> ${t.lastMedian.toFixed(1)} ${unit} (slope ${t.slopePerMinute.toFixed(2)} ${unit}/min): ${t.flat ? "flat" : "NOT flat"}`;
  return [
    `soak: ${r.minutes} min at ${r.rate} req/s, alias flipped every ${r.swapEveryMs} ms (${r.aliasFlips} flips, ${r.versionsSeen} versions served)`,
    `requests: ${r.load.sent} sent, ${r.failedRequests} failed (${JSON.stringify({ ...r.load.status, errors: r.load.errors, timeouts: r.load.timeouts })}), p99 ${r.load.p99Ms.toFixed(1)} ms`,
    `reloads: ${JSON.stringify(r.reloads)}`,
    line("RSS", r.rss, "MB"),
    line("open fds", r.fds, ""),
    line("event-loop p99", r.loopP99, "ms"),
  ].join("\n");
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const value = (flag: string, fallback: number) => (argv.includes(flag) ? Number(argv[argv.indexOf(flag) + 1]) : fallback);
  const outDir = argv.includes("--out") ? resolve(argv[argv.indexOf("--out") + 1]!) : join(projectRoot(), "bench-results");
  runSoak({ minutes: value("--minutes", 5), rate: value("--rate", 200), swapEveryMs: value("--swap-ms", 1000) })
    .then(async (result) => {
      await mkdir(outDir, { recursive: true });
      const file = join(outDir, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
      await writeFile(file, JSON.stringify(result, null, 2));
      console.log(report(result));
      console.log(`soak: results in ${file}`);
      const ok = result.failedRequests === 0 && (result.reloads.failure ?? 0) === 0 && result.rss.flat && result.fds.flat && result.loopP99.flat;
      process.exit(ok ? 0 : 1);
    })
    .catch((error: Error) => {
      console.error(`bench:soak failed: ${error.stack ?? error.message}`);
      process.exit(2);
    });
}
