/**
 * One inference worker thread: loads its own session (the same OnnxScorer the event-loop path uses, so tensor
 * encoding lives once) and answers RunRequests. A blocking session.run() here stalls only this thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ExecutionProviderError } from "./execution-provider";
import { OnnxScorer } from "./onnx-scorer";
import type { TensorMap } from "./tensors";
import { ModelRunError } from "./types";
import type { RunRequest, WorkerMessage, WorkerModel } from "./worker-protocol";

async function main(): Promise<void> {
  const port = parentPort!;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  let scorer: OnnxScorer;
  const { model, provider, verifyWith } = workerData as WorkerModel;
  try {
    // One ORT thread per session: the pool already runs one session per core.
    scorer = await OnnxScorer.load(model, { intraOpThreads: 1, provider, verifyWith });
  } catch (error) {
    post({ kind: "failed", error: (error as Error).message, providerError: error instanceof ExecutionProviderError });
    return;
  }
  port.on("message", async (request: RunRequest) => {
    try {
      if ("records" in request) {
        const rows = owned(await scorer.score(request.records));
        post({ kind: "rows", id: request.id, rows }, [rows.buffer as ArrayBuffer]);
      } else {
        const outputs = await scorer.run({ tensors: request.tensors, rows: 0 });
        post({ kind: "tensors", id: request.id, outputs }, transferable(outputs));
      }
    } catch (error) {
      post({ kind: "error", id: request.id, error: (error as Error).message, runFailed: error instanceof ModelRunError });
    }
  });
  post({ kind: "ready", io: scorer.io(), placement: scorer.executionProvider });
}

/** A typed array that owns its whole buffer (a view on a larger one is copied), so only its bytes are transferred. */
function owned<T extends Float32Array | Float64Array>(data: T): T {
  return data.byteLength === data.buffer.byteLength ? data : (data.slice() as T);
}

function transferable(outputs: TensorMap): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of Object.values(outputs)) {
    const data = tensor.data;
    if (!Array.isArray(data) && data.byteLength === data.buffer.byteLength) buffers.add(data.buffer as ArrayBuffer);
  }
  return [...buffers];
}

void main();
