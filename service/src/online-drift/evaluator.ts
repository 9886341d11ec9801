/**
 * Runs window evaluations on one worker thread, so a test's few milliseconds (an exact KS p-value over a
 * 5,000-value reference) never stall the event loop that answers /predict. One evaluation at a time; the
 * monitor does not queue more. The thread does not keep the process alive and is restarted if it dies.
 */
import { Worker } from "node:worker_threads";
import { workerScript } from "../paths";
import type { FeatureResult } from "./evaluate";
import type { FeatureReference } from "./reference";
import type { FeatureWindow } from "./window";

export interface EvaluationRequest {
  readonly references: readonly FeatureReference[];
  readonly windows: readonly FeatureWindow[];
  readonly threshold: number;
}

export type EvaluationReply = { readonly results: FeatureResult[] } | { readonly error: string };

export interface WindowEvaluator {
  /** Gets ready before traffic arrives (a thread's start-up would otherwise land on the first busy second). */
  prepare?(): void;
  evaluate(request: EvaluationRequest): Promise<FeatureResult[]>;
  close(): Promise<void>;
}

export class WorkerEvaluator implements WindowEvaluator {
  private worker?: Worker;

  prepare(): void {
    this.worker ??= this.start();
  }

  async evaluate(request: EvaluationRequest): Promise<FeatureResult[]> {
    const worker = (this.worker ??= this.start());
    const transfer = request.windows.map((w) => (w.kind === "numeric" ? w.values.buffer : w.counts.buffer) as ArrayBuffer);
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the online drift evaluator exited with code ${code}`));
      worker.once("exit", onExit);
      worker.once("message", (reply: EvaluationReply) => {
        worker.off("exit", onExit);
        if ("error" in reply) reject(new Error(reply.error));
        else resolve(reply.results);
      });
      worker.postMessage(request, transfer);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(workerScript(__dirname, "evaluator-worker.js"));
    worker.unref();
    worker.once("exit", () => {
      if (this.worker === worker) this.worker = undefined;
    });
    return worker;
  }
}

