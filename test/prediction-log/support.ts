/** Shared fixtures for the prediction-log tests: entries, a silent logger that remembers, row counts. */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PredictionLogEntry } from "../../service/src/contract";
import type { Logger } from "../../service/src/prediction-log/writer";
import type { TestPostgres } from "../support/postgres";

export function entry(index: number, overrides: Partial<PredictionLogEntry> = {}): PredictionLogEntry {
  const probability = (index % 100) / 100;
  return {
    predictionId: randomUUID(),
    modelName: "flight-delay",
    modelVersion: "3",
    variant: "stable",
    createdAt: new Date(),
    features: { index, distance: 500 + index, origin: "SFO" },
    probability,
    label: probability >= 0.5 ? 1 : 0,
    latencyMs: 0.4,
    fallback: false,
    ...overrides,
  };
}

export interface LogLine {
  readonly level: "info" | "warn" | "error";
  readonly obj: object;
  readonly msg: string;
}

/** A Logger that keeps what it was told, for assertions on the clear log line. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function rowCount(pg: TestPostgres, database: string): Promise<number> {
  const [row] = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM prediction_log", [], database);
  return row!.n;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A failing probe (table not created yet, database restarting) counts as "not yet".
  while (!(await Promise.resolve().then(condition).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
