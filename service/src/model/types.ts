/**
 * The seams between model loading (registry + ONNX session), scoring strategies (in-thread, worker pool,
 * micro-batching) and the routes. Routes never touch onnxruntime directly.
 */
import type { FallbackReason } from "../contract";
import type { RowValues, ServedTask } from "../tasks/task";
import type { ExecutionProviderPlacement } from "./execution-provider";
import type { ModelPackage } from "./mlmodel";
import type { ModelContract } from "./model-contract";
import type { TensorMap } from "./tensors";

/** One request record: column name -> raw JSON value, already validated against the signature. */
export type FeatureRecord = Readonly<Record<string, unknown>>;

export interface ScoreOptions {
  /** performance.now() time by which the answer is needed; past it the scorer rejects with ScoringRejectedError. */
  readonly deadline?: number;
}

/** Scores records with one loaded model version. */
export interface Scorer {
  /**
   * The version's row output per record, in order: `width` values each (probabilities for a classifier, the
   * value for a regressor). Rejects with ScoringRejectedError when the answer cannot come in time (deadline
   * passed, queue full), or with another error on a model failure.
   */
  score(records: readonly FeatureRecord[], options?: ScoreOptions): Promise<RowValues>;
  /** Frees the session(s). Called once no request uses this scorer any more. */
  close(): Promise<void>;
}

/** Graph-input tensors for one request, as the V2 codec decoded them. */
export interface TensorRequest {
  readonly tensors: TensorMap;
  /** Rows along dimension 0 (1 for a model without a batch axis). */
  readonly rows: number;
  /** Requests with the same key may be concatenated along dimension 0; undefined: this one runs alone. */
  readonly key?: string;
}

/** Runs the graph on tensors: every graph output, rows along dimension 0 as the inputs'. */
export interface TensorScorer {
  run(request: TensorRequest, options?: ScoreOptions): Promise<TensorMap>;
}

export type ServingScorer = Scorer &
  TensorScorer & {
    /** The execution provider that runs the graph, as checked at load. @default CPU (scorers that do not say) */
    readonly executionProvider?: ExecutionProviderPlacement;
  };

/** Where the served version came from (registry lineage), as shown by /model, /readyz and model_info. */
export interface ModelIdentity {
  readonly name: string;
  /** Registry version, or a content hash prefix for a local directory. */
  readonly version: string;
  readonly alias?: string;
  readonly stage?: string;
  readonly runId?: string;
  /** The URI the service was configured with (models:/..., or a path). */
  readonly uri: string;
  /** Model-version tags (git commit, dataset, ...) merged over run tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Run metrics (auc, accuracy, chosen_threshold, ...) or metrics.json for a local directory. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** A loaded, warmed model version ready to serve. Immutable: a reload builds a new one and swaps. */
export interface ServedModel {
  readonly identity: ModelIdentity;
  readonly package: ModelPackage;
  /** Task, column feeds, outputs, class labels: what the MLmodel, the graph and the tags say (model-contract.ts). */
  readonly contract: ModelContract;
  /** What the version's task means for every route (service/src/tasks/). */
  readonly task: ServedTask;
  /** binary: the decision threshold on P(positive) (chosen_threshold tag/metric, default 0.5); NaN for other tasks. */
  readonly threshold: number;
  /** Concurrent tensor requests may be coalesced along dimension 0 (the warm-up run confirmed the batch axis). */
  readonly batchAxis: boolean;
  readonly scorer: ServingScorer;
  /** The execution provider that runs the graph (EXECUTION_PROVIDER, checked at load). */
  readonly executionProvider: ExecutionProviderPlacement;
  /** ONNX graph inputs and outputs, for Open Inference Protocol metadata: exactly what infer takes and returns. */
  readonly io: {
    readonly inputs: readonly TensorMetadata[];
    readonly outputs: readonly TensorMetadata[];
  };
}

export interface TensorMetadata {
  readonly name: string;
  /** Open Inference Protocol datatype: BOOL, INT64, FP32, FP64, BYTES, ... */
  readonly datatype: string;
  /** -1 for a dynamic dimension. */
  readonly shape: readonly number[];
}

/**
 * The model could not answer in time, or cannot answer right now (no live inference worker: `model_unavailable`):
 * the route answers the configured fallback, or 503 with Retry-After. Expected control flow under overload
 * (thousands a second), so no stack trace is captured.
 */
export class ScoringRejectedError extends Error {
  declare readonly name: "ScoringRejectedError";
  readonly reason: FallbackReason;
  constructor(reason: FallbackReason, message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.reason = reason;
  }
}
Object.defineProperty(ScoringRejectedError.prototype, "name", { value: "ScoringRejectedError" });

/**
 * onnxruntime refused to run the graph on a tensor request that fit the contract (an index past a vocabulary, two
 * dynamic dimensions that must agree): the request's data, answered 400 with onnxruntime's message.
 */
export class ModelRunError extends Error {
  override readonly name = "ModelRunError";
}
