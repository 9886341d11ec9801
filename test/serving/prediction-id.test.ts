/**
 * Prediction ids are UUIDv7: valid RFC 9562 UUIDs (version 7, variant 10), carrying the time they were made, in
 * time order across milliseconds, unique, and random in their last 32 bits (the prediction log samples on those).
 */
import { newPredictionId, predictionIdTime } from "../../service/src/model/prediction-id";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

it("is a version 7 UUID whose first 48 bits are the Unix time in ms", () => {
  const before = Date.now();
  const id = newPredictionId();
  const after = Date.now();
  expect(id).toMatch(UUID_V7);
  expect(predictionIdTime(id)).toBeGreaterThanOrEqual(before);
  expect(predictionIdTime(id)).toBeLessThanOrEqual(after);
});

it("ids of later milliseconds sort after earlier ones, and 200,000 ids are all distinct", async () => {
  const first = newPredictionId();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = newPredictionId();
  expect(second > first).toBe(true);
  const ids = Array.from({ length: 200_000 }, newPredictionId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
});

it("the last 32 bits are uniform: a 25% sample by them keeps about a quarter", () => {
  const n = 100_000;
  let kept = 0;
  for (let i = 0; i < n; i++) if (Number.parseInt(newPredictionId().slice(-8), 16) < 0x4000_0000) kept++;
  // Binomial(100000, 0.25): sd 137, so 6 sd either side.
  expect(Math.abs(kept - n / 4)).toBeLessThan(822);
});
