// Issue 15 item 5: with zero live inference workers /predict answered 500; now a retryable 503 with Retry-After,
// counted in predictions_rejected_total{reason="model_unavailable"} (or the fallback), and the pool recovers.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelportApp } from "../../service/src/app";
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import { MicroBatcher } from "../../service/src/model/batcher";
import type { ScorerFactory } from "../../service/src/model/model-manager";
import { WorkerPoolScorer } from "../../service/src/model/worker-pool";
import { metricValue, startTestApp } from "../support/service-app";
import { FIXTURE_RECORD, writeFixtureModel } from "./fixture-model";

let dir: string;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zero-workers-"));
  model = await writeFixtureModel(join(dir, "fixture"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The serving scorer (a batcher over a one-worker pool), keeping a handle on the pool so the test can kill its worker. */
function poolScorer(pools: WorkerPoolScorer[]): ScorerFactory {
  return async (model, _version, warmUp) => {
    const pool = await WorkerPoolScorer.create(model, { workers: 1, warmUp });
    pools.push(pool);
    const batcher = new MicroBatcher(pool, { concurrency: 1 });
    return { score: (records, options) => batcher.score(records, options), run: (request, options) => batcher.run(request, options), close: () => batcher.close() };
  };
}

async function killWorker(pool: WorkerPoolScorer): Promise<void> {
  const [worker] = (pool as unknown as { workers: { thread: { terminate(): Promise<number> } }[] }).workers;
  await worker!.thread.terminate();
}

const predict = (app: ModelportApp) =>
  app.inject({ method: "POST", url: ROUTES.predict, payload: JSON.stringify(FIXTURE_RECORD), headers: { "content-type": "application/json" } });

it.each([
  ["no fallback: 503 with Retry-After", {}],
  ["with a fallback: the fallback answer, flagged", { [ENV.fallbackLabel]: "0" }],
])("zero live workers, %s; counted; served again once the worker is back", async (_name, env) => {
  const pools: WorkerPoolScorer[] = [];
  const app = await startTestApp({ [ENV.modelUri]: model, ...env }, { createScorer: poolScorer(pools) });
  try {
    const pool = pools[0]!;
    await killWorker(pool);
    const answers = [];
    // Until the replacement is up, every request is answered at once, never with a 500.
    while (pool.size === 0 && answers.length < 1000) answers.push(await predict(app));
    expect(answers.length).toBeGreaterThan(0);
    const fallback = "FALLBACK_LABEL" in env;
    for (const answer of answers.filter((a) => a.statusCode !== 200 || a.json().fallback)) {
      if (fallback) {
        expect(answer.statusCode).toBe(200);
        expect(answer.json()).toMatchObject({ fallback: true, label: 0 });
      } else {
        expect(answer.statusCode).toBe(503);
        expect(answer.headers["retry-after"]).toBe("1");
        expect(answer.json().message).toMatch(/model overloaded \(model_unavailable\)/);
      }
    }
    expect(answers.every((a) => a.statusCode !== 500)).toBe(true);
    const refused = answers.filter((a) => a.statusCode === 503 || a.json().fallback).length;
    const counted = fallback
      ? await metricValue(app, METRICS.predictionsFallbackTotal, { reason: "model_unavailable" })
      : await metricValue(app, METRICS.predictionsRejectedTotal, { reason: "model_unavailable" });
    expect(counted).toBe(refused);
    for (let i = 0; i < 200 && pool.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const served = await predict(app);
    expect(served.statusCode).toBe(200);
    expect(served.json().fallback).toBe(false);
  } finally {
    await app.close();
  }
});
