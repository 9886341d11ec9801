/**
 * `npm run bench:online-drift [-- --windows N] [-- --sizes 250,500,1000,2000] [-- --quick]`
 *
 * Measures the online drift detector the service runs (service/src/online-drift: the same windows, reference
 * binning, tests and thresholds) on streams of real flights, feature records as /predict receives them:
 *   - false alarms: windows drawn from the version's reference sample itself (bootstrap) and from the training
 *     months (January-April 2001, the population the reference was sampled from), at the default expected run
 *     time (ONLINE_DRIFT_FALSE_ALARM_WINDOWS) and, per feature, the share of p-values under 0.01 and 0.001 (a
 *     valid p-value gives at most that share: the thresholds' premise, checked where it can be seen);
 *   - detection: June flights (the held-out month: real, mild seasonal drift) and training flights with
 *     distance scaled by 1.1 and 1.25 (an upstream unit or pipeline change), started after a window of
 *     training traffic: the alarm rate per window and the delay, in windows, to the first alarm;
 *   - the time one window's evaluation takes (it runs on a worker thread in the service).
 * For each window size; writes bench-results/online-drift-<time>.json, -latest.json and online-drift.md.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { flightAt, flightFeatures, readFlightTable, type FlightTable } from "../service/model-kit/flights";
import { seededRandom } from "../service/model-kit/random";
import { EMBEDDED_MODEL_DIR } from "../service/src/contract";
import { readCsv } from "../service/src/drift/readers/csv";
import { readModelPackage } from "../service/src/model/mlmodel";
import type { FeatureRecord } from "../service/src/model/types";
import { evaluateWindow, featureThreshold } from "../service/src/online-drift/evaluate";
import { loadOnlineReference, type OnlineReference } from "../service/src/online-drift/reference";
import { FeatureWindows } from "../service/src/online-drift/window";
import { DEFAULT_ONLINE_DRIFT } from "../service/src/online-drift/settings";
import { projectRoot } from "../service/src/paths";
import { recordBuilder } from "../service/src/scoring/records";

type Draw = () => FeatureRecord;

interface Args {
  readonly windows: number;
  readonly detectionWindows: number;
  readonly sizes: readonly number[];
  readonly falseAlarmWindows: number;
  readonly outDir: string;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const quick = argv.includes("--quick");
  return {
    windows: Number(value("--windows") ?? (quick ? 100 : 10_000)),
    detectionWindows: Number(value("--detection-windows") ?? (quick ? 20 : 200)),
    sizes: (value("--sizes") ?? (quick ? "500,1000" : "250,500,1000,2000")).split(",").map(Number),
    falseAlarmWindows: Number(value("--false-alarm-windows") ?? DEFAULT_ONLINE_DRIFT.falseAlarmWindows),
    outDir: resolve(value("--out") ?? join(projectRoot(), "bench-results")),
  };
}

async function referenceRecords(path: string, pkg: Awaited<ReturnType<typeof readModelPackage>>): Promise<FeatureRecord[]> {
  const records: FeatureRecord[] = [];
  const builder = recordBuilder(pkg.inputs, "csv");
  async function* chunks() {
    yield await readFile(path);
  }
  for await (const batch of readCsv(chunks())) {
    const columns = pkg.inputs.map((c) => batch.column(c.name));
    for (let i = 0; i < batch.rows; i++) records.push(builder.record(columns, i));
  }
  return records;
}

const fromTable = (table: FlightTable, random: () => number, change: (r: Record<string, number | string>) => void = () => undefined): Draw => () => {
  const record = { ...flightFeatures(flightAt(table, Math.floor(random() * table.length))) } as Record<string, number | string>;
  change(record);
  return record;
};

interface StreamResult {
  readonly windows: number;
  readonly alarms: number;
  readonly alarmRate: number;
  /** Per feature: share of windows with p < 0.01 and < 0.001, and drifted windows. */
  readonly features: Record<string, { readonly below01: number; readonly below001: number; readonly drifted: number }>;
  readonly evaluationMs: number;
}

function runStream(reference: OnlineReference, size: number, threshold: number, draw: Draw, windows: number, warmUp?: Draw): StreamResult & { firstAlarm: number | null } {
  const ring = new FeatureWindows(reference, size);
  if (warmUp) for (let i = 0; i < size; i++) ring.append(warmUp());
  ring.take();
  const features: Record<string, { below01: number; below001: number; drifted: number }> = {};
  let alarms = 0;
  let firstAlarm: number | null = null;
  let evaluationMs = 0;
  for (let w = 0; w < windows; w++) {
    while (!ring.ready) ring.append(draw());
    const started = performance.now();
    const results = evaluateWindow(reference.features, ring.take()!, threshold);
    evaluationMs += performance.now() - started;
    let alarm = false;
    for (const r of results) {
      const f = (features[r.feature] ??= { below01: 0, below001: 0, drifted: 0 });
      if (r.pValue < 0.01) f.below01++;
      if (r.pValue < 0.001) f.below001++;
      if (r.drifted) {
        f.drifted++;
        alarm = true;
      }
    }
    if (alarm) {
      alarms++;
      firstAlarm ??= w + 1;
    }
  }
  for (const f of Object.values(features)) {
    f.below01 /= windows;
    f.below001 /= windows;
  }
  return { windows, alarms, alarmRate: alarms / windows, features, evaluationMs: evaluationMs / windows, firstAlarm };
}

