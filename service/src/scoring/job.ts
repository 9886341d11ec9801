/**
 * `npm run score`: one shard of a batch scoring run. The model is pinned (one version for the whole run) and
 * loaded as the service loads it; the inputs are planned into units (Parquet row groups, text files) and this
 * shard's units are scored by a pool of workers, one per core; the scored rows and the rejects are written in
 * input order to outputs that only appear, whole, once every row is accounted for (read = scored + rejected).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { SchemaElement } from "hyparquet";
import { availableParallelism } from "node:os";
import { DriftInputError } from "../drift/errors";
import { openTable } from "../drift/readers";
import type { ColumnBatch } from "../drift/readers/batch";
import { createS3Client } from "../registry/s3-artifact-store";
import { ScoringInputError } from "./errors";
import { describeInputs, expandInputs, shardUnits, type InputTable, type PlannedUnit, type ShardSpec } from "./inputs";
import { loadPinnedModel, pinModel, type ModelLocation } from "./model";
import { defaultRejectsUri, outputFormat, TableOutput } from "./outputs";
import { planScoring, type InputColumn, type ScoringPlan } from "./plan";
import { ScoringPool } from "./pool";
import { Progress, type ProgressOptions } from "./progress";
import type { UnitResult } from "./protocol";

/** Rows per block handed to a worker from a text input. */
export const TEXT_BLOCK_ROWS = 65_536;

export interface ScoringJobConfig {
  readonly model: ModelLocation;
  /** Files, local directories or s3://bucket/prefix/ (every table under it). */
  readonly inputs: readonly string[];
  /** .parquet or .csv, local or s3://. */
  readonly output: string;
  /** @default the output's name with `.rejects` before the extension, written only when a row was rejected */
  readonly rejects?: string;
  /** Input columns carried to the output. @default all */
  readonly columns?: readonly string[];
  /** @default { index: 0, count: 1 } */
  readonly shard?: ShardSpec;
  /** @default availableParallelism() */
  readonly workers?: number;
  readonly s3EndpointUrl?: string;
  readonly progress?: Pick<ProgressOptions, "stream" | "intervalMs">;
  readonly log?: (line: string) => void;
}

export interface ScoringSummary {
  readonly model: string;
  readonly version: string;
  readonly task: string;
  readonly inputs: readonly string[];
  readonly output: string | null;
  readonly rejects: string | null;
  readonly shard: ShardSpec;
  readonly units: number;
  readonly read: number;
  readonly scored: number;
  readonly rejected: number;
  /** Of the rejected: rows the reader could not parse (a CSV row with too many fields, a line that is not JSON). */
  readonly unparsable: number;
  readonly workers: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** The process's peak resident set (main thread and workers): what bounded memory means here. */
  readonly peakRssBytes: number;
  readonly outputBytes: number;
}

interface Counts {
  read: number;
  scored: number;
  rejected: number;
  unparsable: number;
}

