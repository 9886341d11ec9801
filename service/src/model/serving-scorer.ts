/**
 * The scorer the service serves with: sessions on the event-loop thread (INFERENCE_WORKERS=0) or in a worker
 * pool, always behind a MicroBatcher. The batcher is also the admission control (deadline, bounded queue), so
 * it stays even with BATCH_MAX_SIZE=1, which only turns coalescing off.
 */
import type { ServiceConfig } from "../config";
import type { Variant } from "../contract";
import { MicroBatcher, type BatcherMetrics } from "./batcher";
import { processLoopDelay } from "./loop-delay";
import type { ScorerFactory } from "./model-manager";
import { OnnxScorer } from "./onnx-scorer";
import { WorkerPoolScorer } from "./worker-pool";

export interface ServingScorerOptions {
  readonly inference: ServiceConfig["inference"];
  readonly variant: Variant;
  readonly metrics?: BatcherMetrics;
}

export function servingScorerFactory({ inference, variant, metrics }: ServingScorerOptions): ScorerFactory {
  return async (model, version, warmUp) => {
    const provider = inference.executionProvider;
    const inner =
      inference.workers > 0
        ? await WorkerPoolScorer.create(model, { workers: inference.workers, warmUp, provider })
        : await OnnxScorer.load(model, { provider, verifyWith: warmUp.tensors });
    // Deadline timers fire early by the loop's recent delay (one monitor per process, released on close).
    const loop = processLoopDelay();
    const batcher = new MicroBatcher(inner, {
      maxBatchSize: inference.batchMaxSize,
      maxWaitMs: inference.batchMaxWaitMs,
      // One run in progress per session: more would only queue inside ORT (in-thread) or a busy worker.
      concurrency: inner instanceof WorkerPoolScorer ? inner.size : 1,
      maxQueue: inference.maxQueue,
      timeoutMs: inference.requestTimeoutMs,
      loopDelay: loop.delay,
      metrics: metrics && { instruments: metrics, labels: { model: version.name, variant } },
    });
    return {
      executionProvider: inner.executionProvider,
      score: (records, options) => batcher.score(records, options),
      run: (request, options) => batcher.run(request, options),
      close: () => batcher.close().finally(loop.release),
    };
  };
}
