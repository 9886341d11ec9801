// The committed embedded model directory: what the service loads when no registry is configured.
import fc from "fast-check";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import { EMBEDDED_MODEL_DIR } from "../../service/src/contract/settings";
import { readModelPackage, type ModelPackage } from "../../service/src/model/mlmodel";
import { FLIGHT_DELAY_INPUTS } from "../../service/model-kit/flight-delay-model";
import { columnFeeds, createSession, positiveProbabilities } from "../../service/model-kit/onnx-scoring";

const dir = join(__dirname, "..", "..", EMBEDDED_MODEL_DIR);
let pkg: ModelPackage;
let session: InferenceSession;

beforeAll(async () => {
  pkg = await readModelPackage(dir);
  session = await createSession(pkg.onnxPath);
});
afterAll(() => session?.release());

const ONNX_TYPES: Record<string, string> = { long: "int64", integer: "int32", double: "float64", float: "float32", string: "string", boolean: "bool" };

describe("embedded flight-delay model", () => {
  it("is an MLflow directory with a column-based signature the graph inputs follow exactly", () => {
    expect(pkg.inputs.map((c) => c.name)).toEqual(["hour", "day_of_week", "day_of_month", "distance", "origin", "destination"]);
    expect(pkg.outputs).toEqual([
      { name: "label", dtype: "int64", shape: [-1] },
      { name: "probabilities", dtype: "float32", shape: [-1, 2] },
    ]);
    expect(session.inputNames).toEqual(pkg.inputs.map((c) => c.name));
    expect(session.outputNames).toEqual(["label", "probabilities"]);
    for (const [i, meta] of session.inputMetadata.entries()) {
      if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
      expect(meta.type).toBe(ONNX_TYPES[pkg.inputs[i].type]);
      expect(meta.shape).toHaveLength(2);
      expect(meta.shape[1]).toBe(1);
    }
  });

  it("scores its input example with probabilities in [0, 1] whose rows sum to 1", async () => {
    expect(pkg.inputExample.length).toBeGreaterThan(0);
    const result = await session.run(columnFeeds(pkg.inputs, pkg.inputExample));
    const probabilities = result.probabilities.data as Float32Array;
    const labels = result.label.data as BigInt64Array;
    expect(result.probabilities.dims).toEqual([pkg.inputExample.length, 2]);
    for (let i = 0; i < pkg.inputExample.length; i++) {
      expect(probabilities[2 * i]).toBeGreaterThanOrEqual(0);
      expect(probabilities[2 * i + 1]).toBeLessThanOrEqual(1);
      expect(probabilities[2 * i] + probabilities[2 * i + 1]).toBeCloseTo(1, 5);
      expect(labels[i]).toBe(probabilities[2 * i + 1] > 0.5 ? 1n : 0n);
    }
  });

  it("scores any record the feature spec admits, unknown airports included", async () => {
    const spec = pkg.featureSpec;
    const int = (name: string) => fc.integer({ min: spec[name].minimum!, max: spec[name].maximum! });
    const airport = fc.stringMatching(new RegExp(spec.origin.pattern!));
    const record = fc.record({
      hour: int("hour"),
      day_of_week: int("day_of_week"),
      day_of_month: int("day_of_month"),
      distance: fc.double({ min: spec.distance.minimum!, max: spec.distance.maximum!, noNaN: true }),
      origin: airport,
      destination: airport,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 20 }), async (records) => {
        const p = await positiveProbabilities(session, FLIGHT_DELAY_INPUTS, records);
        expect(p).toHaveLength(records.length);
        for (const value of p) expect(value >= 0 && value <= 1).toBe(true);
      }),
      { numRuns: 200 },
    );
    const [unknown] = await positiveProbabilities(session, FLIGHT_DELAY_INPUTS, [{ ...pkg.inputExample[0], origin: "ZZZ", destination: "QQQ" }]);
    expect(unknown).toBeGreaterThan(0);
    expect(unknown).toBeLessThan(1);
  });

  it("constrains exactly the signature inputs, and its own example and reference satisfy the constraints", async () => {
    expect(Object.keys(pkg.featureSpec).sort()).toEqual(pkg.inputs.map((c) => c.name).sort());
    const reference = await readReference();
    for (const record of [...pkg.inputExample, ...reference.slice(0, 1000)]) {
      for (const [name, constraint] of Object.entries(pkg.featureSpec)) {
        const value = record[name];
        if (constraint.minimum !== undefined) expect(value as number).toBeGreaterThanOrEqual(constraint.minimum);
        if (constraint.maximum !== undefined) expect(value as number).toBeLessThanOrEqual(constraint.maximum);
        if (constraint.pattern !== undefined) expect(value as string).toMatch(new RegExp(constraint.pattern));
      }
    }
  });

  it("records honest held-out metrics and a threshold", () => {
    expect(pkg.metrics.auc).toBeGreaterThan(0.6);
    expect(pkg.metrics.accuracy).toBeGreaterThan(0.5);
    expect(pkg.metrics.log_loss).toBeLessThan(0.69);
    expect(pkg.metrics.chosen_threshold).toBeGreaterThan(0);
    expect(pkg.metrics.chosen_threshold).toBeLessThan(1);
  });

  it("ships a training-data reference whose probability column is the model's own output", async () => {
    const reference = await readReference();
    expect(reference.length).toBeGreaterThanOrEqual(1000);
    expect(Object.keys(reference[0])).toEqual([...pkg.inputs.map((c) => c.name), "probability", "actual"]);
    const sample = reference.slice(0, 200);
    const scored = await positiveProbabilities(session, pkg.inputs, sample);
    sample.forEach((row, i) => expect(row.probability as number).toBeCloseTo(scored[i], 5));
    expect(new Set(reference.map((row) => row.actual))).toEqual(new Set([0, 1]));
  });

  it("stays small enough to commit", async () => {
    const { stat, readdir } = await import("node:fs/promises");
    const sizes = await Promise.all((await readdir(dir)).map(async (file) => (await stat(join(dir, file))).size));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(2 * 1024 * 1024);
  });
});

/** reference.csv rows typed by the signature (no quoting needed: codes and numbers only). */
async function readReference(): Promise<Record<string, string | number>[]> {
  const [header, ...lines] = (await readFile(pkg.referencePath!, "utf8")).trimEnd().split("\n");
  const columns = header.split(",");
  const isString = (name: string) => pkg.inputs.find((c) => c.name === name)?.type === "string";
  return lines.map((line) => Object.fromEntries(line.split(",").map((cell, i) => [columns[i], isString(columns[i]) ? cell : Number(cell)])));
}
