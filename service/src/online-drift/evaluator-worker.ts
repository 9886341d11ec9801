/** The online drift evaluator thread: evaluateWindow on each request, one at a time. */
import { parentPort } from "node:worker_threads";
import { evaluateWindow } from "./evaluate";
import type { EvaluationReply, EvaluationRequest } from "./evaluator";

parentPort!.on("message", (request: EvaluationRequest) => {
  let reply: EvaluationReply;
  try {
    reply = { results: evaluateWindow(request.references, request.windows, request.threshold) };
  } catch (error) {
    reply = { error: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});
