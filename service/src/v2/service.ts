/**
 * The Open Inference Protocol's operations, independent of the transport: the REST routes (routes.ts) and the gRPC
 * service (service/src/grpc/) both call these, so health, metadata and inference mean the same on either. Infer
 * pins the served version, decodes the request with the V2 codec (typed data, or raw bytes from gRPC), checks
 * column models' rows against their feature spec, and scores through the predictor (batcher, deadline, fallback,
 * task metrics, prediction log); the shadow gets the same work once the transport has answered. Failures are
 * V2RequestError (a client mistake), V2NotFoundError (unknown model or version) or V2UnavailableError (nothing
 * loaded, overloaded), which each transport turns into its own status.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tensorsToRecords } from "../model/feeds";
import type { LoadedModel, ModelManager } from "../model/model-manager";
import type { Arrival, Predictor } from "../model/predictor";
import type { TensorMap } from "../model/tensors";
import { ModelRunError, ScoringRejectedError, type FeatureRecord, type TensorMetadata } from "../model/types";
import { projectRoot } from "../paths";
import type { ScoredWork } from "../routes/predict";
import { V2RequestError, decodeInferRequest, type DecodedInferRequest, type V2Parameters } from "./codec";

/** ONNX models, in the protocol's platform naming (<framework>_<format>). */
export const V2_PLATFORM = "onnx_onnxv1";

export interface V2ServiceOptions {
  readonly models: Pick<ModelManager, "acquire" | "state" | "current">;
  /** Server readiness (false while shutting down), on top of a model being loaded. */
  readonly ready: () => boolean;
  readonly maxBatchRecords: number;
  readonly predictor: Predictor;
  /** Called after the response is sent (the shadow scores the same work). */
  readonly afterResponse?: (work: ScoredWork) => void;
}

/** The URL (REST) or request fields (gRPC) naming a model; an empty version means "whatever is served". */
export interface ModelRef {
  readonly name: string;
  readonly version?: string;
}

/** An unknown model or version: REST 404, gRPC NOT_FOUND. */
export class V2NotFoundError extends Error {
  override readonly name = "V2NotFoundError";
  readonly statusCode = 404;
}

/** Nothing loaded yet, or the model is overloaded without a fallback: REST 503 + Retry-After, gRPC UNAVAILABLE. */
export class V2UnavailableError extends Error {
  override readonly name = "V2UnavailableError";
  readonly statusCode = 503;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    /** Why the batcher refused it, when it did (shed, timeout, queue_full). */
    readonly reason?: ScoringRejectedError["reason"],
  ) {
    super(message);
  }
}

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: string[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** The protocol's optional model properties (string values): where the graph runs. */
  readonly properties: Record<string, string>;
}

/** An inference answer before the transport encodes its tensors. */
export interface V2InferAnswer {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: V2Parameters;
  readonly tensors: TensorMap;
  /** Output names to return, in order. */
  readonly outputs: readonly string[];
  /** Hands the work to the shadow; call it once the answer has gone out. */
  readonly afterResponse: () => void;
}

/** An inference request's contents as the codec takes them. */
export interface InferRequestData {
  /** The request in the REST codec's shape ({id, parameters, inputs: [{name, datatype, shape, data}], outputs}). */
  readonly body: unknown;
  /** gRPC raw_input_contents: the bytes of inputs[i], when the request carries its data that way. */
  readonly rawInputs?: readonly Uint8Array[];
}

export interface InferCall {
  readonly model: ModelRef;
  /**
   * The request's contents, read once the model it names is known to be served (so an unknown model is NOT_FOUND
   * whatever the body holds); may throw V2RequestError.
   */
  readonly request: () => InferRequestData;
  readonly arrival: Arrival;
  /** The id answered when the request brings none (REST: the request id). */
  readonly defaultId: string;
}

export interface V2Service {
  readonly server: ServerMetadata;
  /** Live and ready to serve inference. */
  ready(): boolean;
  /** Whether the named model is ready (false while none is loaded); throws V2NotFoundError for another model. */
  modelReady(ref: ModelRef): boolean;
  /** Throws V2UnavailableError while nothing is loaded, V2NotFoundError for another model or version. */
  metadata(ref: ModelRef): ModelMetadata;
  infer(call: InferCall): Promise<V2InferAnswer>;
}

