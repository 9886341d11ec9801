/**
 * Each task served from one registry alias with hot reload, against the fake MLflow server: moving the alias to a
 * regressor, a multiclass classifier, a version whose registry tag says `modelport.task=tensor`, and an embedding
 * model swaps what /predict and V2 answer, the model_info task label and the baselines, without a restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelportApp } from "../../service/src/app";
import { ENV, METRICS, ROUTES, TASK_TAG } from "../../service/src/contract";
import { FakeMlflow, type RegisteredVersion } from "../support/fake-mlflow";
import { waitFor } from "../support/net";
import { FLIGHT, writeEmbeddingModel, writeMulticlassPerColumn, writeRegressionPerColumn } from "../support/onnx-models";
import { metricValue, startTestApp } from "../support/service-app";

const NAME = "delay";
let dir: string;
let mlflow: FakeMlflow;
let regressor: RegisteredVersion;
let classifier: RegisteredVersion;
let taggedTensor: RegisteredVersion;
let embedder: RegisteredVersion;
let app: ModelportApp;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "task-registry-"));
  mlflow = await FakeMlflow.start();
  regressor = await mlflow.register(NAME, { dir: await writeRegressionPerColumn(join(dir, "regressor")), runMetrics: { mae: 3.5 }, aliases: ["champion"] });
  classifier = await mlflow.register(NAME, { dir: await writeMulticlassPerColumn(join(dir, "classifier")), runMetrics: { accuracy: 0.61 } });
  // The same classifier, but the registry says to serve its raw outputs: the tag wins over the output rule.
  taggedTensor = await mlflow.register(NAME, { dir: join(dir, "classifier"), tags: { [TASK_TAG]: "tensor" } });
  embedder = await mlflow.register(NAME, { dir: await writeEmbeddingModel(join(dir, "embedder")) });
  app = await startTestApp({ [ENV.modelUri]: `models:/${NAME}@champion`, [ENV.mlflowTrackingUri]: mlflow.url, [ENV.modelPollIntervalSeconds]: "0.1" });
});

afterAll(async () => {
  await app?.close();
  await mlflow?.stop();
  await rm(dir, { recursive: true, force: true });
});

const predict = () => app.inject({ method: "POST", url: ROUTES.predict, payload: FLIGHT });
const infer = (body: unknown) => app.inject({ method: "POST", url: `/v2/models/${NAME}/infer`, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

async function moveAliasTo(version: RegisteredVersion): Promise<void> {
  mlflow.setAlias(NAME, "champion", version.version);
  await waitFor(`version ${version.version}`, async () => (app.models.current?.identity.version === version.version ? true : undefined), 15_000, 50);
}

it("swaps tasks as the alias moves: regression, multiclass, tagged tensor, embedding", async () => {
  expect(app.models.current?.identity.version).toBe(regressor.version);
  expect((await predict()).json()).toMatchObject({ version: regressor.version, value: expect.any(Number) });
  expect(await metricValue(app, METRICS.modelInfo, { version: regressor.version, task: "regression" })).toBe(1);
  expect(await metricValue(app, METRICS.modelBaselineMae, { version: regressor.version })).toBe(3.5);

  await moveAliasTo(classifier);
  expect((await predict()).json()).toMatchObject({ version: classifier.version, label: expect.any(Number), probabilities: expect.any(Object) });
  expect(await metricValue(app, METRICS.modelInfo, { version: classifier.version, task: "multiclass" })).toBe(1);
  expect(await metricValue(app, METRICS.modelInfo, { version: regressor.version })).toBeUndefined();
  expect(await metricValue(app, METRICS.modelBaselineMae, { version: regressor.version })).toBeUndefined();
  expect(await metricValue(app, METRICS.modelBaselineHitRate, { version: classifier.version })).toBe(0.61);

  await moveAliasTo(taggedTensor);
  const refused = await predict();
  expect(refused.statusCode).toBe(400);
  expect(refused.json().message).toMatch(/task tensor.*\/v2\/models\/delay\/infer/);
  expect((await app.inject(ROUTES.model)).json()).toMatchObject({ task: "tensor", task_source: "tag", tabular: false });
  const raw = await infer({ inputs: [{ name: "distance", shape: [1], datatype: "FP64", data: [FLIGHT.distance] }, { name: "hour", shape: [1], datatype: "INT64", data: [FLIGHT.hour] }] });
  // Served as a tensor model, the graph's own label output (the class index) comes back untouched.
  expect(raw.json().outputs[0]).toMatchObject({ name: "label", data: [expect.any(Number)] });
  expect([0, 1, 2]).toContain(raw.json().outputs[0].data[0]);

  await moveAliasTo(embedder);
  const embedding = await infer({ inputs: [{ name: "input_ids", shape: [1, 2], datatype: "INT64", data: [1, 2] }] });
  expect(embedding.statusCode).toBe(200);
  expect(embedding.json()).toMatchObject({ model_version: embedder.version, outputs: [{ name: "embedding", shape: [1, 4] }, { name: "token_sum", data: [3] }] });
  expect((await app.inject(`/v2/models/${NAME}`)).json().inputs).toEqual([{ name: "input_ids", datatype: "INT64", shape: [-1, -1] }]);
  expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })).toBeUndefined();
});
