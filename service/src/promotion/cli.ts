/**
 * npm run promote -- --model M --prometheus URL --tracking-uri URL [--window 30m] [--dry-run] [--json]
 * npm run rollback -- --model M --tracking-uri URL [--to VERSION] [--dry-run] [--json]
 *
 * Exit codes (PROMOTION_EXIT_CODES): 0 pass (promoted, or already champion; rollback done), 1 a gate failed,
 * 2 inconclusive (too little traffic or labels, absent series), 3 could not run (Prometheus or MLflow down, bad
 * arguments): nothing in the registry changes unless the exit code is 0.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ENV, isTask, PROMOTION_EXIT_CODES, TASKS, VARIANT_ALIASES, type Task } from "../contract";
import { MlflowRegistryWriter } from "../registry/mlflow-writes";
import { PromotionError } from "./errors";
import { DEFAULT_THRESHOLDS, GATE_NAMES, type GateName, type GateThresholds } from "./gates";
import { PrometheusClient } from "./prometheus";
import { promote } from "./promote";
import { formatPromotion, formatRollback } from "./report";
import { rollback } from "./rollback";

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const THRESHOLD_FLAGS = Object.keys(DEFAULT_THRESHOLDS).map((key) => [kebab(key), key as keyof GateThresholds] as const);

export const USAGE = `Usage:
  npm run promote -- --model <name> --prometheus <url> --tracking-uri <url> [options]
  npm run rollback -- --model <name> --tracking-uri <url> [--to <version>] [--dry-run] [--json]

Promote options
  --window <duration>            comparison window, e.g. 30m, 2h. Default: 30m
  --label-window <duration>      window for labelled feedback. Default: --window
  --skip <gate>                  do not evaluate a gate (${GATE_NAMES.join(", ")}); repeatable
  --inconclusive-ok              exit 0 on inconclusive (a CronJob that waits for traffic is not failing)
  --config <file.json>           thresholds as JSON, e.g. {"minRequests": 200, "maxErrorRate": 0.02}
${THRESHOLD_FLAGS.map(([flag, key]) => `${`  --${flag} <x>`.padEnd(33)}Default: ${DEFAULT_THRESHOLDS[key]}`).join("\n")}
  --stable-alias <alias>         Default: ${VARIANT_ALIASES.stable}
  --canary-alias <alias>         Default: ${VARIANT_ALIASES.canary}
  --task <task>                  the model's task when neither model_info nor the registry tag names it (${TASKS.join(", ")}). Default: binary
Common
  --tracking-uri <url>           Default: ${ENV.mlflowTrackingUri} (credentials: ${ENV.mlflowTrackingToken} or ${ENV.mlflowTrackingUsername}/${ENV.mlflowTrackingPassword})
  --dry-run                      evaluate and report; change nothing
  --json                         print the report as JSON
  --timeout-ms <n>               per request to Prometheus and MLflow. Default: 10000

Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 could not run. Only 0 changes the registry.
`;

interface Output {
  log(text: string): void;
  error(text: string): void;
}

/** Runs one command and returns its exit code (the process entry point below sets it). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, out: Output = consoleOutput): Promise<number> {
  const [command, ...args] = argv;
  if (args.includes("--help") || args.includes("-h")) {
    out.log(USAGE);
    return PROMOTION_EXIT_CODES.pass;
  }
  try {
    if (command === "promote") return await runPromote(args, env, out);
    if (command === "rollback") return await runRollback(args, env, out);
    throw new PromotionError(`unknown command "${command ?? ""}": expected promote or rollback`, "USAGE");
  } catch (error) {
    const usage = error instanceof PromotionError && error.code === "USAGE";
    out.error(`${command ?? "promotion"}: ${(error as Error).message}${usage ? `\n\n${USAGE}` : ""}`);
    return PROMOTION_EXIT_CODES.error;
  }
}

async function runPromote(args: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const values = parse(args, {
    model: { type: "string" },
    prometheus: { type: "string" },
    "tracking-uri": { type: "string" },
    window: { type: "string", default: "30m" },
    "label-window": { type: "string" },
    skip: { type: "string", multiple: true, default: [] },
    config: { type: "string" },
    "stable-alias": { type: "string" },
    "canary-alias": { type: "string" },
    task: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    "inconclusive-ok": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "timeout-ms": { type: "string" },
    ...Object.fromEntries(THRESHOLD_FLAGS.map(([flag]) => [flag, { type: "string" as const }])),
  });
  const model = required(values.model, "--model");
  const prometheusUrl = required(values.prometheus as string | undefined, "--prometheus");
  const timeoutMs = positiveNumber(values["timeout-ms"] as string | undefined, "--timeout-ms") ?? 10_000;
  for (const [flag, value] of [["--window", values.window], ["--label-window", values["label-window"]]] as const) {
    if (value !== undefined && !/^\d+[smhdw]$/.test(value as string)) throw new PromotionError(`${flag} ${value}: expected a duration like 30m, 2h or 1d`, "USAGE");
  }
  const report = await promote(
    { prometheus: new PrometheusClient({ url: prometheusUrl, timeoutMs }), registry: registry(values["tracking-uri"] as string | undefined, env, timeoutMs) },
    {
      model,
      window: values.window as string,
      labelWindow: values["label-window"] as string | undefined,
      thresholds: thresholds(values),
      skip: gates(values.skip as string[]),
      dryRun: values["dry-run"] as boolean,
      stableAlias: values["stable-alias"] as string | undefined,
      canaryAlias: values["canary-alias"] as string | undefined,
      task: task(values.task as string | undefined),
    },
  );
  out.log(values.json ? JSON.stringify(report, null, 2) : formatPromotion(report));
  if (report.outcome === "inconclusive" && values["inconclusive-ok"]) return PROMOTION_EXIT_CODES.pass;
  return PROMOTION_EXIT_CODES[report.outcome];
}

async function runRollback(args: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const values = parse(args, {
    model: { type: "string" },
    "tracking-uri": { type: "string" },
    to: { type: "string" },
    alias: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "timeout-ms": { type: "string" },
  });
  const timeoutMs = positiveNumber(values["timeout-ms"] as string | undefined, "--timeout-ms") ?? 10_000;
  const to = values.to as string | undefined;
  if (to !== undefined && !/^\d+$/.test(to)) throw new PromotionError(`--to ${to}: expected a version number`, "USAGE");
  const report = await rollback(registry(values["tracking-uri"] as string | undefined, env, timeoutMs), {
    model: required(values.model as string | undefined, "--model"),
    to,
    alias: values.alias as string | undefined,
    dryRun: values["dry-run"] as boolean,
  });
  out.log(values.json ? JSON.stringify(report, null, 2) : formatRollback(report));
  return PROMOTION_EXIT_CODES.pass;
}

function parse(args: readonly string[], options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (error) {
    throw new PromotionError((error as Error).message, "USAGE");
  }
}

function registry(flag: string | undefined, env: NodeJS.ProcessEnv, timeoutMs: number): MlflowRegistryWriter {
  const trackingUri = flag ?? env[ENV.mlflowTrackingUri];
  if (!trackingUri) throw new PromotionError(`--tracking-uri is required (or set ${ENV.mlflowTrackingUri})`, "USAGE");
  try {
    new URL(trackingUri);
  } catch {
    throw new PromotionError(`--tracking-uri ${trackingUri}: not a URL`, "USAGE");
  }
  return new MlflowRegistryWriter({
    trackingUri,
    token: env[ENV.mlflowTrackingToken],
    username: env[ENV.mlflowTrackingUsername],
    password: env[ENV.mlflowTrackingPassword],
    timeoutMs,
  });
}

function thresholds(values: Record<string, unknown>): GateThresholds {
  const merged: Record<string, number> = { ...DEFAULT_THRESHOLDS };
  if (typeof values.config === "string") {
    let config: unknown;
    try {
      config = JSON.parse(readFileSync(values.config, "utf8"));
    } catch (error) {
      throw new PromotionError(`--config ${values.config}: ${(error as Error).message}`, "USAGE");
    }
    if (!config || typeof config !== "object" || Array.isArray(config)) throw new PromotionError(`--config ${values.config}: expected a JSON object of thresholds`, "USAGE");
    for (const [key, value] of Object.entries(config)) {
      if (!(key in DEFAULT_THRESHOLDS)) throw new PromotionError(`--config ${values.config}: unknown threshold "${key}" (known: ${Object.keys(DEFAULT_THRESHOLDS).join(", ")})`, "USAGE");
      merged[key] = checkedThreshold(key, Number(value), `--config ${key}`);
    }
  }
  for (const [flag, key] of THRESHOLD_FLAGS) {
    const raw = values[flag];
    if (typeof raw === "string") merged[key] = checkedThreshold(key, Number(raw), `--${flag}`);
  }
  return merged as unknown as GateThresholds;
}

function checkedThreshold(key: string, value: number, where: string): number {
  const fraction = ["shiftAlpha", "confidence"].includes(key);
  const ok = Number.isFinite(value) && value >= 0 && (!fraction || (value > 0 && value < 1));
  if (!ok) throw new PromotionError(`${where}: expected ${fraction ? "a number between 0 and 1" : "a number >= 0"}, got ${value}`, "USAGE");
  return value;
}

function gates(names: readonly string[]): Set<GateName> {
  for (const name of names) {
    if (!(GATE_NAMES as readonly string[]).includes(name)) throw new PromotionError(`--skip ${name}: expected one of ${GATE_NAMES.join(", ")}`, "USAGE");
  }
  return new Set(names as GateName[]);
}

function task(value: string | undefined): Task | undefined {
  if (value === undefined) return undefined;
  if (!isTask(value)) throw new PromotionError(`--task ${value}: expected one of ${TASKS.join(", ")}`, "USAGE");
  return value;
}

function required(value: unknown, flag: string): string {
  if (typeof value !== "string" || value === "") throw new PromotionError(`${flag} is required`, "USAGE");
  return value;
}

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new PromotionError(`${flag} ${value}: expected a positive number`, "USAGE");
  return n;
}

const consoleOutput: Output = { log: (text) => console.log(text), error: (text) => console.error(text) };

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
