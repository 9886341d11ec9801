// The same inference request over REST (/v2/models/{name}/infer, JSON) and over gRPC (ModelInfer, typed contents
// and raw_input_contents) gives identical outputs, value for value, for every model the service serves: the three
// demo models (binary, regression, multiclass: column models fed [N, 1] inputs), the torch exports (an [N, F] MLP
// and a token-id embedding model with two int64 inputs and a dynamic sequence length) and PaddleOCR's detector and
// recogniser on the rendered fixture images.
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { ModelportApp } from "../../service/src/app";
import { EMBEDDED_MODEL_DIR, ENV } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { TORCH_MLP_DIR, TORCH_TOKEN_EMBEDDING_DIR, frameworkOutputs } from "../support/fixture-models";
import { exampleTensors, inferenceClient, rawRequest, responseTensors, typedRequest, type JsonTensor } from "../support/grpc-client";
import { assemblePaddleOcrModel, detectionInput, fixtureImage, readPgm, recognitionInput, type PaddleOcrModel } from "../support/paddleocr";
import { startTestApp } from "../support/service-app";

const DEMO_MODELS = join(projectRoot(), EMBEDDED_MODEL_DIR, "..");

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "grpc-parity-"));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

/** The version's own input example, as the model manager warmed it up with, as REST tensors. */
function exampleRequest(app: ModelportApp): JsonTensor[][] {
  const model = app.models.current!;
  return [exampleTensors(model.package, model.contract)];
}

async function torchCases(dir: string): Promise<JsonTensor[][]> {
  return (await frameworkOutputs(dir)).cases.map((c) => [...c.inputs]);
}

async function paddleOcr(kind: PaddleOcrModel): Promise<{ dir: string; requests: () => Promise<JsonTensor[][]> }> {
  const dir = await assemblePaddleOcrModel(kind, workDir);
  return {
    dir,
    requests: async () => {
      const image = await readPgm(join(dir, (await fixtureImage(kind)).image));
      const { data, shape } = kind === "det" ? detectionInput(image) : recognitionInput(image);
      return [[{ name: "x", datatype: "FP32", shape, data: Array.from(data) }]];
    },
  };
}

const MODELS: readonly [string, () => Promise<{ dir: string; requests?: () => Promise<JsonTensor[][]> }>][] = [
  ["flight-delay (binary)", async () => ({ dir: join(DEMO_MODELS, "flight-delay") })],
  ["flight-delay-minutes (regression)", async () => ({ dir: join(DEMO_MODELS, "flight-delay-minutes") })],
  ["flight-delay-classes (multiclass)", async () => ({ dir: join(DEMO_MODELS, "flight-delay-classes") })],
  ["torch-mlp", async () => ({ dir: TORCH_MLP_DIR, requests: () => torchCases(TORCH_MLP_DIR) })],
  ["torch-token-embedding", async () => ({ dir: TORCH_TOKEN_EMBEDDING_DIR, requests: () => torchCases(TORCH_TOKEN_EMBEDDING_DIR) })],
  ["paddleocr-det", () => paddleOcr("det")],
  ["paddleocr-rec", () => paddleOcr("rec")],
];

describe.each(MODELS)("%s", (_label, prepare) => {
  it("answers identically over REST and over gRPC, typed and raw", async () => {
    const { dir, requests } = await prepare();
    // Room for an image as JSON (the detector's input is ~2.5 MB of JSON text, 0.5 MB over gRPC).
    const app = await startTestApp({ [ENV.modelUri]: dir, [ENV.bodyLimitBytes]: String(64 * 1024 * 1024), [ENV.requestTimeoutMs]: "60000" });
    const model = app.models.current;
    if (!model) throw new Error(`${dir} did not load: ${JSON.stringify(app.models.state())}`);
    const client = inferenceClient(`127.0.0.1:${await app.grpc.listen("127.0.0.1", 0)}`, { "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    try {
      const name = model.identity.name;
      for (const inputs of requests ? await requests() : exampleRequest(app)) {
        const rest = await app.inject({ method: "POST", url: `/v2/models/${name}/infer`, payload: JSON.stringify({ inputs }), headers: { "content-type": "application/json" } });
        expect(rest.statusCode).toBe(200);
        const expected = rest.json().outputs as JsonTensor[];
        expect(expected.map((o) => o.name)).toEqual(model.io.outputs.map((o) => o.name));
        for (const request of [typedRequest(name, inputs), rawRequest(name, inputs)]) {
          const answer = await client.modelInfer(request);
          expect(answer.model_version).toBe(model.identity.version);
          expect(responseTensors(answer)).toEqual(expected);
        }
      }
    } finally {
      client.close();
      await app.close();
    }
  }, 120_000);
});
