/**
 * npm run drift -- --reference <file|s3://...> --current <file|s3://...> --out <dir|s3://bucket[/prefix]>
 * npm run drift -- --model flight-delay --window 24h --out s3://reports    (current data from the prediction log)
 *
 * Exit code 0 whether or not drift was found; 2 for bad arguments or input; 1 when the run itself failed.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DRIFT_COLUMNS, EMBEDDED_MODEL_DIR, EMBEDDED_MODEL_NAME, ENV, TASKS, isTask, type Task } from "../contract";
import { projectRoot } from "../paths";
import type { ColumnOverride, DriftOptions } from "./analyze";
import { DriftInputError } from "./errors";
import { runDriftJob, type DriftJobConfig } from "./job";
import { DEFAULT_VARIANTS } from "./readers/prediction-log";
import { METHOD_NAMES, type MethodName } from "./stats/methods";

export const USAGE = `Usage: npm run drift -- [options]

Data
  --reference <uri>         reference table (CSV, NDJSON or Parquet; local path or s3://). Default: the model's reference.csv
  --current <uri>           current table, or:
  --model <name>            model name; with --window, current data is the prediction log (${ENV.predictionLogUrl})
  --window <duration>       log window ending at --end, e.g. 30m, 24h, 7d
  --end <time>              window end (ISO 8601). Default: now
  --variant <name>          variants to read from the log, repeatable. Default: ${DEFAULT_VARIANTS.join(", ")}
  --model-dir <dir>         MLflow model directory (column types, reference.csv). Default: the embedded model for --model ${EMBEDDED_MODEL_NAME}
  --task <task>             the model's task, ${TASKS.join(", ")}: which columns are its prediction and target
                            (${TASKS.map((t) => `${t}: ${DRIFT_COLUMNS[t].prediction.name}${DRIFT_COLUMNS[t].target ? `/${DRIFT_COLUMNS[t].target!.name}` : ""}`).join(", ")}). Default: binary
Tests
  --method <name>           test for every column: ${METHOD_NAMES.join(", ")}. Default: Evidently's choice per column
  --threshold <x>           threshold for every column
  --column-method <col=name>      per-column test, repeatable
  --column-threshold <col=x>      per-column threshold, repeatable
  --drift-share <x>         share of drifted features that makes dataset drift. Default: 0.5
  --config <file.json>      {"all": {"method", "threshold"}, "columns": {"<col>": {...}}, "driftShare": x}
Output
  --out <dir|s3://bucket[/prefix]>  repeatable; s3 outputs go to <prefix>/drift-reports/<model>/<date>/. Default: ./drift-report
  --pushgateway <url>       Default: ${ENV.pushgatewayUrl}; --no-push to skip
`;

const DURATION_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function parseDuration(text: string, flag = "--window"): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) throw new DriftInputError(`${flag} ${text}: expected a positive duration like 30s, 24h or 7d`);
  return Number(match[1]) * DURATION_UNITS[match[2]];
}

function parseMethod(value: string, flag: string): MethodName {
  if (!(METHOD_NAMES as readonly string[]).includes(value)) throw new DriftInputError(`${flag} ${value}: expected one of ${METHOD_NAMES.join(", ")}`);
  return value as MethodName;
}

function parseThreshold(value: string | number, flag: string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!(Number.isFinite(n) && n >= 0) || (typeof value === "string" && value.trim() === "")) throw new DriftInputError(`${flag} ${value}: expected a number >= 0`);
  return n;
}

function parsePairs(values: readonly string[], flag: string): [string, string][] {
  return values.map((pair) => {
    const at = pair.lastIndexOf("=");
    if (at <= 0 || at === pair.length - 1) throw new DriftInputError(`${flag} ${pair}: expected <column>=<value>`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
}

function parseOverride(raw: unknown, where: string): ColumnOverride {
  if (raw === null || typeof raw !== "object") throw new DriftInputError(`${where}: expected an object with method and/or threshold`);
  const { method, threshold, ...rest } = raw as Record<string, unknown>;
  if (Object.keys(rest).length) throw new DriftInputError(`${where}: unknown keys ${Object.keys(rest).join(", ")}`);
  return {
    method: method === undefined ? undefined : parseMethod(String(method), `${where}.method`),
    threshold: threshold === undefined ? undefined : parseThreshold(threshold as number, `${where}.threshold`),
  };
}

function readConfigFile(path: string): DriftOptions {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new DriftInputError(`--config ${path}: ${(error as Error).message}`);
  }
  const columns: Record<string, ColumnOverride> = {};
  for (const [name, value] of Object.entries((raw.columns as Record<string, unknown>) ?? {})) columns[name] = parseOverride(value, `${path}: columns.${name}`);
  return {
    all: raw.all === undefined ? undefined : parseOverride(raw.all, `${path}: all`),
    columns,
    driftShare: raw.driftShare === undefined ? undefined : parseThreshold(raw.driftShare as number, `${path}: driftShare`),
  };
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, now = new Date()): DriftJobConfig | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        reference: { type: "string" },
        current: { type: "string" },
        model: { type: "string" },
        "model-dir": { type: "string" },
        task: { type: "string" },
        window: { type: "string" },
        end: { type: "string" },
        variant: { type: "string", multiple: true },
        method: { type: "string" },
        threshold: { type: "string" },
        "column-method": { type: "string", multiple: true },
        "column-threshold": { type: "string", multiple: true },
        "drift-share": { type: "string" },
        config: { type: "string" },
        out: { type: "string", multiple: true },
        pushgateway: { type: "string" },
        "no-push": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new DriftInputError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.task !== undefined && !isTask(v.task)) throw new DriftInputError(`--task ${v.task}: expected one of ${TASKS.join(", ")}`);
  const task: Task | undefined = v.task;

  const fileOptions = v.config ? readConfigFile(v.config) : {};
  const columns: Record<string, ColumnOverride> = { ...fileOptions.columns };
  for (const [name, method] of parsePairs(v["column-method"] ?? [], "--column-method")) columns[name] = { ...columns[name], method: parseMethod(method, `--column-method ${name}`) };
  for (const [name, value] of parsePairs(v["column-threshold"] ?? [], "--column-threshold")) columns[name] = { ...columns[name], threshold: parseThreshold(value, `--column-threshold ${name}`) };
  const all: ColumnOverride = {
    ...fileOptions.all,
    ...(v.method ? { method: parseMethod(v.method, "--method") } : {}),
    ...(v.threshold ? { threshold: parseThreshold(v.threshold, "--threshold") } : {}),
  };
  const driftShare = v["drift-share"] ? parseThreshold(v["drift-share"], "--drift-share") : fileOptions.driftShare;
  if (driftShare !== undefined && driftShare > 1) throw new DriftInputError(`--drift-share ${driftShare}: expected a share between 0 and 1`);

  const embedded = join(projectRoot(), EMBEDDED_MODEL_DIR);
  const modelDir = v["model-dir"] ?? (v.model === EMBEDDED_MODEL_NAME && existsSync(embedded) ? embedded : undefined);

  let current: DriftJobConfig["current"];
  if (v.current && v.window) throw new DriftInputError("give either --current <uri> or --model with --window, not both");
  if (v.current) {
    current = { uri: v.current };
  } else if (v.window) {
    if (!v.model) throw new DriftInputError("--window reads the prediction log and needs --model <name>");
    const connectionString = env[ENV.predictionLogUrl];
    if (!connectionString) throw new DriftInputError(`--window reads the prediction log: set ${ENV.predictionLogUrl}`);
    const end = v.end ? new Date(v.end) : now;
    if (Number.isNaN(end.getTime())) throw new DriftInputError(`--end ${v.end}: expected an ISO 8601 time`);
    current = { log: { connectionString, start: new Date(end.getTime() - parseDuration(v.window)), end, variants: v.variant } };
  } else {
    throw new DriftInputError(`no current data: pass --current <uri>, or --model <name> --window <duration>\n\n${USAGE}`);
  }
  if (!v.reference && !modelDir) throw new DriftInputError("no reference data: pass --reference <uri> or --model-dir <dir>");

  return {
    model: v.model,
    task,
    modelDir,
    reference: v.reference,
    current,
    options: { all: Object.keys(all).length ? all : undefined, columns, driftShare },
    outputs: v.out?.length ? v.out : ["drift-report"],
    pushgatewayUrl: v["no-push"] ? undefined : (v.pushgateway ?? (env[ENV.pushgatewayUrl] || undefined)),
    s3EndpointUrl: env[ENV.mlflowS3EndpointUrl] || undefined,
    log: (message) => process.stderr.write(`drift: ${message}\n`),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const config = parseCli(argv);
    if (config === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    await runDriftJob(config);
    return 0;
  } catch (error) {
    if (error instanceof DriftInputError) {
      process.stderr.write(`drift: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`drift: run failed: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
