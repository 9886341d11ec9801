/**
 * npm run score -- --model <models:/...|DIR> --input <file|dir|s3://...> --output <file.parquet|file.csv|s3://...>
 *                  [--rejects <file|s3://...>] [--columns a,b,c] [--shard-index i --shard-count n] [--workers n]
 *
 * Exit code 0 when every row was scored or rejected (rejected rows are in the rejects file and counted in the
 * summary, a JSON line on stdout); 2 for bad arguments, a model the service would refuse, or an input that
 * cannot be read as a table of the model's columns (one line naming the file and column, nothing written);
 * 1 when the run itself failed (registry or S3 outage, a crashed worker).
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config";
import { ENV, REJECT_COLUMNS, SCORED_COLUMNS, SHARD_PLACEHOLDER } from "../contract";
import { ScoringInputError } from "./errors";
import { runScoringJob, type ScoringJobConfig } from "./job";

export const USAGE = `Usage: npm run score -- --model <uri> --input <uri> --output <uri> [options]

  --model <uri>          models:/<name>@<alias>, models:/<name>/<stage>, models:/<name>/<version> or a model directory
                         (default: ${ENV.modelUri}); registry access as the service's (${ENV.mlflowTrackingUri}, ...)
  --input <uri>          CSV, NDJSON or Parquet file, a directory, or s3://bucket/prefix/ (every table under it); repeatable
  --output <uri>         .parquet or .csv, local or s3://bucket/key: the input columns, the task's prediction columns,
                         ${Object.values(SCORED_COLUMNS).join(", ")}. With several shards it must hold ${SHARD_PLACEHOLDER}
  --rejects <uri>        rows the model's contract refuses (${Object.values(REJECT_COLUMNS).join(", ")}, then the row as text).
                         Default: the output's name with .rejects before the extension, written when a row is rejected
  --columns <a,b,...>    input columns to carry to the output (default: all)
  --shard-index <i>      this shard (default: ${ENV.jobCompletionIndex}, else 0)
  --shard-count <n>      shards of the run (default 1): Parquet row groups and text files are dealt round-robin
  --workers <n>          scoring threads (default: ${availableParallelism()}, one per core)
  --progress-seconds <s> between progress lines when stderr is not a terminal (default 10)
`;

function integer(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ScoringInputError(`${flag} ${value}: expected an integer >= ${min}`);
  return n;
}

export function parseScoringArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ScoringJobConfig | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: "string" },
        input: { type: "string", multiple: true },
        output: { type: "string" },
        rejects: { type: "string" },
        columns: { type: "string" },
        "shard-index": { type: "string" },
        "shard-count": { type: "string" },
        workers: { type: "string" },
        "progress-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ScoringInputError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return "help";
  const modelUri = values.model ?? env[ENV.modelUri];
  if (!modelUri) throw new ScoringInputError(`--model is required (or set ${ENV.modelUri})\n\n${USAGE}`);
  if (!values.input?.length) throw new ScoringInputError(`--input is required\n\n${USAGE}`);
  if (!values.output) throw new ScoringInputError(`--output is required\n\n${USAGE}`);
  const count = integer(values["shard-count"], "--shard-count", 1) ?? 1;
  const index = integer(values["shard-index"], "--shard-index", 0) ?? integer(env[ENV.jobCompletionIndex] || undefined, ENV.jobCompletionIndex, 0) ?? 0;
  if (index >= count) throw new ScoringInputError(`shard index ${index} is not below the shard count ${count}`);
  const placed = (uri: string | undefined, flag: string) => {
    if (uri === undefined) return undefined;
    if (count > 1 && !uri.includes(SHARD_PLACEHOLDER)) throw new ScoringInputError(`${flag} ${uri}: with ${count} shards each writes its own file; put ${SHARD_PLACEHOLDER} in the name`);
    return uri.split(SHARD_PLACEHOLDER).join(String(index).padStart(5, "0"));
  };
  let config;
  try {
    // The service's own settings parser: the same URI forms, registry settings and messages.
    config = loadConfig({ ...env, [ENV.modelUri]: modelUri });
  } catch (error) {
    if (error instanceof ConfigError) throw new ScoringInputError(error.message);
    throw error;
  }
  const progressSeconds = integer(values["progress-seconds"], "--progress-seconds", 1) ?? 10;
  return {
    model: { uri: config.model.uri, mlflow: config.mlflow, cacheDir: config.model.cacheDir, download: config.model.download },
    inputs: values.input,
    output: placed(values.output, "--output")!,
    rejects: placed(values.rejects, "--rejects"),
    columns: values.columns?.split(",").map((c) => c.trim()).filter((c) => c !== ""),
    shard: { index, count },
    workers: integer(values.workers, "--workers", 1),
    s3EndpointUrl: config.mlflow.s3EndpointUrl,
    progress: { stream: process.stderr, intervalMs: progressSeconds * 1000 },
    log: (line) => process.stderr.write(`score: ${line}\n`),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const config = parseScoringArgs(argv);
    if (config === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    const summary = await runScoringJob(config);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.stderr.write(
      `score: ${summary.read} rows read, ${summary.scored} scored, ${summary.rejected} rejected` +
        `${summary.rejected > 0 ? ` (in ${summary.rejects})` : ""} in ${summary.seconds} s, ${summary.rowsPerSecond} rows/s\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ScoringInputError) {
      process.stderr.write(`score: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`score: run failed: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
