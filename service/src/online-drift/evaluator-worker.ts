/**
 * The online drift evaluator thread: evaluateWindow on each request, one at a time. It runs at the lowest CPU
 * priority: on Linux setpriority on pid 0 applies to the calling thread only, so a test (6-35 ms per window) takes
 * idle CPU and never the cores /predict and the inference workers need when the replica is saturated (at 3x
 * capacity, evaluating at normal priority took the 100 ms-deadline p99 from ~90 ms to 180-270 ms).
 */
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { evaluateWindow } from "./evaluate";
import type { EvaluationReply, EvaluationRequest } from "./evaluator";

try {
  setPriority(19);
} catch {
  // Not permitted (or not Linux): evaluate at normal priority; the monitor still tests at most one window a tick.
}

parentPort!.on("message", (request: EvaluationRequest) => {
  let reply: EvaluationReply;
  try {
    reply = { results: evaluateWindow(request.references, request.windows, request.threshold) };
  } catch (error) {
    reply = { error: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});
