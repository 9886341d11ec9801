/**
 * Messages between the worker pool (event-loop thread) and its inference workers. Records and tensors go over by
 * structured clone (about a microsecond per small record); results come back with their buffers transferred,
 * not copied.
 */
import type { RowValues } from "../tasks/task";
import type { ExecutionProviderPlacement, ExecutionProviderSettings } from "./execution-provider";
import type { ScorerModel } from "./model-contract";
import type { TensorMap } from "./tensors";
import type { FeatureRecord, TensorMetadata, TensorRequest } from "./types";

/** Passed as workerData when a worker starts: what OnnxScorer.load needs. */
export interface WorkerModel {
  readonly model: ScorerModel;
  /** @default CPU */
  readonly provider?: ExecutionProviderSettings;
  /** The example a GPU provider's session is verified with (OnnxScorerOptions.verifyWith). */
  readonly verifyWith?: TensorRequest;
}

export interface ModelIo {
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
}

export type RunRequest =
  | { readonly id: number; readonly records: readonly FeatureRecord[] }
  | { readonly id: number; readonly tensors: TensorRequest["tensors"] };

export type WorkerMessage =
  | { readonly kind: "ready"; readonly io: ModelIo; readonly placement: ExecutionProviderPlacement }
  | { readonly kind: "failed"; readonly error: string; readonly providerError?: boolean }
  | { readonly kind: "rows"; readonly id: number; readonly rows: RowValues }
  | { readonly kind: "tensors"; readonly id: number; readonly outputs: TensorMap }
  | { readonly kind: "error"; readonly id: number; readonly error: string; readonly runFailed?: boolean };
