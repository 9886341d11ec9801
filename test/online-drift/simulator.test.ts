/**
 * Online drift in the running service, fed by the drift simulator (real flights over HTTP). Traffic from the
 * training months, the population the version's reference was sampled from, raises no alarm over many windows;
 * the same traffic with distance scaled (an upstream unit change) raises one for distance within a few windows.
 * Windows are tested by calling the monitor between batches of exactly one window of requests (the timer is
 * set far off), so the count of windows does not depend on how fast this machine is; the simulator's seeds make
 * every window's values the same on every run.
 */
import type { AddressInfo } from "node:net";
import { ENV, METRICS } from "../../service/src/contract";
import { readFlightTable, type FlightTable } from "../../service/model-kit/flights";
import { simulate } from "../../service/src/drift/simulate";
import type { ModelportApp } from "../../service/src/app";
import { metricValue, startTestApp } from "../support/service-app";

jest.setTimeout(600_000);

const WINDOW = 500;
const FEATURES = ["hour", "day_of_week", "day_of_month", "distance", "origin", "destination"];
let app: ModelportApp;
let url: string;
let training: FlightTable;

beforeAll(async () => {
  app = await startTestApp({ [ENV.onlineDriftWindow]: String(WINDOW), [ENV.onlineDriftIntervalSeconds]: "3600", [ENV.onlineDriftFalseAlarmWindows]: "10000" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  training = await readFlightTable({ months: [1, 2, 3, 4] });
});
afterAll(async () => {
  await app?.close();
});

const labels = () => ({ model: app.models.current!.identity.name, version: app.models.current!.identity.version, variant: "stable" });
const total = async (metric: string, column: string) => (await metricValue(app, metric, { ...labels(), column })) ?? 0;

/** One window of simulated requests, then one test of it. */
async function window(seed: number, scale?: Record<string, number>): Promise<void> {
  const summary = await simulate({ url, months: [1, 2, 3, 4], requests: WINDOW, concurrency: 8, feedback: false, seed, scale }, training);
  expect(summary.ok).toBe(WINDOW);
  expect(await app.onlineDrift!.evaluateNow()).toBe(1);
}

test("exports the thresholds before the first window: 1 / (expected windows between false alarms x 6 features)", async () => {
  await simulate({ url, months: [1], requests: 1, concurrency: 1, feedback: false, seed: 99 }, training);
  // The reference loads off the request path; its series appear once it has.
  for (let i = 0; i < 100 && (await metricValue(app, METRICS.onlineDriftThreshold, { ...labels(), column: "distance" })) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  for (const column of FEATURES) {
    expect(await metricValue(app, METRICS.onlineDriftThreshold, { ...labels(), column, method: ["origin", "destination"].includes(column) ? "chisquare" : "ks" })).toBeCloseTo(1 / 60_000, 12);
    expect(await total(METRICS.onlineDriftWindowsTotal, column)).toBe(0);
  }
  // Fill the rest of the first window, so the windows below each hold exactly their own requests.
  await simulate({ url, months: [1], requests: WINDOW - 1, concurrency: 8, feedback: false, seed: 98 }, training);
  await app.onlineDrift!.evaluateNow();
});

test("training-month traffic: no alarm in 30 windows", async () => {
  const before = await total(METRICS.onlineDriftWindowsTotal, "distance");
  for (let w = 0; w < 30; w++) await window(1000 + w);
  for (const column of FEATURES) {
    expect(await total(METRICS.onlineDriftWindowsTotal, column)).toBe(before + 30);
    expect(await total(METRICS.onlineDriftDriftedWindowsTotal, column)).toBe(0);
    expect(await metricValue(app, METRICS.onlineDriftLastDriftTimestampSeconds, { ...labels(), column })).toBe(0);
  }
  const p = await metricValue(app, METRICS.onlineDriftPValue, { ...labels(), column: "distance", method: "ks" });
  expect(p).toBeGreaterThan(1 / 60_000);
});

test("distance scaled by 1.5: distance drifts within 3 windows, and the alarm says when", async () => {
  const before = Date.now() / 1000;
  let windows = 0;
  while (windows < 3 && (await total(METRICS.onlineDriftDriftedWindowsTotal, "distance")) === 0) await window(2000 + windows++, { distance: 1.5 });
  expect(await total(METRICS.onlineDriftDriftedWindowsTotal, "distance")).toBeGreaterThan(0);
  expect(await metricValue(app, METRICS.onlineDriftDrifted, { ...labels(), column: "distance" })).toBe(1);
  expect(await metricValue(app, METRICS.onlineDriftLastDriftTimestampSeconds, { ...labels(), column: "distance" })).toBeGreaterThanOrEqual(Math.floor(before));
  expect(await metricValue(app, METRICS.onlineDriftPValue, { ...labels(), column: "distance", method: "ks" })).toBeLessThan(1 / 60_000);
  // The other features were not touched and did not drift.
  for (const column of FEATURES.filter((c) => c !== "distance")) expect(await total(METRICS.onlineDriftDriftedWindowsTotal, column)).toBe(0);
});

test("ONLINE_DRIFT_WINDOW=0 turns it off: no monitor, no series", async () => {
  const off = await startTestApp({ [ENV.onlineDriftWindow]: "0" });
  try {
    expect(off.onlineDrift).toBeUndefined();
    expect(await off.metricsRegistry.getSingleMetric(METRICS.onlineDriftPValue)).toBeUndefined();
  } finally {
    await off.close();
  }
});
