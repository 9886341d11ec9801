/**
 * Scores with an onnxruntime-node session on the calling thread: records through the version's column feeds
 * (score: the row output only), or tensors as the V2 codec decoded them (run: every graph output). Also used
 * inside inference worker threads, which is why it depends on nothing but ORT and plain data (ScorerModel).
 */
import "./onnxruntime-env";
import { rm } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import type { RowValues } from "../tasks/task";
import {
  CPU_PROVIDER,
  cpuPlacement,
  isGpuProvider,
  profileDirFor,
  providerSessionOptions,
  providerUnavailable,
  verifyPlacement,
  type ExecutionProviderPlacement,
  type ExecutionProviderSettings,
} from "./execution-provider";
import { columnData, columnDims } from "./feeds";
import type { ScorerModel } from "./model-contract";
import { V2_DATATYPE, floatValues, type HostTensor, type TensorMap, type TensorType } from "./tensors";
import { ModelRunError, type FeatureRecord, type ServingScorer, type TensorMetadata, type TensorRequest } from "./types";

export class ModelIoError extends Error {
  override readonly name = "ModelIoError";
}

export interface OnnxScorerOptions {
  /** ORT intra-op threads; 1 keeps one request from fanning out over every core. @default 1 */
  readonly intraOpThreads?: number;
  /** Where the graph runs (EXECUTION_PROVIDER). @default CPU */
  readonly provider?: ExecutionProviderSettings;
  /**
   * Run once right after loading on a GPU provider (the warm-up example), profiled, to confirm the provider ran
   * the graph (execution-provider.ts). Required for a GPU provider.
   */
  readonly verifyWith?: TensorRequest;
}

export class OnnxScorer implements ServingScorer {
  static async load(model: ScorerModel, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    const provider = options.provider ?? CPU_PROVIDER;
    const profileDir = await profileDirFor(provider);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.onnxPath, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
        // Run failures are answered (400 for a request's data) and logged by the service; onnxruntime's own stderr
        // line per failure would let any client flood the logs.
        logSeverityLevel: 4,
        ...providerSessionOptions(provider, profileDir),
      });
    } catch (error) {
      if (profileDir) await rm(profileDir, { recursive: true, force: true });
      throw isGpuProvider(provider) ? providerUnavailable(provider, error) : error;
    }
    try {
      const scorer = new OnnxScorer(session, model);
      if (profileDir) {
        if (!options.verifyWith) throw new Error(`a ${provider.name} session needs an example to verify its placement (verifyWith)`);
        await scorer.run(options.verifyWith);
        scorer.placement = await verifyPlacement(session, provider, profileDir);
      }
      return scorer;
    } catch (error) {
      if (profileDir) await rm(profileDir, { recursive: true, force: true });
      await session.release();
      throw error;
    }
  }

  private placement: ExecutionProviderPlacement = cpuPlacement();
  private readonly fetches: string[];

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly model: ScorerModel,
  ) {
    const graphInputs = new Set(session.inputNames);
    const missing = model.feeds.filter((f) => !graphInputs.has(f.input)).map((f) => f.input);
    if (missing.length > 0) throw new ModelIoError(`the session has no input(s) ${missing.join(", ")} (inputs: ${session.inputNames.join(", ")})`);
    if (model.rowOutput !== undefined && !session.outputNames.includes(model.rowOutput)) {
      throw new ModelIoError(`the session has no output "${model.rowOutput}" (outputs: ${session.outputNames.join(", ")})`);
    }
    this.fetches = model.rowOutput === undefined ? [] : [model.rowOutput];
  }

  async score(records: readonly FeatureRecord[]): Promise<RowValues> {
    const output = this.model.rowOutput;
    if (output === undefined) throw new ModelIoError("this model has no column contract: score tensors with run()");
    const feeds: Record<string, ort.Tensor> = {};
    for (const feed of this.model.feeds) feeds[feed.input] = new ort.Tensor(feed.type, columnData(feed, records) as ort.Tensor.DataType, columnDims(feed, records.length));
    const results = await this.session.run(feeds, this.fetches);
    const tensor = results[output]!;
    if (tensor.type === "string") throw new ModelIoError(`the row output "${output}" is a string tensor, not numbers`);
    return floatValues(tensor as unknown as HostTensor);
  }

  async run(request: TensorRequest): Promise<TensorMap> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(request.tensors)) feeds[name] = new ort.Tensor(tensor.type, tensor.data as ort.Tensor.DataType, tensor.dims);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds);
    } catch (error) {
      throw new ModelRunError((error as Error).message);
    }
    const outputs: Record<string, HostTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      const tensor = value as ort.Tensor;
      outputs[name] = { type: tensor.type as TensorType, dims: tensor.dims, data: tensor.data as HostTensor["data"] };
    }
    return outputs;
  }

  /** Graph inputs and outputs in Open Inference Protocol terms, as the session reports them. */
  io(): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } {
    return { inputs: this.session.inputMetadata.map(toTensorMetadata), outputs: this.session.outputMetadata.map(toTensorMetadata) };
  }

  /** The provider that runs this session's graph (checked at load for a GPU provider). */
  get executionProvider(): ExecutionProviderPlacement {
    return this.placement;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function toTensorMetadata(meta: ort.InferenceSession.ValueMetadata): TensorMetadata {
  if (!meta.isTensor) return { name: meta.name, datatype: "BYTES", shape: [-1] };
  return {
    name: meta.name,
    datatype: V2_DATATYPE[meta.type as TensorType] ?? meta.type.toUpperCase(),
    shape: meta.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)),
  };
}