export async function runOnlineDriftBench(args: Args) {
  const log = (line: string) => console.error(`bench:online-drift: ${line}`);
  const pkg = await readModelPackage(join(projectRoot(), EMBEDDED_MODEL_DIR));
  const referenceRows = await referenceRecords(pkg.referencePath!, pkg);
  const [training, june] = await Promise.all([readFlightTable({ months: [1, 2, 3, 4] }), readFlightTable({ months: [6] })]);
  log(`reference ${referenceRows.length} rows, training ${training.length} flights, June ${june.length}`);
  const results = [];
  for (const size of args.sizes) {
    const reference = (await loadOnlineReference(pkg, "binary", size))!;
    const threshold = featureThreshold(args.falseAlarmWindows, reference.features.length);
    const random = seededRandom(size);
    const bootstrap: Draw = () => referenceRows[Math.floor(random() * referenceRows.length)]!;
    const train = fromTable(training, random);
    const fa = { reference: runStream(reference, size, threshold, bootstrap, args.windows), training: runStream(reference, size, threshold, train, args.windows) };
    log(`window ${size}: threshold ${threshold.toExponential(2)}; false alarms ${fa.reference.alarms}/${args.windows} (reference), ${fa.training.alarms}/${args.windows} (training); ${fa.training.evaluationMs.toFixed(2)} ms per window`);
    const shifted: Record<string, Draw> = {
      june: fromTable(june, random),
      "distance x1.1": fromTable(training, random, (r) => (r.distance = (r.distance as number) * 1.1)),
      "distance x1.25": fromTable(training, random, (r) => (r.distance = (r.distance as number) * 1.25)),
    };
    const detection: Record<string, { alarmRate: number; firstAlarm: number | null; delays: number[]; withinThree: number }> = {};
    for (const [name, draw] of Object.entries(shifted)) {
      const run = runStream(reference, size, threshold, draw, args.detectionWindows, train);
      // Delays from repeated onsets: the first alarm after each of 20 switches from training traffic.
      const delays: number[] = [];
      for (let onset = 0; onset < 20; onset++) delays.push(runStream(reference, size, threshold, draw, 30, train).firstAlarm ?? Infinity);
      detection[name] = { alarmRate: run.alarmRate, firstAlarm: run.firstAlarm, delays, withinThree: delays.filter((d) => d <= 3).length / delays.length };
      log(`window ${size}, ${name}: ${(100 * run.alarmRate).toFixed(0)}% of windows alarm; first alarm after ${delays.map(String).join(", ")} windows`);
    }
    results.push({ size, threshold, features: reference.features.map((f) => `${f.name} (${f.kind === "numeric" ? "ks" : `chisquare, ${f.bins.length} bins`})`), falseAlarms: fa, detection });
  }
  const report = { startedAt: new Date().toISOString(), falseAlarmWindows: args.falseAlarmWindows, windows: args.windows, detectionWindows: args.detectionWindows, results };
  await mkdir(args.outDir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  await writeFile(join(args.outDir, `online-drift-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(args.outDir, "online-drift-latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(args.outDir, "online-drift.md"), markdown(report));
  log(`results in ${join(args.outDir, "online-drift-latest.json")} and online-drift.md`);
  return report;
}

function markdown(r: Awaited<ReturnType<typeof runOnlineDriftBench>>): string {
  const lines = [
    "## Online drift (`npm run bench:online-drift`)",
    "",
    `Expected run time between false alarms: ${r.falseAlarmWindows} windows (ONLINE_DRIFT_FALSE_ALARM_WINDOWS); ${r.windows} windows per false-alarm stream, ${r.detectionWindows} per shifted stream, first-alarm delays from 20 onsets.`,
    "",
    "| window | per-feature threshold | false alarms, reference bootstrap | false alarms, training months | June: windows alarmed | June: first alarm (windows) | distance x1.1: alarmed / first alarm | distance x1.25: alarmed / first alarm | ms per evaluation |",
    "|---:|---:|---:|---:|---:|---|---|---|---:|",
  ];
  const delays = (d: number[]) => {
    const sorted = [...d].sort((a, b) => a - b);
    return `median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted.at(-1)}`;
  };
  for (const x of r.results) {
    const det = x.detection;
    lines.push(
      `| ${x.size} | ${x.threshold.toExponential(2)} | ${x.falseAlarms.reference.alarms} / ${x.falseAlarms.reference.windows} | ${x.falseAlarms.training.alarms} / ${x.falseAlarms.training.windows} | ${(100 * det.june!.alarmRate).toFixed(0)}% | ${delays(det.june!.delays)} | ${(100 * det["distance x1.1"]!.alarmRate).toFixed(0)}% / ${delays(det["distance x1.1"]!.delays)} | ${(100 * det["distance x1.25"]!.alarmRate).toFixed(0)}% / ${delays(det["distance x1.25"]!.delays)} | ${x.falseAlarms.training.evaluationMs.toFixed(2)} |`,
    );
  }
  lines.push("", "Share of windows with p < 0.01 / p < 0.001 per feature, training months (a valid p-value keeps them at or under 0.01 / 0.001):", "");
  for (const x of r.results) {
    lines.push(`- window ${x.size}: ${Object.entries(x.falseAlarms.training.features).map(([f, v]) => `${f} ${v.below01.toFixed(4)} / ${v.below001.toFixed(4)}`).join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}

if (require.main === module) {
  runOnlineDriftBench(parseArgs(process.argv.slice(2))).catch((error: Error) => {
    console.error(`bench:online-drift failed: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
