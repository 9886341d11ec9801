// Ground truth per task against a real PostgreSQL: multiclass confusion cells and misclassification cost,
// regression absolute and squared error sums and cost per unit of error, refusals naming the item, and what is
// stored. The prediction rows are written by SQL in the task-generic layout the prediction log's next migration
// creates (task, label text, probability and label nullable, value; feedback actual text, actual_value), which
// this test applies itself on top of the current schema.
import { randomUUID } from "node:crypto";
import { METRICS, ROUTES } from "../../service/src/contract";
import { TestPostgres } from "../support/postgres";
import { buildTestApp, metricValue, waitFor, type TestApp } from "./support";

/** The task-generic columns, as the prediction-log migration that follows this one defines them. */
const TASK_GENERIC_LAYOUT = `
  ALTER TABLE prediction_log DROP CONSTRAINT IF EXISTS prediction_log_label_check;
  ALTER TABLE prediction_log ADD COLUMN task text, ADD COLUMN value double precision;
  ALTER TABLE prediction_log ALTER COLUMN label TYPE text USING label::text, ALTER COLUMN label DROP NOT NULL, ALTER COLUMN probability DROP NOT NULL;
  ALTER TABLE prediction_feedback DROP CONSTRAINT IF EXISTS prediction_feedback_actual_check;
  ALTER TABLE prediction_feedback ALTER COLUMN actual TYPE text USING actual::text, ALTER COLUMN actual DROP NOT NULL, ADD COLUMN actual_value double precision;
`;

