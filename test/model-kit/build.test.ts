import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { buildFlightDelayModel } from "../../service/model-kit/build-flight-delay";
import { FLIGHT_DELAY_INPUTS, flightDelayTreeGraph, treeFeatureVector } from "../../service/model-kit/flight-delay-model";
import { predictRaw } from "../../service/model-kit/gbdt";
import { createSession, positiveProbabilities } from "../../service/model-kit/onnx-scoring";
import { DEFAULT_TRAINING_CONFIG, trainFlightDelay, type TrainingConfig } from "../../service/model-kit/train";

/** A few seconds of data and trees: enough to exercise every step of the real build. */
const SMALL: TrainingConfig = {
  ...DEFAULT_TRAINING_CONFIG,
  limitRows: 20_000,
  trainRows: 8_000,
  validationRows: 2_000,
  referenceRows: 300,
  gbdt: { ...DEFAULT_TRAINING_CONFIG.gbdt, trees: 8, maxDepth: 4 },
};

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "model-kit-"));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

describe("model:build", () => {
  it("writes byte-identical directories when run twice, which readModelPackage accepts", async () => {
    const first = join(workDir, "first");
    const second = join(workDir, "second");
    await buildFlightDelayModel(first, SMALL);
    await buildFlightDelayModel(second, SMALL);
    const files = (await readdir(first)).sort();
    expect(files).toEqual(["MLmodel", "conda.yaml", "feature_spec.json", "input_example.json", "metrics.json", "model.onnx", "python_env.yaml", "reference.csv", "requirements.txt"]);
    expect((await readdir(second)).sort()).toEqual(files);
    for (const file of files) expect(Buffer.compare(await readFile(join(first, file)), await readFile(join(second, file)))).toBe(0);

    const pkg = await readModelPackage(first);
    expect(pkg.inputs).toEqual(FLIGHT_DELAY_INPUTS);
    expect(pkg.metrics.chosen_threshold).toBeGreaterThan(0);
    expect(pkg.referencePath).toBeDefined();
  });

  it("exports a graph that scores exactly as the trained trees", async () => {
    const trained = await trainFlightDelay(SMALL);
    const session = await createSession(flightDelayTreeGraph(trained.model, trained.encodings));
    try {
      const records = [...trained.test.records.slice(0, 300), { ...trained.test.records[0], origin: "ZZZ", destination: "YYY" }];
      const onnx = await positiveProbabilities(session, FLIGHT_DELAY_INPUTS, records);
      records.forEach((record, i) => {
        const expected = 1 / (1 + Math.exp(-predictRaw(trained.model, treeFeatureVector(record, trained.encodings))));
        expect(onnx[i]).toBeCloseTo(expected, 5);
      });
    } finally {
      await session.release();
    }
  });

  it("refuses to evaluate on a training month", async () => {
    await expect(trainFlightDelay({ ...SMALL, testMonth: 2 })).rejects.toThrow(/testMonth 2/);
  });
});
