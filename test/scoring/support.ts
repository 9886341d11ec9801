/** Helpers for the batch-scoring tests: real flights as feature files, reading outputs back, the CLI as a process. */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { flightAt, flightFeatures, readFlightTable, type FlightTable } from "../../service/model-kit/flights";
import { projectRoot } from "../../service/src/paths";
import { writeFlightFeatures } from "../../bench/score-data";

export const MODELS = join(projectRoot(), "service", "models");
export const BINARY_MODEL = join(MODELS, "flight-delay");
export const MULTICLASS_MODEL = join(MODELS, "flight-delay-classes");
export const REGRESSION_MODEL = join(MODELS, "flight-delay-minutes");

let june: Promise<FlightTable> | undefined;
/** June 2001 flights (the held-out month), read once per test file. */
export function juneFlights(): Promise<FlightTable> {
  june ??= readFlightTable({ months: [6], limit: 20_000 });
  return june;
}

/** The model's request columns for `rows` June flights, as Parquet (INT64, DOUBLE, UTF8: what pandas writes). */
export async function featuresParquet(path: string, rows: number, rowGroupRows?: number): Promise<string> {
  await writeFlightFeatures(path, rows, await juneFlights(), rowGroupRows);
  return path;
}

/** The same rows as CSV text (header + lines), optionally with extra lines appended verbatim. */
export async function featuresCsv(path: string, rows: number, extraLines: readonly string[] = []): Promise<string> {
  const table = await juneFlights();
  const lines = ["hour,day_of_week,day_of_month,distance,origin,destination"];
  for (let i = 0; i < rows; i++) {
    const f = flightFeatures(flightAt(table, i));
    lines.push([f.hour, f.day_of_week, f.day_of_month, f.distance, f.origin, f.destination].join(","));
  }
  await writeFile(path, `${[...lines, ...extraLines].join("\n")}\n`);
  return path;
}

export async function readParquetRows(path: string): Promise<Record<string, unknown>[]> {
  const { parquetReadObjects } = await import("hyparquet");
  const { compressors } = await import("hyparquet-compressors");
  const bytes = await readFile(path);
  return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, compressors });
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run score` as the image runs it: node dist/service/src/scoring/cli.js. */
export function runScoreCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot(), "dist", "service", "src", "scoring", "cli.js"), ...args], {
      cwd: projectRoot(),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
