/**
 * Messages between the worker pool (event-loop thread) and its inference workers. Records go over as they are
 * (structured clone: about a microsecond per small record); probabilities come back with their buffer
 * transferred, not copied.
 */
import type { ModelPackage } from "./mlmodel";
import type { FeatureRecord, TensorMetadata } from "./types";

/** Passed as workerData when a worker starts: what OnnxScorer.load needs. */
export type WorkerModel = Pick<ModelPackage, "onnxPath" | "inputs">;

export interface ModelIo {
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
}

export interface RunRequest {
  readonly id: number;
  readonly records: readonly FeatureRecord[];
}

export type WorkerMessage =
  | { readonly kind: "ready"; readonly io: ModelIo }
  | { readonly kind: "failed"; readonly error: string }
  | { readonly kind: "result"; readonly id: number; readonly probabilities: Float32Array }
  | { readonly kind: "error"; readonly id: number; readonly error: string };
