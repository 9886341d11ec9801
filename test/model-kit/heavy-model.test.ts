// The heavy benchmark variant, built narrow and on little data: same contract as the demo model.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { FLIGHT_DELAY_INPUTS, FLIGHT_DELAY_OUTPUTS } from "../../service/model-kit/flight-delay-model";
import { buildHeavyModel, DEFAULT_HEAVY_CONFIG } from "../../service/model-kit/heavy-model";
import { columnFeeds, createSession } from "../../service/model-kit/onnx-scoring";

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "heavy-model-"));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

it("keeps the demo model's input and output contract and scores unknown airports", async () => {
  const dir = join(workDir, "heavy");
  await buildHeavyModel(dir, {
    ...DEFAULT_HEAVY_CONFIG,
    limitRows: 20_000,
    trainRows: 2_000,
    validationRows: 500,
    referenceRows: 100,
    testRows: 500,
    hiddenWidth: 16,
    hiddenLayers: 2,
    epochs: 2,
  });
  const pkg = await readModelPackage(dir);
  expect(pkg.inputs).toEqual(FLIGHT_DELAY_INPUTS);
  expect(pkg.outputs).toEqual(FLIGHT_DELAY_OUTPUTS);
  expect(pkg.metrics.hidden_width).toBe(16);

  const session = await createSession(pkg.onnxPath);
  try {
    expect(session.inputNames).toEqual(FLIGHT_DELAY_INPUTS.map((c) => c.name));
    const records = [...pkg.inputExample, { ...pkg.inputExample[0], origin: "ZZZ", destination: "QQQ" }];
    const result = await session.run(columnFeeds(pkg.inputs, records));
    const probabilities = result.probabilities.data as Float32Array;
    const labels = result.label.data as BigInt64Array;
    expect(result.probabilities.dims).toEqual([records.length, 2]);
    expect(result.label.dims).toEqual([records.length]);
    records.forEach((_, i) => {
      expect(probabilities[2 * i] + probabilities[2 * i + 1]).toBeCloseTo(1, 5);
      expect(probabilities[2 * i + 1]).toBeGreaterThan(0);
      expect(probabilities[2 * i + 1]).toBeLessThan(1);
      expect(labels[i]).toBe(probabilities[2 * i + 1] > 0.5 ? 1n : 0n);
    });
  } finally {
    await session.release();
  }
});