export async function runScoringJob(config: ScoringJobConfig): Promise<ScoringSummary> {
  const started = performance.now();
  const log = config.log ?? (() => undefined);
  const shard = config.shard ?? { index: 0, count: 1 };
  let client: S3Client | undefined;
  const s3 = () => (client ??= createS3Client(config.s3EndpointUrl));
  const format = outputFormat(config.output, "--output");
  const rejectsUri = config.rejects ?? defaultRejectsUri(config.output);
  const rejectsFormat = outputFormat(rejectsUri, "--rejects");

  const pinned = await pinModel(config.model);
  const tables = await describeInputs(await expandInputs(config.inputs, s3), s3);
  const units = shardUnits(tables, shard);
  // The workers load the model while this thread loads it too and plans: start-up costs one load, not two.
  const starting = units.length > 0 ? ScoringPool.start(config.workers ?? availableParallelism(), { pinned, s3EndpointUrl: config.s3EndpointUrl }) : undefined;
  starting?.catch(() => undefined);
  const served = await loadPinnedModel(pinned).catch(async (error: unknown) => {
    await starting?.then((p) => p.close(), () => undefined);
    throw error;
  });
  const { model } = served;
  log(`model ${model.identity.name} version ${model.identity.version} (${model.task.task}) from ${pinned.uri}`);
  const counts: Counts = { read: 0, scored: 0, rejected: 0, unparsable: 0 };
  const summary = (output: TableOutput | undefined, rejects: TableOutput | undefined): ScoringSummary => {
    const seconds = (performance.now() - started) / 1000;
    return {
      model: model.identity.name,
      version: model.identity.version,
      task: model.task.task,
      inputs: tables.map((t) => t.uri),
      output: output ? output.uri : null,
      rejects: rejects?.opened ? rejects.uri : null,
      shard,
      units: units.length,
      ...counts,
      workers: pool?.size ?? 0,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(counts.read / seconds),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      outputBytes: output?.bytes ?? 0,
    };
  };
  let pool: ScoringPool | undefined;
  if (units.length === 0) {
    await served.close();
    log(`shard ${shard.index} of ${shard.count} has no work: the inputs make ${shardUnits(tables, { index: 0, count: 1 }).length} unit(s) (row groups or text files)`);
    return summary(undefined, undefined);
  }

  const texts = new TextUnits(s3);
  let output: TableOutput | undefined;
  let rejects: TableOutput | undefined;
  let progress: Progress | undefined;
  try {
    const first = await texts.firstColumns(tables, units);
    const plan = planScoring(model, { inputFormat: tables[0]!.format, outputFormat: format, rejectsFormat, inputs: first.columns, keep: config.columns, source: first.source });
    for (const table of tables.slice(1)) if (table.metadata) checkSameColumns(plan, table, config.columns, model);
    await served.close();
    const keyValues = [
      { key: "modelport.model", value: plan.model.name },
      { key: "modelport.model_version", value: plan.model.version },
      { key: "modelport.task", value: plan.task },
      { key: "modelport.model_uri", value: pinned.uri },
      ...(model.task.threshold !== undefined ? [{ key: "modelport.threshold", value: String(model.task.threshold) }] : []),
    ];
    output = new TableOutput(config.output, format, plan.output, s3, keyValues);
    rejects = new TableOutput(rejectsUri, rejectsFormat, plan.rejects, s3);
    pool = await starting!;
    pool.plan(plan);
    log(`shard ${shard.index} of ${shard.count}: ${units.length} unit(s) on ${pool.size} worker(s)`);
    const total = units.every((u) => u.kind === "rowGroup") ? units.reduce((sum, u) => sum + (u.kind === "rowGroup" ? u.rows : 0), 0) : undefined;
    if (config.progress) progress = new Progress({ ...config.progress, total, counts: () => counts });
    await dispatch(units, plan, pool, texts, counts, output, rejects);
    progress?.stop();
    progress = undefined;
    if (counts.read === 0) throw new ScoringInputError(`${tables.map((t) => t.uri).join(", ")}: no rows to score`);
    if (counts.read !== counts.scored + counts.rejected) throw new Error(`rows read ${counts.read} != scored ${counts.scored} + rejected ${counts.rejected}`);
    await output.commit();
    if (config.rejects !== undefined || counts.rejected > 0) await rejects.commit();
    else await rejects.abort();
    return summary(output, rejects);
  } catch (error) {
    progress?.stop();
    await Promise.all([output?.abort(), rejects?.abort(), served.close()]);
    throw error instanceof DriftInputError ? new ScoringInputError(error.message, { cause: error }) : error;
  } finally {
    await texts.close();
    await (pool ?? (await starting?.catch(() => undefined)))?.close();
  }
}

type Settled = { readonly result: UnitResult } | { readonly error: unknown };

/** Feeds units to the pool, at most two per worker in flight, and writes their results in input order. */
async function dispatch(units: readonly PlannedUnit[], plan: ScoringPlan, pool: ScoringPool, texts: TextUnits, counts: Counts, output: TableOutput, rejects: TableOutput): Promise<void> {
  const inFlight: Promise<Settled>[] = [];
  const limit = pool.size * 2;
  let seq = 0;
  const settle = (work: Promise<UnitResult>) => inFlight.push(work.then((result) => ({ result }), (error: unknown) => ({ error })));
  const drainTo = async (left: number) => {
    while (inFlight.length > left) {
      const settled = await inFlight.shift()!;
      if ("error" in settled) throw settled.error;
      const { result } = settled;
      if (result.output) await output.append(result.output);
      if (result.rejects) await rejects.append(result.rejects);
      counts.read += result.read;
      counts.scored += result.scored;
      counts.rejected += result.rejected;
      counts.unparsable += result.malformed;
    }
  };
  try {
    for (const unit of units) {
      if (unit.kind === "rowGroup") {
        await drainTo(limit - 1);
        settle(pool.submit({ kind: "rowGroup", seq: seq++, input: unit.input, group: unit.group, rowStart: unit.rowStart }));
        continue;
      }
      let rowStart = 0;
      for await (const batch of texts.batches(unit.input)) {
        checkTextColumns(plan, unit.input, batch.names);
        await drainTo(limit - 1);
        const names = plan.inputs.map((c) => c.name);
        settle(
          pool.submit({
            kind: "block",
            seq: seq++,
            input: unit.input,
            rowStart,
            rows: batch.rows,
            names,
            columns: names.map((name) => batch.column(name) as unknown[] | undefined),
            malformedRows: batch.malformedRows ?? [],
          }),
        );
        rowStart += batch.rows + batch.malformed;
      }
    }
    await drainTo(0);
  } finally {
    // Nothing left unobserved when a unit fails: the others' outcomes no longer matter.
    await Promise.all(inFlight);
  }
}

