// The committed demo models (one per tabular task), checked against their own files and against the held-out
// month itself: every stored metric is recomputed here from the real June 2001 flights, independently of the build.
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import { TASK_TAG, VALUE_BUCKETS_KEY } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { readModelPackage, type ModelPackage } from "../../service/src/model/mlmodel";
import { DEMO_MODEL_NAMES, DEMO_MODELS, type DemoModelName } from "../../service/model-kit/demo-models";
import { rocAuc } from "../../service/model-kit/evaluation";
import { DELAY_CLASSES, delayClass } from "../../service/model-kit/flight-delay-classes";
import { VALUE_BUCKET_LEVELS } from "../../service/model-kit/flight-delay-minutes";
import { flightAt, flightFeatures, readFlightTable, type FlightFeatures } from "../../service/model-kit/flights";
import { columnFeeds, createSession, scoreOutput } from "../../service/model-kit/onnx-scoring";
import { DEFAULT_TRAINING_CONFIG } from "../../service/model-kit/train";
import { readMlmodel, type MlmodelFile } from "../support/fixture-models";

/** ONNX Runtime's element type names for MLflow column types and tensor-spec numpy dtypes. */
const ORT_TYPE: Record<string, string> = { long: "int64", double: "float64", string: "string", float32: "float32", int64: "int64", object: "string" };

interface Loaded {
  readonly pkg: ModelPackage;
  readonly mlmodel: MlmodelFile;
  readonly session: InferenceSession;
}
/** Half a million rows per step: room for a loaded shared machine (nothing here is timed). */
const HELD_OUT_TIMEOUT_MS = 180_000;
const loaded = new Map<DemoModelName, Loaded>();
let june: { records: FlightFeatures[]; delays: Float64Array };

beforeAll(async () => {
  for (const name of DEMO_MODEL_NAMES) {
    const dir = join(projectRoot(), DEMO_MODELS[name].dir);
    const pkg = await readModelPackage(dir);
    loaded.set(name, { pkg, mlmodel: await readMlmodel(dir), session: await createSession(pkg.onnxPath) });
  }
  const table = await readFlightTable({ months: [DEFAULT_TRAINING_CONFIG.testMonth] });
  june = { records: Array.from({ length: table.length }, (_, i) => flightFeatures(flightAt(table, i))), delays: table.delay };
}, HELD_OUT_TIMEOUT_MS);
afterAll(async () => {
  for (const { session } of loaded.values()) await session.release();
});

const model = (name: DemoModelName) => loaded.get(name)!;
/** Stored metrics are rounded to 4 decimals. */
const expectMetric = (stored: number | undefined, recomputed: number) => expect(Math.abs(Number(recomputed.toFixed(4)) - stored!)).toBeLessThanOrEqual(1e-4);

describe.each(DEMO_MODEL_NAMES)("demo model %s", (name) => {
  it("has a column-based signature that the graph's inputs and outputs follow exactly", () => {
    const { mlmodel, session } = model(name);
    expect(mlmodel.inputs.every((entry) => entry.kind === "column")).toBe(true);
    expect(session.inputNames).toEqual(mlmodel.inputs.map((entry) => entry.name));
    session.inputMetadata.forEach((meta, i) => {
      const entry = mlmodel.inputs[i];
      if (!meta.isTensor || entry.kind !== "column") throw new Error(`${meta.name}: not a tensor column`);
      expect(meta.type).toBe(ORT_TYPE[entry.type]);
      expect(meta.shape).toHaveLength(2);
      expect(meta.shape[1]).toBe(1);
    });
    expect(session.outputNames).toEqual(mlmodel.outputs.map((entry) => entry.name));
    session.outputMetadata.forEach((meta, i) => {
      const entry = mlmodel.outputs[i];
      if (!meta.isTensor || entry.kind !== "tensor") throw new Error(`${meta.name}: not a tensor output`);
      expect(meta.type).toBe(ORT_TYPE[entry.dtype]);
      expect(meta.shape).toHaveLength(entry.shape.length);
      entry.shape.forEach((size, d) => expect(size === -1 ? typeof meta.shape[d] : meta.shape[d]).toBe(size === -1 ? "string" : size));
    });
  });

  it("names its task in MLmodel metadata (the binary model, older than tasks, names none)", () => {
    const { task } = DEMO_MODELS[name];
    expect(model(name).mlmodel.metadata[TASK_TAG]).toBe(task === "binary" ? undefined : task);
  });

  it("answers its input example", async () => {
    const { pkg, session } = model(name);
    const result = await session.run(columnFeeds(pkg.inputs, pkg.inputExample));
    for (const output of session.outputNames) expect(result[output].dims[0]).toBe(pkg.inputExample.length);
  });

  it("ships a reference sample whose prediction columns are the model's own output", async () => {
    const { pkg, session } = model(name);
    const rows = (await readReference(pkg)).slice(0, 200);
    const result = await session.run(columnFeeds(pkg.inputs, rows));
    rows.forEach((row, i) => {
      if (name === "flight-delay") expect(row.probability as number).toBeCloseTo((result.probabilities.data as Float32Array)[2 * i + 1], 5);
      if (name === "flight-delay-minutes") expect(row.value as number).toBeCloseTo((result.variable.data as Float32Array)[i], 3);
      if (name === "flight-delay-classes") {
        const label = (result.label.data as string[])[i];
        expect(row.label).toBe(label);
        expect(row.probability as number).toBeCloseTo((result.probabilities.data as Float32Array)[3 * i + DELAY_CLASSES.indexOf(label as (typeof DELAY_CLASSES)[number])], 5);
      }
    });
  });

  it("stays small enough to commit", async () => {
    const dir = model(name).pkg.dir;
    const sizes = await Promise.all((await readdir(dir)).map(async (file) => (await stat(join(dir, file))).size));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(2 * 1024 * 1024);
  });
});

