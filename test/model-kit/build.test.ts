import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { TASK_TAG, VALUE_BUCKETS_KEY } from "../../service/src/contract";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { buildFlightDelayModel } from "../../service/model-kit/build-flight-delay";
import { DELAY_CLASSES, flightDelayClassesGraph, trainFlightDelayClasses } from "../../service/model-kit/flight-delay-classes";
import { buildFlightDelayMinutesModel, flightDelayMinutesGraph, trainFlightDelayMinutes, VALUE_OUTPUT } from "../../service/model-kit/flight-delay-minutes";
import { FLIGHT_DELAY_INPUTS, flightDelayTreeGraph, treeFeatureVector } from "../../service/model-kit/flight-delay-model";
import { DEMO_MODELS } from "../../service/model-kit/demo-models";
import { predictRaw, predictScores, softmax } from "../../service/model-kit/gbdt";
import { columnFeeds, createSession, positiveProbabilities } from "../../service/model-kit/onnx-scoring";
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

/** Two builds read the parquet file twice; a loaded shared machine can take a while, and nothing here is timed. */
const TWO_BUILDS_TIMEOUT_MS = 180_000;

const MLFLOW_FILES = ["MLmodel", "conda.yaml", "feature_spec.json", "input_example.json", "metrics.json", "model.onnx", "python_env.yaml", "reference.csv", "requirements.txt"];

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "model-kit-"));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

async function expectIdenticalDirs(first: string, second: string): Promise<string[]> {
  const files = (await readdir(first)).sort();
  expect((await readdir(second)).sort()).toEqual(files);
  for (const file of files) expect(Buffer.compare(await readFile(join(first, file)), await readFile(join(second, file)))).toBe(0);
  return files;
}

describe("model:build", () => {
  it("writes byte-identical directories when run twice, which readModelPackage accepts", async () => {
    const first = join(workDir, "first");
    const second = join(workDir, "second");
    await buildFlightDelayModel(first, SMALL);
    await buildFlightDelayModel(second, SMALL);
    expect(await expectIdenticalDirs(first, second)).toEqual(MLFLOW_FILES);

    const pkg = await readModelPackage(first);
    expect(pkg.inputs).toEqual(FLIGHT_DELAY_INPUTS);
    expect(pkg.metrics.chosen_threshold).toBeGreaterThan(0);
    expect(pkg.referencePath).toBeDefined();
    // The binary model names no task: its MLmodel stays what it was before tasks existed.
    expect((parseYaml(await readFile(join(first, "MLmodel"), "utf8")) as Record<string, unknown>).metadata).toBeUndefined();
  }, TWO_BUILDS_TIMEOUT_MS);

  it.each([
    ["regression", buildFlightDelayMinutesModel],
    ["multiclass", DEMO_MODELS["flight-delay-classes"].build],
  ] as const)("writes the %s model byte-identically twice, with its task in MLmodel metadata and a model card", async (task, build) => {
    const first = join(workDir, `${task}-first`);
    const second = join(workDir, `${task}-second`);
    await build(first, SMALL);
    await build(second, SMALL);
    expect(await expectIdenticalDirs(first, second)).toEqual([...MLFLOW_FILES, "README.md"].sort());
    const mlmodel = parseYaml(await readFile(join(first, "MLmodel"), "utf8")) as { metadata: Record<string, unknown> };
    expect(mlmodel.metadata[TASK_TAG]).toBe(task);
    const pkg = await readModelPackage(first);
    expect(pkg.inputs).toEqual(FLIGHT_DELAY_INPUTS);
    const card = await readFile(join(first, "README.md"), "utf8");
    for (const [name, value] of Object.entries(pkg.metrics)) expect(card).toContain(`| \`${name}\` | ${value} |`);
    if (task === "regression") {
      const buckets = mlmodel.metadata[VALUE_BUCKETS_KEY] as number[];
      expect(buckets.length).toBeGreaterThan(5);
      buckets.forEach((bound, i) => i > 0 && expect(bound).toBeGreaterThan(buckets[i - 1]));
      expect(pkg.metrics.mae).toBeGreaterThan(0);
    } else {
      expect(pkg.metrics.accuracy).toBeGreaterThan(0);
      expect(pkg.metrics.classes).toBe(DELAY_CLASSES.length);
    }
  }, TWO_BUILDS_TIMEOUT_MS);

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

  it("exports a regressor (TreeEnsembleRegressor) that predicts exactly the trained trees' value", async () => {
    const trained = await trainFlightDelayMinutes(SMALL);
    expect(trained.model.objective).toBe("squared_error");
    const session = await createSession(flightDelayMinutesGraph(trained.model, trained.encodings));
    try {
      expect(session.outputNames).toEqual([VALUE_OUTPUT]);
      const records = [...trained.test.records.slice(0, 300), { ...trained.test.records[0], origin: "ZZZ", destination: "YYY" }];
      const result = (await session.run(columnFeeds(FLIGHT_DELAY_INPUTS, records)))[VALUE_OUTPUT];
      expect(result.dims).toEqual([records.length, 1]);
      const values = result.data as Float32Array;
      records.forEach((record, i) => {
        const expected = predictRaw(trained.model, treeFeatureVector(record, trained.encodings));
        expect(Math.abs(values[i] - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
      });
    } finally {
      await session.release();
    }
  });

  it("exports a softmax classifier whose probabilities and string labels are the trained trees'", async () => {
    const trained = await trainFlightDelayClasses(SMALL);
    expect(trained.model.trees).toHaveLength(SMALL.gbdt.trees! * DELAY_CLASSES.length);
    const session = await createSession(flightDelayClassesGraph(trained.model, trained.encodings));
    try {
      const records = [...trained.test.records.slice(0, 300), { ...trained.test.records[0], origin: "ZZZ", destination: "YYY" }];
      const result = await session.run(columnFeeds(FLIGHT_DELAY_INPUTS, records));
      expect(result.probabilities.dims).toEqual([records.length, DELAY_CLASSES.length]);
      expect(result.label.type).toBe("string");
      const probabilities = result.probabilities.data as Float32Array;
      const labels = result.label.data as string[];
      records.forEach((record, i) => {
        const expected = softmax(predictScores(trained.model, treeFeatureVector(record, trained.encodings)));
        expected.forEach((p, k) => expect(probabilities[i * 3 + k]).toBeCloseTo(p, 5));
        expect(labels[i]).toBe(DELAY_CLASSES[expected.indexOf(Math.max(...expected))]);
      });
    } finally {
      await session.release();
    }
  });

  it("refuses to evaluate on a training month", async () => {
    await expect(trainFlightDelay({ ...SMALL, testMonth: 2 })).rejects.toThrow(/testMonth 2/);
  });
});
