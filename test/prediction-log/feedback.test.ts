import { randomUUID } from "node:crypto";
import fc from "fast-check";
import Fastify from "fastify";
import { Registry } from "prom-client";
import { METRICS, ROUTES, type PredictionLogEntry } from "../../service/src/contract";
import { errorHandler } from "../../service/src/errors";
import { createPredictionLogMetrics } from "../../service/src/prediction-log/metrics";
import { createPool } from "../../service/src/prediction-log/writer";
import { FEEDBACK_MAX_ITEMS, feedbackRoutes } from "../../service/src/routes/feedback";
import { TestPostgres } from "../support/postgres";
import { buildTestApp, entry, metricValue, waitFor, type TestApp } from "./support";

describe("POST /feedback (real PostgreSQL)", () => {
  let pg: TestPostgres;
  let t: TestApp;
  beforeAll(async () => {
    pg = await TestPostgres.start();
    const url = await pg.createDatabase("feedback");
    t = await buildTestApp({
      url,
      costs: { falsePositive: 1, falseNegative: 5 },
      // The per-version hook: version 4's errors cost more (as a registry tag would say).
      costsFor: (model, version) => (model === "flight-delay" && version === "4" ? { falsePositive: 2, falseNegative: 10 } : undefined),
    });
    await t.app.ready();
    await waitFor(() => t.app.predictionLog.status().healthy, 10_000, "schema ready");
  });
  afterAll(async () => {
    await t?.app.close();
    await pg?.destroy();
  });

  const post = (payload: unknown) => t.app.inject({ method: "POST", url: ROUTES.feedback, payload: payload as object });
  const logged = (overrides: Partial<PredictionLogEntry>): PredictionLogEntry => {
    const e = entry(0, overrides);
    t.app.predictionLog.record(e);
    return e;
  };
  const counter = (labels: Record<string, string>) => metricValue(t.registry, METRICS.modelFeedbackTotal, labels);
  const cost = (labels: Record<string, string>) => metricValue(t.registry, METRICS.modelBusinessCostTotal, labels);

  it("counts confusion-matrix cells and business cost per version and variant, as computed by hand", async () => {
    // [predicted label, actual] per version: v3 stable 2 tp, 1 fp, 3 tn, 1 fn; v4 canary 1 tp, 2 fp, 1 fn.
    const v3: Array<[0 | 1, 0 | 1]> = [[1, 1], [1, 1], [1, 0], [0, 0], [0, 0], [0, 0], [0, 1]];
    const v4: Array<[0 | 1, 0 | 1]> = [[1, 1], [1, 0], [1, 0], [0, 1]];
    const items = [
      ...v3.map(([label, actual]) => ({ prediction_id: logged({ modelVersion: "3", variant: "stable", label }).predictionId, actual })),
      ...v4.map(([label, actual]) => ({ prediction_id: logged({ modelVersion: "4", variant: "canary", label }).predictionId, actual })),
      // A fallback answer: stored, not counted against the model.
      { prediction_id: logged({ modelVersion: "3", variant: "stable", label: 1, fallback: true }).predictionId, actual: 0 },
    ];
    // Sent at once: the predictions are still queued, the route flushes them first instead of answering 404.
    const response = await post({ items });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ accepted: 12, duplicates: 0, unknown: 0, pending: 0 });

    const v3Stable = { model: "flight-delay", version: "3", variant: "stable" };
    const v4Canary = { model: "flight-delay", version: "4", variant: "canary" };
    expect(await counter({ ...v3Stable, outcome: "tp" })).toBe(2);
    expect(await counter({ ...v3Stable, outcome: "fp" })).toBe(1);
    expect(await counter({ ...v3Stable, outcome: "tn" })).toBe(3);
    expect(await counter({ ...v3Stable, outcome: "fn" })).toBe(1);
    expect(await counter({ ...v4Canary, outcome: "tp" })).toBe(1);
    expect(await counter({ ...v4Canary, outcome: "fp" })).toBe(2);
    expect(await counter({ ...v4Canary, outcome: "tn" })).toBe(0);
    expect(await counter({ ...v4Canary, outcome: "fn" })).toBe(1);
    expect(await cost(v3Stable)).toBe(1 * 1 + 1 * 5);
    expect(await cost(v4Canary)).toBe(2 * 2 + 1 * 10);
    const stored = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM prediction_feedback", [], "feedback");
    expect(stored[0]!.n).toBe(12);

    // The same batch again: every item a duplicate, nothing counted twice.
    const again = await post({ items: items.map((i) => ({ ...i, actual: 1 - i.actual })) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 12 });
    expect(await counter(v3Stable)).toBe(7);
    expect(await cost(v4Canary)).toBe(14);
  });

  it("reports a repeated id within one request as a duplicate, and accepts upper-case ids", async () => {
    const id = logged({ modelVersion: "5" }).predictionId;
    const response = await post({ items: [{ prediction_id: id.toUpperCase(), actual: 1 }, { prediction_id: id, actual: 0 }] });
    expect(response.statusCode).toBe(200);
    expect(response.json().results).toEqual([
      { prediction_id: id, status: "accepted" },
      { prediction_id: id, status: "duplicate" },
    ]);
  });

  it("accepts one bare label and a bare array as well as {items}", async () => {
    const one = logged({ modelVersion: "7" }).predictionId;
    const single = await post({ prediction_id: one, actual: 1 });
    expect(single.statusCode).toBe(200);
    expect(single.json().results).toEqual([{ prediction_id: one, status: "accepted" }]);
    const two = logged({ modelVersion: "7" }).predictionId;
    const array = await post([{ prediction_id: two, actual: 0 }, { prediction_id: one, actual: 0 }]);
    expect(array.statusCode).toBe(200);
    expect(array.json().results).toEqual([
      { prediction_id: two, status: "accepted" },
      { prediction_id: one, status: "duplicate" },
    ]);
    const bad = await post({ prediction_id: one, actual: 2 });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().fields)).toContain("actual");
  });

  it("answers 404 naming unknown ids, while storing the known ones of the same batch", async () => {
    const known = logged({ modelVersion: "6" }).predictionId;
    const unknown = randomUUID();
    const response = await post({ items: [{ prediction_id: known, actual: 1 }, { prediction_id: unknown, actual: 0 }] });
    expect(response.statusCode).toBe(404);
    const body = response.json();
    expect(body.message).toContain(unknown);
    expect(body.results).toEqual([
      { prediction_id: known, status: "accepted" },
      { prediction_id: unknown, status: "unknown" },
    ]);
  });

  it.each([
    ["no items", {}, "items"],
    ["empty items", { items: [] }, "items"],
    // Fastify coerces a scalar to a one-element array, so the complaint is about that element.
    ["items not an array", { items: "x" }, "items.0"],
    ["missing prediction_id", { items: [{ actual: 1 }] }, "items.0.prediction_id"],
    ["missing actual", { items: [{ prediction_id: randomUUID() }] }, "items.0.actual"],
    // Whether a number or string fits is the prediction's task's call (after lookup); other JSON never fits.
    ["actual neither a number nor a string", { items: [{ prediction_id: randomUUID(), actual: { class: 1 } }] }, "items.0.actual"],
    ["prediction_id not a uuid", { items: [{ prediction_id: "not-a-uuid", actual: 1 }] }, "items.0.prediction_id"],
    ["too many items", { items: Array.from({ length: FEEDBACK_MAX_ITEMS + 1 }, () => ({ prediction_id: randomUUID(), actual: 1 })) }, "items"],
  ])("400 naming the field: %s", async (_case, payload, field) => {
    const response = await post(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it("never answers 5xx to generated bodies, and any 400 names a field or the body", async () => {
    const item = fc.record(
      { prediction_id: fc.oneof(fc.uuid(), fc.string(), fc.integer()), actual: fc.oneof(fc.constantFrom(0, 1), fc.anything()) },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ items: fc.oneof(fc.array(item, { maxLength: 5 }), fc.anything()) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const response = await t.app.inject({
          method: "POST",
          url: ROUTES.feedback,
          headers: { "content-type": "application/json" },
          payload: JSON.stringify(payload) ?? "",
        });
        expect(response.statusCode).toBeLessThan(500);
        if (response.statusCode === 400) expect(response.json().message).toMatch(/\S/);
      }),
      { numRuns: 150 },
    );
  });

  it("answers 503 with Retry-After while the database is down, and works again after", async () => {
    const id = logged({ modelVersion: "7" }).predictionId;
    await waitFor(() => t.app.predictionLog.status().queueDepth === 0, 5000, "flushed");
    await pg.stop("immediate");
    try {
      const response = await post({ items: [{ prediction_id: id, actual: 1 }] });
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("5");
      expect(response.json().message).toMatch(/retry later/);
    } finally {
      await pg.start();
    }
    await waitFor(async () => (await post({ items: [{ prediction_id: id, actual: 1 }] })).statusCode === 200, 15_000, "recovery");
  });

  it("answers 503 + Retry-After, not 404, for an id that may still be in this replica's unwritten backlog", async () => {
    // A writer that cannot settle its backlog in time (database slow): the route must not conclude "unknown".
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    const pool = createPool(pg.url("feedback"), "pending-test");
    const registry = new Registry();
    const metrics = createPredictionLogMetrics(registry, { queueDepth: () => 0, spillDepth: () => 0 });
    await app.register(feedbackRoutes, {
      store: { pool, writes: { hasUnsettled: () => true, flush: async () => false } },
      metrics,
      costs: { falsePositive: 1, falseNegative: 1 },
    });
    try {
      const id = randomUUID();
      const response = await app.inject({ method: "POST", url: ROUTES.feedback, payload: { items: [{ prediction_id: id, actual: 1 }] } });
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("5");
      expect(response.json()).toMatchObject({ pending: 1, results: [{ prediction_id: id, status: "pending" }] });
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

describe("POST /feedback with the prediction log disabled", () => {
  it("answers 503 saying why", async () => {
    const t = await buildTestApp({ url: undefined });
    try {
      const response = await t.app.inject({ method: "POST", url: ROUTES.feedback, payload: { items: [{ prediction_id: randomUUID(), actual: 1 }] } });
      expect(response.statusCode).toBe(503);
      expect(response.json().message).toContain("PREDICTION_LOG_URL");
      expect(t.app.predictionLog.status()).toMatchObject({ enabled: false });
    } finally {
      await t.app.close();
    }
  });
});
