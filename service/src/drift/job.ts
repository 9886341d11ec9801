/**
 * The drift job: reference and current data in, report.json + report.html + Pushgateway metrics out. The CLI
 * (cli.ts) and the DriftMonitor CronJob both run this; tests call it directly.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { join } from "node:path";
import { DRIFT_COLUMNS, type Task } from "../contract";
import { ModelPackageError, readModelPackage, REFERENCE_FILE, type ModelPackage } from "../model/mlmodel";
import { createS3Client } from "../registry/s3-artifact-store";
import { analyzeDrift, type DriftOptions } from "./analyze";
import { DatasetSummary, type ColumnPlan, type ColumnRole } from "./dataset";
import { DriftInputError } from "./errors";
import { renderHtml } from "./html";
import { pushDriftMetrics } from "./push";
import type { ColumnBatch } from "./readers/batch";
import { openTable } from "./readers";
import { openPredictionLog } from "./readers/prediction-log";
import { REPORT_SCHEMA, writeReport, type DriftReport, type WrittenReport } from "./report";
import type { ColumnKind } from "./stats/methods";

export interface PredictionLogCurrent {
  /** PREDICTION_LOG_URL: postgres:// or s3://bucket/prefix. */
  readonly connectionString: string;
  readonly start: Date;
  readonly end: Date;
  readonly variants?: readonly string[];
}

export interface DriftJobConfig {
  /** Model name: the report's title, the storage folder, the Pushgateway group, the log filter. */
  readonly model?: string;
  /** The model's task: its prediction and target columns (DRIFT_COLUMNS). @default "binary" */
  readonly task?: Task;
  /** MLflow model directory: column types from its signature, reference.csv as the default reference. */
  readonly modelDir?: string;
  /** Reference table URI. @default <modelDir>/reference.csv */
  readonly reference?: string;
  /** Current data: a table URI, or the prediction log over a window. */
  readonly current: { readonly uri: string } | { readonly log: PredictionLogCurrent };
  readonly options?: DriftOptions;
  /** Local folders and/or s3://bucket[/prefix] outputs. */
  readonly outputs: readonly string[];
  readonly pushgatewayUrl?: string;
  readonly s3EndpointUrl?: string;
  readonly log?: (message: string) => void;
}

export interface DriftJobResult {
  readonly report: DriftReport;
  readonly written: readonly WrittenReport[];
  readonly pushed: boolean;
}

const NUMERIC_TYPES = new Set(["integer", "long", "float", "double"]);

export const EXACTNESS_NOTE =
  "Exact: row counts, category counts, means and standard deviations; the KS statistic and its p-value " +
  "(scipy ks_2samp 'auto': exact lattice-path probability up to 10,000 values a side, else the kstwo distribution); " +
  "chi-squared p-values (regularized incomplete gamma, accurate in the far tails); z-test p-values as Evidently computes " +
  "them, 2(1 - Phi(|z|)), which reach 0 beyond |z| of about 8.3; Jensen-Shannon (natural log) and PSI over categories. Numeric summaries are exact up to 65,536 distinct values per column; beyond that values are " +
  "kept as counts and sums between edges (reference values and the first distinct values seen), which keeps KS exact " +
  "against an exact reference and bounds the Wasserstein error (stated per column); histograms are then drawn from " +
  "interval means. Categories beyond 10,000 per column are pooled.";

