import fc from "fast-check";
import { METRICS, ROUTES } from "../../service/src/contract";
import type { ModelportApp } from "../../service/src/app";
import { UNMATCHED_ROUTE } from "../../service/src/metrics/metrics-plugin";
import type { ColumnSpec, ModelPackage } from "../../service/src/model/mlmodel";
import { embeddedModel, metricValue, startTestApp } from "../support/service-app";

let app: ModelportApp;
let pkg: ModelPackage;
let example: Record<string, unknown>;

beforeAll(async () => {
  pkg = await embeddedModel();
  example = { ...pkg.inputExample[0]! };
  app = await startTestApp();
});
afterAll(() => app.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url, payload: payload as never, headers: { "content-type": "application/json", ...headers } });

const numeric = (c: ColumnSpec) => ["long", "integer", "float", "double"].includes(c.type);

function expectBadRequest(response: { statusCode: number; json(): any }, field?: string): void {
  expect(response.statusCode).toBeGreaterThanOrEqual(400);
  expect(response.statusCode).toBeLessThan(500);
  const body = response.json();
  expect(typeof body.message).toBe("string");
  if (field) expect(body.fields.map((f: { field: string }) => f.field)).toContain(field);
}

describe("serving the embedded model", () => {
  it("is live and ready with the model name and version", async () => {
    expect((await app.inject(ROUTES.healthz)).json()).toEqual({ status: "ok" });
    const ready = await app.inject(ROUTES.readyz);
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: "ready", model: app.models.current!.identity.name, version: app.models.current!.identity.version });
  });

  it("predicts one record with probability, label, threshold, model, version and an id", async () => {
    const response = await post(ROUTES.predict, example, { "x-request-id": "req-123" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["x-request-id"]).toBe("req-123");
    const body = response.json();
    expect(body.probability).toBeGreaterThanOrEqual(0);
    expect(body.probability).toBeLessThanOrEqual(1);
    expect(body.label).toBe(body.probability >= body.threshold ? 1 : 0);
    expect(body.prediction_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toMatchObject({ model: app.models.current!.identity.name, version: app.models.current!.identity.version, variant: "stable", fallback: false });
  });

  it("scores a batch in order, identically to one-by-one", async () => {
    const records = pkg.inputExample;
    const batch = (await post(ROUTES.predictBatch, records)).json();
    expect(batch.predictions).toHaveLength(records.length);
    for (let i = 0; i < records.length; i++) {
      const single = (await post(ROUTES.predict, records[i])).json();
      expect(batch.predictions[i].probability).toBeCloseTo(single.probability, 6);
    }
  });

  it("exposes RED and model metrics", async () => {
    const id = app.models.current!.identity;
    await post(ROUTES.predict, example);
    const labels = { model: id.name, version: id.version, variant: "stable" };
    const positives = (await metricValue(app, METRICS.predictionsTotal, { ...labels, outcome: "positive" })) ?? 0;
    const negatives = (await metricValue(app, METRICS.predictionsTotal, { ...labels, outcome: "negative" })) ?? 0;
    expect(positives + negatives).toBeGreaterThan(0);
    expect(await metricValue(app, METRICS.modelLoaded, { model: id.name, variant: "stable" })).toBe(1);
    expect(await metricValue(app, METRICS.modelInfo, { model: id.name, version: id.version, execution_provider: "cpu" })).toBe(1);
    const text = (await app.inject(ROUTES.metrics)).body;
    expect(text).toContain(`${METRICS.httpRequestsTotal}{method="POST",route="${ROUTES.predict}",status_code="200",protocol="http"}`);
    expect(text).toContain(`${METRICS.predictionLatencySeconds}_bucket{le="0.001"`);
    expect(text).toContain(METRICS.eventLoopLagP99Seconds);
  });

  it("counts every answer once under its route template, method and status; unknown URLs as 'unmatched'", async () => {
    const count = async (labels: Record<string, string>) => (await metricValue(app, METRICS.httpRequestsTotal, labels)) ?? 0;
    const durations = async (labels: Record<string, string>) => {
      const metric = await app.metricsRegistry.getSingleMetric(METRICS.httpRequestDurationSeconds)!.get();
      const match = (v: { labels: Record<string, unknown>; metricName?: string }) =>
        v.metricName?.endsWith("_count") && Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value);
      return (metric.values as { labels: Record<string, unknown>; metricName?: string; value: number }[]).find(match)?.value ?? 0;
    };
    const cases: [() => Promise<unknown>, Record<string, string>][] = [
      [() => post(ROUTES.predict, example), { method: "POST", route: ROUTES.predict, status_code: "200" }],
      [() => post(ROUTES.predict, { ...example, hour: "late" }), { method: "POST", route: ROUTES.predict, status_code: "400" }],
      [() => post(ROUTES.predictBatch, [example]), { method: "POST", route: ROUTES.predictBatch, status_code: "200" }],
      [() => app.inject(ROUTES.healthz), { method: "GET", route: ROUTES.healthz, status_code: "200" }],
      [() => app.inject({ method: "HEAD", url: ROUTES.healthz }), { method: "HEAD", route: ROUTES.healthz, status_code: "200" }],
      [() => app.inject("/v2/models/no-such-model"), { method: "GET", route: ROUTES.v2.model, status_code: "404" }],
      [() => app.inject("/no/such/path?secret=1"), { method: "GET", route: UNMATCHED_ROUTE, status_code: "404" }],
    ];
    for (const [send, labels] of cases) {
      const [before, beforeDurations] = [await count(labels), await durations(labels)];
      await send();
      expect({ labels, counted: (await count(labels)) - before, timed: (await durations(labels)) - beforeDurations }).toEqual({ labels, counted: 1, timed: 1 });
    }
    expect((await app.inject(ROUTES.metrics)).body).not.toContain("secret");
  });

  it("describes the served version, its lineage and its contract", async () => {
    const body = (await app.inject(ROUTES.model)).json();
    expect(body.name).toBe(app.models.current!.identity.name);
    expect(body.inputs.map((c: ColumnSpec) => c.name)).toEqual(pkg.inputs.map((c) => c.name));
    expect(body.request_schema.additionalProperties).toBe(false);
    expect(body).toHaveProperty("lineage");
    expect(body.threshold).toBeGreaterThan(0);
  });
});

