/**
 * A scored file says what /predict says for the same rows: the same model loading, validator and predictor, so
 * every probability, label and value is equal (not close), for each task the scorer serves, from Parquet and
 * from CSV. The flights are real (June 2001, the models' held-out month).
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ENV, ROUTES } from "../../service/src/contract";
import { runScoringJob } from "../../service/src/scoring/job";
import { startTestApp } from "../support/service-app";
import { BINARY_MODEL, MULTICLASS_MODEL, REGRESSION_MODEL, featuresCsv, featuresParquet, readParquetRows } from "./support";

jest.setTimeout(240_000);

const ROWS = 3000;
/** Rows compared with /predict/batch: every 7th, in MAX_BATCH_RECORDS-sized requests. */
const SAMPLE = Array.from({ length: Math.floor(ROWS / 7) }, (_, i) => i * 7);
const FEATURES = ["hour", "day_of_week", "day_of_month", "distance", "origin", "destination"] as const;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "score-parity-"));
});

async function predictBatch(modelDir: string, records: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const app = await startTestApp({ [ENV.modelUri]: modelDir });
  try {
    const out: Record<string, unknown>[] = [];
    for (let at = 0; at < records.length; at += 500) {
      const response = await app.inject({ method: "POST", url: ROUTES.predictBatch, payload: records.slice(at, at + 500) });
      expect(response.statusCode).toBe(200);
      out.push(...(response.json() as { predictions: Record<string, unknown>[] }).predictions);
    }
    return out;
  } finally {
    await app.close();
  }
}

const requestOf = (row: Record<string, unknown>) => Object.fromEntries(FEATURES.map((f) => [f, typeof row[f] === "bigint" ? Number(row[f]) : row[f]]));

describe.each([
  ["binary", BINARY_MODEL],
  ["multiclass", MULTICLASS_MODEL],
  ["regression", REGRESSION_MODEL],
])("%s model", (task, modelDir) => {
  test("Parquet in, Parquet out: every sampled row equals /predict/batch's answer", async () => {
    const input = await featuresParquet(join(dir, `${task}-in.parquet`), ROWS);
    const output = join(dir, `${task}-out.parquet`);
    const summary = await runScoringJob({ model: { uri: modelDir, mlflow: {}, cacheDir: join(dir, "cache") }, inputs: [input], output, workers: 2 });
    expect(summary).toMatchObject({ task, read: ROWS, scored: ROWS, rejected: 0, rejects: null });
    const rows = await readParquetRows(output);
    expect(rows).toHaveLength(ROWS);
    const answers = await predictBatch(modelDir, SAMPLE.map((i) => requestOf(rows[i]!)));
    SAMPLE.forEach((i, k) => {
      const row = rows[i]!;
      const answer = answers[k]!;
      expect(row.model).toBe(summary.model);
      expect(row.model_version).toBe(summary.version);
      if (task === "regression") {
        expect(row.value).toBe(answer.value);
      } else if (task === "binary") {
        expect(row.probability).toBe(answer.probability);
        expect(row.label).toBe(answer.label);
      } else {
        expect(row.label).toBe(answer.label);
        expect(row.probability).toBe(answer.probability);
        for (const [label, p] of Object.entries(answer.probabilities as Record<string, number>)) expect(row[`probability_${label}`]).toBe(p);
      }
    });
  });
});

test("CSV in, CSV out (binary): the probabilities printed are the ones /predict answers, and parse back to them", async () => {
  const input = await featuresCsv(join(dir, "binary-in.csv"), 800);
  const output = join(dir, "binary-out.csv");
  await runScoringJob({ model: { uri: BINARY_MODEL, mlflow: {}, cacheDir: join(dir, "cache") }, inputs: [input], output, workers: 1 });
  const { readFile } = await import("node:fs/promises");
  const [header, ...lines] = (await readFile(output, "utf8")).trim().split("\n");
  expect(header).toBe("hour,day_of_week,day_of_month,distance,origin,destination,probability,label,prediction_id,model,model_version");
  const cells = lines.map((l) => l.split(","));
  const records = cells.slice(0, 300).map((c) => ({ hour: +c[0]!, day_of_week: +c[1]!, day_of_month: +c[2]!, distance: +c[3]!, origin: c[4], destination: c[5] }));
  const answers = await predictBatch(BINARY_MODEL, records);
  answers.forEach((answer, i) => {
    expect(Number(cells[i]![6])).toBe(answer.probability);
    expect(Number(cells[i]![7])).toBe(answer.label);
  });
});