/**
 * Text inputs, read on the main thread (they only stream). The first batch of the first one is read before
 * the workers start: its header is the plan's input columns, checked before anything is scored.
 */
class TextUnits {
  private pending?: { readonly uri: string; readonly first: ColumnBatch; readonly rest: AsyncGenerator<ColumnBatch> };
  private readonly open = new Set<AsyncGenerator<ColumnBatch>>();

  constructor(private readonly s3: () => S3Client) {}

  async firstColumns(tables: readonly InputTable[], units: readonly PlannedUnit[]): Promise<{ columns: InputColumn[]; source: string }> {
    const parquet = tables[0]!.metadata;
    if (parquet) return { columns: topLevelColumns(parquet.schema), source: tables[0]!.uri };
    for (const unit of units) {
      const reader = this.reader(unit.input);
      const first = await reader.next();
      if (first.done) continue;
      this.pending = { uri: unit.input, first: first.value, rest: reader };
      return { columns: first.value.names.map((name) => ({ name })), source: unit.input };
    }
    throw new ScoringInputError(`${units.map((u) => u.input).join(", ")}: no rows to score (no data rows after the header)`);
  }

  async *batches(uri: string): AsyncGenerator<ColumnBatch> {
    if (this.pending?.uri === uri) {
      const { first, rest } = this.pending;
      this.pending = undefined;
      yield first;
      yield* rest;
      return;
    }
    yield* this.reader(uri);
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((r) => r.return(undefined).catch(() => undefined)));
  }

  private reader(uri: string): AsyncGenerator<ColumnBatch> {
    const reader = openTable(uri, { role: "input", s3Client: this.s3, batchRows: TEXT_BLOCK_ROWS });
    this.open.add(reader);
    return reader;
  }
}

/** A Parquet schema's top-level columns; nested groups are not carried (and are refused as model inputs). */
function topLevelColumns(schema: readonly SchemaElement[]): InputColumn[] {
  const columns: InputColumn[] = [];
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    columns.push({ name: schema[i]!.name, element: schema[i]! });
    i = skip(i);
  }
  return columns;
}

/** Every Parquet input of a run yields the same output columns (same names and types) as the first. */
function checkSameColumns(plan: ScoringPlan, table: InputTable, keep: readonly string[] | undefined, model: Parameters<typeof planScoring>[0]): void {
  const other = planScoring(model, { inputFormat: "parquet", outputFormat: plan.outputFormat, rejectsFormat: plan.rejectsFormat, inputs: topLevelColumns(table.metadata!.schema), keep, source: table.uri });
  const describe = (p: ScoringPlan) => JSON.stringify(p.output.map((c) => [c.name, c.element.type, c.element.converted_type, c.element.logical_type]));
  const sameInputs = JSON.stringify(other.inputs.map((c) => c.name)) === JSON.stringify(plan.inputs.map((c) => c.name));
  if (describe(other) !== describe(plan) || !sameInputs) {
    throw new ScoringInputError(`${table.uri}: its columns (${other.inputs.map((c) => c.name).join(", ")}) or their types differ from the run's first input's (${plan.inputs.map((c) => c.name).join(", ")}): score differently shaped files in separate runs`);
  }
}

/** A text input's header must be the run's first header (the plan's input columns), in the same order. */
function checkTextColumns(plan: ScoringPlan, uri: string, names: readonly string[]): void {
  const expected = plan.inputs.map((c) => c.name);
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
    throw new ScoringInputError(`${uri}: its columns (${names.join(", ")}) differ from the run's first input's (${expected.join(", ")}): score differently shaped files in separate runs`);
  }
}