describe("bad input gets a 4xx naming the problem, never a 5xx", () => {
  it("wrong type", async () => {
    const column = pkg.inputs.find(numeric)!;
    expectBadRequest(await post(ROUTES.predict, { ...example, [column.name]: "seven" }), column.name);
  });

  it("missing field", async () => {
    const column = pkg.inputs[0]!;
    const { [column.name]: _, ...rest } = example;
    expectBadRequest(await post(ROUTES.predict, rest), column.name);
  });

  it("unknown field", async () => {
    expectBadRequest(await post(ROUTES.predict, { ...example, favourite_colour: "blue" }), "favourite_colour");
  });

  it("every bad field at once", async () => {
    const [a, b] = pkg.inputs;
    const response = await post(ROUTES.predict, { ...example, [a!.name]: null, [b!.name]: [] });
    expectBadRequest(response, a!.name);
    expectBadRequest(response, b!.name);
  });

  it("NaN and Infinity (not JSON numbers) and numeric strings", async () => {
    const column = pkg.inputs.find(numeric)!;
    const raw = JSON.stringify({ ...example, [column.name]: 0 }).replace(`"${column.name}":0`, `"${column.name}":NaN`);
    expectBadRequest(await post(ROUTES.predict, raw));
    expectBadRequest(await post(ROUTES.predict, JSON.stringify(example).replace(/}$/, `,"x":Infinity}`)));
    expectBadRequest(await post(ROUTES.predict, { ...example, [column.name]: "NaN" }), column.name);
    expectBadRequest(await post(ROUTES.predict, { ...example, [column.name]: "12" }), column.name);
  });

  it("out-of-range values per the model's feature spec", async () => {
    const [name, constraint] = Object.entries(pkg.featureSpec).find(([, c]) => c.maximum !== undefined)!;
    expectBadRequest(await post(ROUTES.predict, { ...example, [name]: constraint.maximum! + 1 }), name);
  });

  it("huge bodies, non-JSON, wrong content type, empty body", async () => {
    const huge = await post(ROUTES.predict, JSON.stringify({ ...example, pad: "x".repeat(2 * 1024 * 1024) }));
    expect(huge.statusCode).toBe(413);
    expectBadRequest(await post(ROUTES.predict, "{not json"));
    expect((await post(ROUTES.predict, "hour=3", { "content-type": "application/x-www-form-urlencoded" })).statusCode).toBe(415);
    expectBadRequest(await app.inject({ method: "POST", url: ROUTES.predict, headers: { "content-type": "application/json" } }));
  });

  it("arrays on /predict, objects on /predict/batch, empty and oversize batches", async () => {
    expectBadRequest(await post(ROUTES.predict, [example]), "(body)");
    expectBadRequest(await post(ROUTES.predictBatch, example), "(body)");
    expectBadRequest(await post(ROUTES.predictBatch, []), "(body)");
    expectBadRequest(await post(ROUTES.predictBatch, Array.from({ length: 1001 }, () => example)), "(body)");
    const column = pkg.inputs[0]!;
    expectBadRequest(await post(ROUTES.predictBatch, [example, { ...example, [column.name]: {} }]), `[1].${column.name}`);
  });

  it("property: generated bodies never get a 5xx, and errors are well formed", async () => {
    const value = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
    const mutated = fc.record({
      drop: fc.subarray(pkg.inputs.map((c) => c.name)),
      set: fc.dictionary(fc.constantFrom(...pkg.inputs.map((c) => c.name), "extra", "__proto__", "constructor"), value),
    });
    const body = fc.oneof(
      mutated.map(({ drop, set }) => {
        const record: Record<string, unknown> = { ...example, ...set };
        for (const name of drop) delete record[name];
        return JSON.stringify(record);
      }),
      fc.json(),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (payload, batch) => {
        const response = await post(batch ? ROUTES.predictBatch : ROUTES.predict, batch ? `[${payload}]` : payload);
        expect(response.statusCode).toBeLessThan(500);
        if (response.statusCode !== 200) {
          const error = response.json();
          expect(error.statusCode).toBe(response.statusCode);
          expect(typeof error.message).toBe("string");
        }
      }),
      { numRuns: 300 },
    );
  });
});
