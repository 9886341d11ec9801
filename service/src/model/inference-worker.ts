/**
 * One inference worker thread: loads its own session (the same OnnxScorer the event-loop path uses, so tensor
 * encoding lives once) and answers RunRequests. A blocking session.run() here stalls only this thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { OnnxScorer } from "./onnx-scorer";
import type { RunRequest, WorkerMessage, WorkerModel } from "./worker-protocol";

async function main(): Promise<void> {
  const port = parentPort!;
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  let scorer: OnnxScorer;
  try {
    // One ORT thread per session: the pool already runs one session per core.
    scorer = await OnnxScorer.load(workerData as WorkerModel, { intraOpThreads: 1 });
  } catch (error) {
    post({ kind: "failed", error: (error as Error).message });
    return;
  }
  port.on("message", async ({ id, records }: RunRequest) => {
    try {
      const scored = await scorer.score(records);
      // Copy out when the result is a view on a larger buffer, so only this request's bytes are transferred.
      const probabilities = scored.byteLength === scored.buffer.byteLength ? scored : scored.slice();
      post({ kind: "result", id, probabilities }, [probabilities.buffer as ArrayBuffer]);
    } catch (error) {
      post({ kind: "error", id, error: (error as Error).message });
    }
  });
  post({ kind: "ready", io: scorer.io() });
}

void main();