export function createV2Service(options: V2ServiceOptions): V2Service {
  const { models, predictor } = options;
  const server: ServerMetadata = { name: "modelport", version: packageVersion(), extensions: [] };

  const served = (ref: ModelRef): LoadedModel => {
    const model = models.current;
    if (!model) throw notLoaded(models);
    checkRef(model, ref);
    return model;
  };

  return {
    server,
    ready: () => options.ready() && models.current !== undefined,
    modelReady(ref) {
      const model = models.current;
      if (!model) return false;
      checkRef(model, ref);
      return options.ready();
    },
    metadata(ref) {
      const model = served(ref);
      const id = model.identity;
      return { name: id.name, versions: [id.version], platform: V2_PLATFORM, inputs: model.io.inputs, outputs: model.io.outputs, properties: modelProperties(model) };
    },
    async infer(call) {
      // Pin the version for the whole request, like /predict: a hot swap cannot mix versions.
      const lease = models.acquire();
      if (!lease) throw notLoaded(models);
      try {
        const model = lease.model;
        checkRef(model, call.model);
        const { body, rawInputs } = call.request();
        const decoded = decodeInferRequest(
          body,
          { inputs: model.contract.inputs, outputs: model.contract.outputs, batchAxis: model.batchAxis },
          { maxRows: options.maxBatchRecords },
          rawInputs,
        );
        const records = model.task.tabular ? checkedRecords(model, decoded) : undefined;
        const work = { tensors: decoded.tensors, rows: decoded.rows, key: model.batchAxis ? decoded.key : undefined };
        let result;
        try {
          result = await predictor.tensors(model, work, decoded.outputs, call.arrival, records);
        } catch (error) {
          if (error instanceof ModelRunError) throw new V2RequestError(`the model cannot run on these inputs: ${error.message}`);
          if (error instanceof ScoringRejectedError) throw new V2UnavailableError(`model overloaded (${error.reason}); retry later`, 1, error.reason);
          throw error;
        }
        const { predictions, tensors } = result;
        const hook = options.afterResponse;
        return {
          model_name: model.identity.name,
          model_version: model.identity.version,
          id: decoded.id ?? call.defaultId,
          // OIP parameter values are scalars, so the ids (one per row, what POST /feedback takes) travel as one
          // comma-separated string.
          parameters: { fallback: predictions.some((p) => p.fallback), prediction_ids: predictions.map((p) => p.prediction_id).join(",") },
          tensors,
          outputs: decoded.outputs,
          afterResponse: hook ? () => hook(records ? { records, tensors: work } : { tensors: work }) : () => undefined,
        };
      } finally {
        lease.release();
      }
    },
  };
}

/** The protocol's model properties for a version: the execution provider that runs it, as checked at load. */
export function modelProperties(model: LoadedModel): Record<string, string> {
  const ep = model.executionProvider;
  return {
    execution_provider: ep.used,
    ...(ep.deviceId !== undefined ? { execution_provider_device_id: String(ep.deviceId) } : {}),
    task: model.task.task,
  };
}

function checkRef(model: LoadedModel, { name, version }: ModelRef): void {
  const id = model.identity;
  if (name !== id.name) throw new V2NotFoundError(`unknown model "${name}"; this server serves "${id.name}"`);
  if (version && version !== id.version) throw new V2NotFoundError(`model "${name}" has no version "${version}" here; serving version "${id.version}"`);
}

function notLoaded(models: Pick<ModelManager, "state">): V2UnavailableError {
  const state = models.state();
  return new V2UnavailableError(`no model loaded yet: ${"reason" in state ? state.reason : "loading"}`, 5);
}

/**
 * The request's rows as named columns, checked against the version's feature spec (the same contract /predict
 * enforces): the first problem is answered 400, naming the row, the column and, when it differs, the input.
 */
function checkedRecords(model: LoadedModel, decoded: DecodedInferRequest): FeatureRecord[] {
  const feeds = model.contract.scorer.feeds;
  const records = tensorsToRecords(feeds, decoded.tensors, decoded.rows);
  records.forEach((record, row) => {
    const problem = model.validator.validate(record)[0];
    if (!problem) return;
    const input = feeds.find((f) => f.columns.some((c) => c.name === problem.field))?.input;
    const where = input && input !== problem.field ? `column "${problem.field}" of input "${input}"` : `input "${problem.field}"`;
    throw new V2RequestError(`${where} row ${row}: ${problem.problem}`);
  });
  return records;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
