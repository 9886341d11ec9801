// The serving path inside the real app: micro-batcher and worker pool behind /predict, V2 infer through the same
// path, overload answered by the fallback or 503 within the deadline, and the shadow model scored after responses.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelportApp } from "../../service/src/app";
import { ENV, FALLBACK_REASONS, METRICS, ROUTES } from "../../service/src/contract";
import { metricValue, startTestApp } from "../support/service-app";
import { FIXTURE_RECORD, fixtureProbability, writeFixtureModel } from "./fixture-model";

let dir: string;
let fastModel: string;
let slowModel: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "serving-app-"));
  fastModel = await writeFixtureModel(join(dir, "fixture"));
  // ~10+ ms per run on this machine: easy to overload.
  slowModel = await writeFixtureModel(join(dir, "slow-fixture"), { hiddenLayers: 12, hiddenWidth: 768 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const post = (app: ModelportApp, url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: JSON.stringify(payload), headers: { "content-type": "application/json" } });

async function withApp(env: Record<string, string>, body: (app: ModelportApp) => Promise<void>): Promise<void> {
  const app = await startTestApp(env);
  try {
    expect(app.models.current).toBeDefined();
    await body(app);
  } finally {
    await app.close();
  }
}

describe("serving path", () => {
  it("coalesces concurrent /predict calls into batched runs on worker threads", async () => {
    await withApp({ [ENV.modelUri]: fastModel, [ENV.inferenceWorkers]: "2", [ENV.batchMaxSize]: "64" }, async (app) => {
      const sample = async (suffix: string) => {
        const histogram = (await app.metricsRegistry.getSingleMetric(METRICS.inferenceBatchSize)!.get()).values as { metricName?: string; labels: Record<string, unknown>; value: number }[];
        return histogram.find((v) => v.metricName === `${METRICS.inferenceBatchSize}${suffix}` && v.labels.model === "fixture")!.value;
      };
      // The model manager's warm-up runs went through the batcher too (tensors, the batch-axis check, records).
      const [warmUpCount, warmUpSum] = [await sample("_count"), await sample("_sum")];
      const records = Array.from({ length: 60 }, (_, i) => ({ ...FIXTURE_RECORD, distance: 40 * i }));
      const answers = await Promise.all(records.map((r) => post(app, ROUTES.predict, r)));
      answers.forEach((a, i) => {
        expect(a.statusCode).toBe(200);
        expect(a.json().probability).toBeCloseTo(fixtureProbability(records[i]!), 5);
      });
      expect((await sample("_sum")) - warmUpSum).toBe(60);
      expect((await sample("_count")) - warmUpCount).toBeLessThan(30);
    });
  });

  it("serves V2 inference through the same path: same probability, same prediction metrics", async () => {
    await withApp({ [ENV.modelUri]: fastModel }, async (app) => {
      const { name, version } = app.models.current!.identity;
      const v2 = await post(app, `/v2/models/${name}/infer`, {
        inputs: [
          { name: "distance", shape: [1, 1], datatype: "FP64", data: [FIXTURE_RECORD.distance] },
          { name: "hour", shape: [1, 1], datatype: "INT64", data: [FIXTURE_RECORD.hour] },
          { name: "origin", shape: [1, 1], datatype: "BYTES", data: [FIXTURE_RECORD.origin] },
        ],
      });
      expect(v2.statusCode).toBe(200);
      const single = (await post(app, ROUTES.predict, FIXTURE_RECORD)).json();
      expect(v2.json().outputs[1].data[1]).toBeCloseTo(single.probability, 6);
      const labels = { model: name, version, variant: "stable", outcome: single.label === 1 ? "positive" : "negative" };
      expect(await metricValue(app, METRICS.predictionsTotal, labels)).toBe(2);
      expect((await app.inject(`/v2/models/${name}`)).json().versions).toEqual([version]);
    });
  });

  it("answers overload within the deadline with the configured fallback, flagged and counted", async () => {
    const env = { [ENV.modelUri]: slowModel, [ENV.requestTimeoutMs]: "40", [ENV.maxQueue]: "8", [ENV.batchMaxSize]: "4", [ENV.fallbackLabel]: "0" };
    await withApp(env, async (app) => {
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 40 }, () => post(app, ROUTES.predict, FIXTURE_RECORD)));
      const elapsed = performance.now() - started;
      expect(answers.every((a) => a.statusCode === 200)).toBe(true);
      const fallbacks = answers.filter((a) => a.json().fallback === true);
      expect(fallbacks.length).toBeGreaterThan(0);
      expect(fallbacks[0]!.json()).toMatchObject({ probability: 0, label: 0, fallback: true });
      let counted = 0;
      for (const reason of FALLBACK_REASONS) counted += (await metricValue(app, METRICS.predictionsFallbackTotal, { model: "slow-fixture", reason })) ?? 0;
      expect(counted).toBe(fallbacks.length);
      // Runs already started finish late, but nobody waits far past the deadline for an answer.
      expect(elapsed).toBeLessThan(2000);
    });
  });

  it("answers overload with 503 and Retry-After when no fallback is configured", async () => {
    const env = { [ENV.modelUri]: slowModel, [ENV.requestTimeoutMs]: "40", [ENV.maxQueue]: "4", [ENV.batchMaxSize]: "2" };
    await withApp(env, async (app) => {
      const answers = await Promise.all(Array.from({ length: 30 }, () => post(app, ROUTES.predict, FIXTURE_RECORD)));
      const refused = answers.filter((a) => a.statusCode === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(answers.every((a) => a.statusCode === 200 || a.statusCode === 503)).toBe(true);
      expect(refused[0]!.headers["retry-after"]).toBe("1");
      expect(refused[0]!.json().message).toMatch(/model overloaded \((shed|queue_full|timeout)\)/);
    });
  });

  it("scores the shadow model after the response, exported with variant=shadow, without touching the answer", async () => {
    const env = { [ENV.modelUri]: fastModel, [ENV.shadowModelUri]: slowModel, [ENV.shadowSampleRate]: "1" };
    const app = await startTestApp(env);
    try {
      // The shadow manager loads on its own schedule; wait for its model to be served.
      for (let i = 0; i < 100 && (await metricValue(app, METRICS.modelLoaded, { model: "slow-fixture", variant: "shadow" })) !== 1; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const answer = await post(app, ROUTES.predict, FIXTURE_RECORD);
      expect(answer.json()).toMatchObject({ model: "fixture", variant: "stable", fallback: false });
      const shadowCount = async () => {
        const values = (await app.metricsRegistry.getSingleMetric(METRICS.predictionsTotal)!.get()).values;
        return values.filter((v) => v.labels.variant === "shadow" && v.labels.model === "slow-fixture").reduce((a, v) => a + v.value, 0);
      };
      for (let i = 0; i < 100 && (await shadowCount()) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await shadowCount()).toBe(1);
      expect(await metricValue(app, METRICS.predictionsTotal, { model: "fixture", variant: "shadow" })).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
