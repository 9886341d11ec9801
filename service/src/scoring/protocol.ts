/**
 * Messages between the batch scorer's main thread and its scoring workers. Work goes out as small descriptions
 * (a Parquet row group the worker reads itself) or as parsed columns (text formats, which only stream); results
 * come back encoded, in the output's format, with their buffers transferred.
 */
import type { RowGroup } from "hyparquet";
import type { MalformedRow } from "../drift/readers/batch";
import type { PinnedModel } from "./model";
import type { OutputFormat, ScoringPlan } from "./plan";

/** workerData: what a worker loads while the main thread plans (the plan follows as the first message). */
export interface WorkerSetup {
  readonly pinned: PinnedModel;
  readonly s3EndpointUrl?: string;
}

export interface PlanMessage {
  readonly kind: "plan";
  readonly plan: ScoringPlan;
}

export type WorkUnit =
  | { readonly kind: "rowGroup"; readonly seq: number; readonly input: string; readonly group: number; readonly rowStart: number }
  | {
      readonly kind: "block";
      readonly seq: number;
      readonly input: string;
      readonly rowStart: number;
      readonly rows: number;
      readonly names: readonly string[];
      readonly columns: readonly (readonly unknown[] | undefined)[];
      readonly malformedRows: readonly MalformedRow[];
    };

export type EncodedChunk =
  | { readonly format: Extract<OutputFormat, "parquet">; readonly rows: number; readonly bytes: Uint8Array; readonly rowGroup: RowGroup }
  | { readonly format: Extract<OutputFormat, "csv">; readonly rows: number; readonly bytes: Uint8Array };

export interface UnitResult {
  readonly seq: number;
  readonly output?: EncodedChunk;
  readonly rejects?: EncodedChunk;
  readonly read: number;
  readonly scored: number;
  readonly rejected: number;
  readonly malformed: number;
}

export type WorkerMessage =
  | { readonly kind: "ready" }
  | { readonly kind: "failed"; readonly error: string; readonly input: boolean }
  | ({ readonly kind: "done" } & UnitResult)
  | { readonly kind: "error"; readonly seq: number; readonly error: string; readonly input: boolean };