describe("held-out metrics (all June 2001 flights, recomputed)", () => {
  it("binary: AUC and accuracy at the chosen threshold", async () => {
    const { pkg, session } = model("flight-delay");
    const { data } = await scoreOutput(session, pkg.inputs, june.records, "probabilities");
    const p = Float64Array.from({ length: june.records.length }, (_, i) => data[2 * i + 1]);
    const delayed = Uint8Array.from(june.delays, (d) => (d > 15 ? 1 : 0));
    expect(pkg.metrics.test_rows).toBe(june.records.length);
    expectMetric(pkg.metrics.auc, rocAuc(p, delayed));
    let correct = 0;
    p.forEach((probability, i) => (correct += Number((probability >= pkg.metrics.chosen_threshold! ? 1 : 0) === delayed[i])));
    expectMetric(pkg.metrics.accuracy, correct / p.length);
  }, HELD_OUT_TIMEOUT_MS);

  it("regression: MAE (the registered baseline), RMSE and R² of the predicted minutes", async () => {
    const { pkg, session } = model("flight-delay-minutes");
    const { data, width } = await scoreOutput(session, pkg.inputs, june.records, "variable");
    expect(width).toBe(1);
    expect(pkg.metrics.test_rows).toBe(june.records.length);
    const n = june.delays.length;
    const mean = june.delays.reduce((a, b) => a + b, 0) / n;
    let absolute = 0;
    let squared = 0;
    let total = 0;
    june.delays.forEach((actual, i) => {
      absolute += Math.abs(actual - data[i]);
      squared += (actual - data[i]) ** 2;
      total += (actual - mean) ** 2;
    });
    expectMetric(pkg.metrics.mae, absolute / n);
    expectMetric(pkg.metrics.rmse, Math.sqrt(squared / n));
    expectMetric(pkg.metrics.r2, 1 - squared / total);
    expectMetric(pkg.metrics.test_mean_delay, mean);
  }, HELD_OUT_TIMEOUT_MS);

  it("multiclass: accuracy of the label output and per-class precision and recall", async () => {
    const { pkg, session } = model("flight-delay-classes");
    expect(pkg.metrics.test_rows).toBe(june.records.length);
    const labels: string[] = [];
    for (let start = 0; start < june.records.length; start += 8192) {
      const result = await session.run(columnFeeds(pkg.inputs, june.records.slice(start, start + 8192)), ["label"]);
      labels.push(...(result.label.data as string[]));
    }
    const actual = Array.from(june.delays, (delay) => DELAY_CLASSES[delayClass(delay)]);
    expectMetric(pkg.metrics.accuracy, labels.filter((label, i) => label === actual[i]).length / labels.length);
    for (const label of DELAY_CLASSES) {
      const answered = labels.filter((l) => l === label).length;
      const truly = actual.filter((a) => a === label).length;
      const both = labels.filter((l, i) => l === label && actual[i] === label).length;
      expectMetric(pkg.metrics[`precision_${label}`], answered === 0 ? 0 : both / answered);
      expectMetric(pkg.metrics[`recall_${label}`], both / truly);
      expectMetric(pkg.metrics[`test_share_${label}`], truly / actual.length);
    }
  }, HELD_OUT_TIMEOUT_MS);
});

describe("regression value buckets", () => {
  it("are ascending percentiles of the training predictions: the reference sample (training rows) falls into them at those shares", async () => {
    const { pkg, mlmodel } = model("flight-delay-minutes");
    const buckets = mlmodel.metadata[VALUE_BUCKETS_KEY] as number[];
    expect(buckets).toHaveLength(VALUE_BUCKET_LEVELS.length);
    buckets.forEach((bound, i) => i > 0 && expect(bound).toBeGreaterThan(buckets[i - 1]));
    const values = (await readReference(pkg)).map((row) => row.value as number);
    buckets.forEach((bound, i) => {
      const share = values.filter((v) => v <= bound).length / values.length;
      expect(Math.abs(share - VALUE_BUCKET_LEVELS[i])).toBeLessThan(0.03);
    });
  });
});

/** reference.csv rows, typed by the signature (numbers unless the column is a string input or a class label). */
async function readReference(pkg: ModelPackage): Promise<Record<string, string | number>[]> {
  const [header, ...lines] = (await readFile(pkg.referencePath!, "utf8")).trimEnd().split("\n");
  const columns = header.split(",");
  const isString = (column: string) => pkg.inputs.find((c) => c.name === column)?.type === "string" || ((column === "label" || column === "actual") && columns.includes("label"));
  return lines.map((line) => Object.fromEntries(line.split(",").map((cell, i) => [columns[i], isString(columns[i]) ? cell : Number(cell)])));
}