describe("POST /feedback per task (real PostgreSQL)", () => {
  let pg: TestPostgres;
  let t: TestApp;
  let seq = 0;
  beforeAll(async () => {
    pg = await TestPostgres.start();
    const url = await pg.createDatabase("feedback_tasks");
    t = await buildTestApp({
      url,
      costs: { falsePositive: 1, falseNegative: 5, misclassification: 3, perUnitError: 0.5 },
      classesFor: (model) => (model === "delay-class" ? ["on_time", "late", "very_late"] : undefined),
    });
    await t.app.ready();
    await waitFor(() => t.app.predictionLog.status().healthy, 10_000, "schema ready");
    await pg.query(TASK_GENERIC_LAYOUT, [], "feedback_tasks");
  });
  afterAll(async () => {
    await t?.app.close();
    await pg?.destroy();
  });

  const post = (payload: unknown) => t.app.inject({ method: "POST", url: ROUTES.feedback, payload: payload as object });
  async function logged(model: string, task: string, fields: { label?: string | null; probability?: number | null; value?: number | null; fallback?: boolean }): Promise<string> {
    const id = randomUUID();
    await pg.query(
      `INSERT INTO prediction_log (prediction_id, model_name, model_version, variant, created_at, features, probability, label, latency_ms, fallback, replica, seq, task, value)
       VALUES ($1, $2, '1', 'stable', now(), '{}', $3, $4, 0.5, $5, 'test', $6, $7, $8)`,
      [id, model, fields.probability ?? null, fields.label ?? null, fields.fallback ?? false, seq++, task, fields.value ?? null],
      "feedback_tasks",
    );
    return id;
  }
  const labels = (model: string) => ({ model, version: "1", variant: "stable" });

  it("multiclass: correct/incorrect, a confusion cell per (actual, predicted), misclassification cost", async () => {
    const cases: [string, string][] = [
      ["late", "late"],
      ["late", "on_time"],
      ["very_late", "late"],
      ["on_time", "on_time"],
    ];
    const items = [];
    for (const [predicted, actual] of cases) items.push({ prediction_id: await logged("delay-class", "multiclass", { label: predicted, probability: 0.6 }), actual });
    const response = await post({ items });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ accepted: 4 });
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal, { ...labels("delay-class"), outcome: "correct" })).toBe(2);
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal, { ...labels("delay-class"), outcome: "incorrect" })).toBe(2);
    expect(await metricValue(t.registry, METRICS.modelConfusionTotal, { ...labels("delay-class"), actual: "on_time", predicted: "late" })).toBe(1);
    expect(await metricValue(t.registry, METRICS.modelConfusionTotal, { ...labels("delay-class"), actual: "late", predicted: "late" })).toBe(1);
    expect(await metricValue(t.registry, METRICS.modelConfusionTotal, { ...labels("delay-class") })).toBe(4);
    expect(await metricValue(t.registry, METRICS.modelBusinessCostTotal, labels("delay-class"))).toBe(2 * 3);
    const stored = await pg.query<{ actual: string; actual_value: number | null }>(
      "SELECT actual, actual_value FROM prediction_feedback WHERE prediction_id = ANY($1::uuid[]) ORDER BY actual",
      [items.map((i) => i.prediction_id)],
      "feedback_tasks",
    );
    expect(stored.map((r) => r.actual)).toEqual(["late", "late", "on_time", "on_time"]);
    expect(stored.every((r) => r.actual_value === null)).toBe(true);
  });

  it("regression: absolute and squared error sums (MAE, RMSE), cost per unit of error, the value stored", async () => {
    const pairs: [number, number][] = [
      [10, 12.5],
      [30, 20],
      [-5, -5],
    ];
    const items = [];
    for (const [predicted, actual] of pairs) items.push({ prediction_id: await logged("delay-minutes", "regression", { value: predicted }), actual });
    expect((await post(items)).statusCode).toBe(200);
    const l = labels("delay-minutes");
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal, { ...l, outcome: "observed" })).toBe(3);
    expect(await metricValue(t.registry, METRICS.modelFeedbackAbsoluteErrorTotal, l)).toBeCloseTo(2.5 + 10 + 0, 9);
    expect(await metricValue(t.registry, METRICS.modelFeedbackSquaredErrorTotal, l)).toBeCloseTo(6.25 + 100, 9);
    expect(await metricValue(t.registry, METRICS.modelBusinessCostTotal, l)).toBeCloseTo(12.5 * 0.5, 9);
    const stored = await pg.query<{ actual: string | null; actual_value: number }>(
      "SELECT actual, actual_value FROM prediction_feedback WHERE prediction_id = $1::uuid",
      [items[1]!.prediction_id],
      "feedback_tasks",
    );
    expect(stored).toEqual([{ actual: null, actual_value: 20 }]);
  });

  it("binary on the task-generic layout: the cost matrix as before, 0/1 stored as text", async () => {
    const id = await logged("delay-binary", "binary", { label: "1", probability: 0.8 });
    expect((await post({ prediction_id: id, actual: 0 })).statusCode).toBe(200);
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal, { ...labels("delay-binary"), outcome: "fp" })).toBe(1);
    expect(await metricValue(t.registry, METRICS.modelBusinessCostTotal, labels("delay-binary"))).toBe(1);
  });

  it.each([
    ["a class the model does not have", "delay-class", "multiclass", { label: "late" }, "cancelled", /items.0.actual must be one of the model's classes: on_time, late, very_late \(prediction of a multiclass model\)/],
    ["a non-numeric value for a regressor", "delay-minutes", "regression", { value: 3 }, "three", /items.0.actual must be the actual value \(a finite number\)/],
    ["a class for a binary model", "delay-binary", "binary", { label: "0" }, "late", /must be 0 or 1/],
    ["any label for a tensor model", "embedder", "tensor", { value: 1.5 }, 1, /tensor models take no ground truth/],
  ])("400 naming the item, nothing stored: %s", async (_what, model, task, fields, actual, message) => {
    const good = await logged(model, task === "tensor" ? "binary" : task, task === "tensor" ? { label: "1" } : fields);
    const bad = await logged(model, task, fields);
    const before = await metricValue(t.registry, METRICS.modelFeedbackTotal);
    const response = await post({ items: [{ prediction_id: good, actual: task === "regression" ? 4 : task === "multiclass" ? "late" : 1 }, { prediction_id: bad, actual }] });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(new RegExp(message.source.replace("items.0", "items.1")));
    const stored = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM prediction_feedback WHERE prediction_id = ANY($1::uuid[])", [[good, bad]], "feedback_tasks");
    expect(stored[0]!.n).toBe(0);
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal)).toBe(before);
  });

  it("multiclass labels of a version this replica does not know are counted, but get no confusion cell", async () => {
    const id = await logged("retired-classifier", "multiclass", { label: "b" });
    expect((await post({ prediction_id: id, actual: "z" })).statusCode).toBe(200);
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal, { ...labels("retired-classifier"), outcome: "incorrect" })).toBe(1);
    expect(await metricValue(t.registry, METRICS.modelConfusionTotal, labels("retired-classifier"))).toBe(0);
  });
});
