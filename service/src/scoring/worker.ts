/**
 * One scoring worker thread: loads the pinned version with the service's ModelManager (its own session, one
 * ORT thread) while the main thread plans, takes the plan, then work units one at a time: reads its Parquet row group itself or takes parsed
 * columns, scores them (BatchScorer), encodes the scored rows and the rejects in the output formats, and hands
 * the bytes back. Blocks of one unit never interleave, so a worker holds one unit's rows at a time.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { parquetMetadataAsync, type AsyncBuffer, type FileMetaData } from "hyparquet";
import { Registry } from "prom-client";
import { parentPort, workerData } from "node:worker_threads";
import { DriftInputError } from "../drift/errors";
import { openParquetBuffer, parseTableUri } from "../drift/readers";
import { readParquetRowGroup } from "../drift/readers/parquet";
import { createServiceMetrics } from "../metrics/service-metrics";
import type { LoadedModel } from "../model/model-manager";
import { createPredictor } from "../model/predictor";
import { createS3Client } from "../registry/s3-artifact-store";
import { BatchScorer, type BlockInput, type ScoredColumn } from "./batch-scorer";
import { encodeChunk, encodeParquetColumns } from "./encode";
import { ScoringInputError } from "./errors";
import { loadPinnedModel } from "./model";
import { chunkRange, concatRowGroups, copiedChunk, type EncodedRowGroup } from "./parquet-chunks";
import type { ScoringPlan } from "./plan";
import type { EncodedChunk, PlanMessage, UnitResult, WorkerMessage, WorkerSetup, WorkUnit } from "./protocol";

/** The predictor's deadline: a batch job waits for its model however long it takes. */
const NO_DEADLINE_MS = 2 ** 31 - 1;

async function main(): Promise<void> {
  const port = parentPort!;
  const setup = workerData as WorkerSetup;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  let loaded: LoadedModel;
  try {
    loaded = (await loadPinnedModel(setup.pinned)).model;
  } catch (error) {
    post({ kind: "failed", error: (error as Error).message, input: error instanceof ScoringInputError });
    return;
  }
  // Rows are named by BatchScorer (ids derived from the input and row), so the predictor's own ids would be discarded.
  const predictor = createPredictor({ variant: "stable", metrics: createServiceMetrics(new Registry()), requestTimeoutMs: NO_DEADLINE_MS, newPredictionId: () => "" });
  const files = new ParquetFiles(setup.s3EndpointUrl);
  let scorer: BatchScorer | undefined;
  let plan: ScoringPlan | undefined;
  let queue = Promise.resolve();
  port.on("message", (message: PlanMessage | WorkUnit) => {
    if (message.kind === "plan") {
      plan = message.plan;
      scorer = new BatchScorer(loaded, predictor, plan);
      return;
    }
    const unit = message;
    queue = queue.then(async () => {
      try {
        const result = await runUnit(unit, scorer!, plan!, files);
        post({ kind: "done", ...result }, [result.output, result.rejects].flatMap((c) => (c ? [c.bytes.buffer as ArrayBuffer] : [])));
      } catch (error) {
        const input = error instanceof ScoringInputError || error instanceof DriftInputError;
        post({ kind: "error", seq: unit.seq, error: (error as Error).message, input });
      }
    });
  });
  post({ kind: "ready" });
}

async function runUnit(unit: WorkUnit, scorer: BatchScorer, plan: ScoringPlan, files: ParquetFiles): Promise<UnitResult> {
  const block = unit.kind === "rowGroup" ? await files.rowGroup(unit) : blockOf(unit);
  const scored = await scorer.score(block);
  const copyThrough = unit.kind === "rowGroup" && plan.outputFormat === "parquet" && scored.rejected === 0 && scored.scored > 0;
  return {
    seq: unit.seq,
    output: copyThrough ? await files.copyThrough(unit, plan, scored.output, scored.scored) : encodeChunk(plan.outputFormat, plan.output, scored.output, scored.scored),
    rejects: encodeChunk(plan.rejectsFormat, plan.rejects, scored.rejects, scored.rejected),
    read: scored.read,
    scored: scored.scored,
    rejected: scored.rejected,
    malformed: scored.malformed,
  };
}

function blockOf(unit: Extract<WorkUnit, { kind: "block" }>): BlockInput {
  const index = new Map(unit.names.map((name, i) => [name, i]));
  return {
    input: unit.input,
    rowStart: unit.rowStart,
    rows: unit.rows,
    malformedRows: unit.malformedRows,
    column: (name) => {
      const i = index.get(name);
      return i === undefined ? undefined : unit.columns[i];
    },
  };
}

/** The Parquet file a worker is reading (units of one file come in a row), footer read once. */
class ParquetFiles {
  private current?: { readonly uri: string; readonly file: AsyncBuffer; readonly metadata: FileMetaData };
  private s3?: S3Client;

  constructor(private readonly s3EndpointUrl?: string) {}

  async rowGroup(unit: Extract<WorkUnit, { kind: "rowGroup" }>): Promise<BlockInput> {
    try {
      if (this.current?.uri !== unit.input) {
        const file = await openParquetBuffer(parseTableUri(unit.input), { s3Client: () => (this.s3 ??= createS3Client(this.s3EndpointUrl)) });
        this.current = { uri: unit.input, file, metadata: await parquetMetadataAsync(file) };
      }
      const batch = await readParquetRowGroup(this.current.file, this.current.metadata, unit.group);
      return { input: unit.input, rowStart: unit.rowStart, rows: batch.rows, column: (name) => batch.column(name) };
    } catch (error) {
      throw new ScoringInputError(`cannot read row group ${unit.group} of ${unit.input}: ${(error as Error).message}`);
    }
  }

  /**
   * A row group in which every row was scored: the carried input columns' chunks are copied from the input as
   * they are (no re-encoding), the scorer's columns encoded and appended after them.
   */
  async copyThrough(unit: Extract<WorkUnit, { kind: "rowGroup" }>, plan: ScoringPlan, values: readonly ScoredColumn[], rows: number): Promise<EncodedChunk> {
    const { file, metadata } = this.current!;
    const chunks = metadata.row_groups[unit.group]!.columns;
    const parts: EncodedRowGroup[] = [];
    const added: number[] = [];
    for (let k = 0; k < plan.output.length; k++) {
      const column = plan.output[k]!;
      const chunk = column.source.kind === "cell" ? chunks.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === column.name) : undefined;
      if (column.source.kind !== "cell") added.push(k);
      else if (chunk) {
        const { start, end } = chunkRange(chunk);
        parts.push(copiedChunk(chunk, new Uint8Array(await file.slice(start, end)), rows));
      } else {
        // A carried column this file lacks: written as nulls, like any other encoded column.
        parts.push(encodeParquetColumns([column], [values[k]!], rows));
      }
    }
    parts.push(encodeParquetColumns(added.map((k) => plan.output[k]!), added.map((k) => values[k]!), rows));
    return { format: "parquet", rows, ...concatRowGroups(parts, rows) };
  }
}

void main();