export async function runDriftJob(config: DriftJobConfig): Promise<DriftJobResult> {
  const log = config.log ?? (() => undefined);
  const started = Date.now();
  const pkg = config.modelDir ? await loadPackage(config.modelDir) : undefined;
  const referenceUri = config.reference ?? (pkg ? join(pkg.dir, REFERENCE_FILE) : undefined);
  if (!referenceUri) throw new DriftInputError("no reference data: pass --reference, or --model-dir with a model that ships reference.csv");
  const model = config.model ?? (pkg ? pkg.dir.split("/").filter(Boolean).pop()! : "unnamed");
  const task = config.task ?? "binary";
  let s3: S3Client | undefined;
  const s3Client = () => (s3 ??= createS3Client(config.s3EndpointUrl));

  // Reference first: it fixes the columns, their kinds and the edges the current summaries keep.
  const declared = pkg ? plansFromSignature(pkg, task, log) : undefined;
  const reference = await summarize(openTable(referenceUri, { role: "reference", columns: declared?.map((p) => p.name), s3Client }), declared ?? { infer: task });
  if (reference.rows === 0) throw new DriftInputError(`the reference data ${referenceUri} has no rows`);
  log(`reference: ${reference.rows} rows from ${referenceUri}`);

  const plans: ColumnPlan[] = [...reference.columns.values()].map(({ plan }) => ({ ...plan, kind: reference.resolvedKind(plan.name) }));
  const anchors = (name: string) => {
    const numeric = reference.columns.get(name)?.numeric;
    return numeric?.isExact ? numeric.points().values : undefined;
  };
  let currentSource: string;
  let window: DriftReport["window"] = null;
  let batches: AsyncIterable<ColumnBatch>;
  if ("uri" in config.current) {
    currentSource = config.current.uri;
    batches = openTable(config.current.uri, { role: "current", columns: plans.map((p) => p.name), s3Client });
  } else {
    if (!config.model) throw new DriftInputError("reading the prediction log needs a model name (--model)");
    const { connectionString, start, end, variants } = config.current.log;
    currentSource = "prediction_log";
    window = { start: start.toISOString(), end: end.toISOString() };
    const features = plans.filter((p) => p.role === "feature").map((p) => p.name);
    batches = openPredictionLog({ connectionString, model: config.model, task, start, end, variants, features });
  }
  const current = await summarize(batches, plans, anchors);
  log(`current: ${current.rows} rows from ${currentSource}${window ? ` (${window.start} .. ${window.end})` : ""}`);

  const analysis = analyzeDrift(reference, current, config.options);
  const report: DriftReport = {
    schema: REPORT_SCHEMA,
    model,
    generatedAt: new Date().toISOString(),
    window,
    reference: { source: referenceUri, rows: reference.rows, malformedRows: reference.malformedRows },
    current: { source: currentSource, rows: current.rows, malformedRows: current.malformedRows },
    method: EXACTNESS_NOTE,
    ...analysis,
    skipped: current.rows === 0 ? plans.map((p) => ({ column: p.name, role: p.role, reason: "no rows in the current data" })) : analysis.skipped,
  };
  if (current.rows === 0) log(`warning: no current rows${window ? " in the window" : ""}; nothing was compared`);
  const html = renderHtml(report);
  const written: WrittenReport[] = [];
  for (const out of config.outputs) {
    try {
      written.push(await writeReport(out, report, html, s3Client));
    } catch (error) {
      throw new Error(`writing the report to ${out} failed: ${(error as Error).message}`, { cause: error });
    }
  }
  for (const w of written) log(`report: ${w.json} and ${w.html}`);
  let pushed = false;
  if (config.pushgatewayUrl) {
    await pushDriftMetrics(config.pushgatewayUrl, report);
    pushed = true;
    log(`metrics pushed to ${config.pushgatewayUrl}`);
  }
  log(`dataset drift: ${report.dataset.drifted} (${report.dataset.driftedColumns}/${report.dataset.columns} features) in ${((Date.now() - started) / 1000).toFixed(2)} s`);
  return { report, written, pushed };
}

async function loadPackage(dir: string): Promise<ModelPackage> {
  try {
    return await readModelPackage(dir);
  } catch (error) {
    if (error instanceof ModelPackageError) throw new DriftInputError(error.message, { cause: error });
    throw error;
  }
}

/** The task's prediction and target columns (DRIFT_COLUMNS), with the kind each is compared as. */
export function outputPlans(task: Task): ColumnPlan[] {
  const { prediction, target } = DRIFT_COLUMNS[task];
  return [
    { name: prediction.name, role: "prediction", kind: prediction.kind },
    ...(target ? [{ name: target.name, role: "target" as const, kind: target.kind }] : []),
  ];
}

/**
 * Signature inputs as features (binary and datetime inputs are not compared), plus the task's prediction and
 * target. A tensor model's inputs are tensors, not columns: only its prediction (the output norm) is compared.
 */
export function plansFromSignature(pkg: ModelPackage, task: Task = "binary", log: (message: string) => void = () => undefined): ColumnPlan[] {
  const plans: ColumnPlan[] = [];
  if (task === "tensor") log("tensor model: inputs are tensors, only the output norm is compared");
  for (const input of task === "tensor" ? [] : pkg.inputs) {
    if (input.type === "binary" || input.type === "datetime") {
      log(`column ${input.name}: ${input.type} inputs are not compared`);
      continue;
    }
    const kind: ColumnKind = NUMERIC_TYPES.has(input.type) ? "numeric" : "categorical";
    plans.push({ name: input.name, role: "feature", kind, boolean: input.type === "boolean" });
  }
  return [...plans, ...outputPlans(task)];
}

/** A reference column without a model signature: the task's prediction or target by name, else a feature. */
function planOf(name: string, task: Task): ColumnPlan {
  const output = outputPlans(task).find((plan) => plan.name === name);
  if (output) return output;
  if (name === "target" && DRIFT_COLUMNS[task].target) return { name, role: "target", kind: DRIFT_COLUMNS[task].target!.kind };
  return { name, role: "feature" as ColumnRole };
}

/** Feeds every batch into a summary; `infer` builds the plans from the first batch's column names. */
async function summarize(
  batches: AsyncIterable<ColumnBatch>,
  plans: readonly ColumnPlan[] | { readonly infer: Task },
  anchors?: (column: string) => Float64Array | undefined,
): Promise<DatasetSummary> {
  const infer = "infer" in plans ? plans.infer : undefined;
  let summary = infer ? undefined : new DatasetSummary(plans as readonly ColumnPlan[], anchors);
  for await (const batch of batches) {
    summary ??= new DatasetSummary(batch.names.map((name) => planOf(name, infer!)), anchors);
    summary.add(batch);
  }
  return summary ?? new DatasetSummary([]);
}
