/**
 * The object-storage sink's index of recent predictions, against a Map as the model: the last `capacity`
 * found with every field, older ones and foreign or malformed ids not found, through many rounds of eviction
 * (backward-shift deletion keeps every probe run intact).
 */
import type { PredictionLogEntry } from "../../service/src/contract";
import { newPredictionId } from "../../service/src/model/prediction-id";
import { parseId, RecentPredictions } from "../../service/src/prediction-log/recent-predictions";
import { entry } from "./support";

function varied(i: number): PredictionLogEntry {
  const kind = i % 3;
  return entry(i, {
    predictionId: newPredictionId(),
    modelName: i % 7 === 0 ? "fraud" : "flight-delay",
    modelVersion: String(i % 4),
    variant: i % 5 === 0 ? "canary" : "stable",
    task: kind === 0 ? "binary" : kind === 1 ? "multiclass" : "regression",
    label: kind === 0 ? i % 2 : kind === 1 ? `class-${i % 9}` : null,
    probability: kind === 2 ? null : (i % 100) / 100,
    value: kind === 2 ? i / 3 : null,
    fallback: i % 11 === 0,
  });
}

const expected = (e: PredictionLogEntry) => ({
  model: e.modelName,
  version: e.modelVersion,
  variant: e.variant,
  task: e.task,
  label: e.label === null ? null : String(e.label),
  probability: e.probability,
  value: e.value,
  fallback: e.fallback,
  verified: true,
});

test("the last `capacity` predictions are found with every field, older ones are not, through many evictions", () => {
  const capacity = 1000;
  const recent = new RecentPredictions(capacity);
  const all: PredictionLogEntry[] = [];
  for (let i = 0; i < 25_000; i++) {
    const e = varied(i);
    all.push(e);
    recent.add(e);
    if (i % 997 === 0) {
      for (const kept of all.slice(-capacity)) expect(recent.find(kept.predictionId)).toEqual(expected(kept));
      for (const gone of all.slice(Math.max(0, all.length - capacity - 300), Math.max(0, all.length - capacity))) expect(recent.find(gone.predictionId)).toBeUndefined();
    }
  }
  expect(recent.find(newPredictionId())).toBeUndefined();
  expect(recent.find(all.at(-1)!.predictionId.toUpperCase())).toBeUndefined();
  expect(recent.find("not-an-id")).toBeUndefined();
});

test("ids parse to their 128 bits; anything but a lower-case UUID is refused", () => {
  const out = new Uint32Array(4);
  expect(parseId("01a23772-9ad7-7cd2-8f00-00000000abcd", out)).toBe(true);
  expect([...out]).toEqual([0x01a23772, 0x9ad77cd2, 0x8f000000, 0x0000abcd]);
  for (const bad of ["01a23772-9ad7-7cd2-8f00-00000000abc", "01a23772x9ad7-7cd2-8f00-00000000abcd", "01A23772-9ad7-7cd2-8f00-00000000abcd", "01a23772-9ad7-7cd2-8f00-00000000abcg"]) expect(parseId(bad, out)).toBe(false);
  expect(() => new RecentPredictions(0)).toThrow(/positive integer/);
});
