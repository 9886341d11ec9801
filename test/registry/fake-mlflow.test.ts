/**
 * The fake tracking server answers the way MLflow's own handlers do (mlflow/server/handlers.py and the stores it
 * calls, read at 2.x and 3.x): these tests hold the fake to that, over raw HTTP, so the client's tests that run
 * against it test the client against MLflow's behaviour rather than against answers written for the client.
 */
import { request as httpRequest } from "node:http";
import { MLFLOW_API } from "../../service/src/registry/mlflow-api";
import { FakeMlflow } from "../support/fake-mlflow";
import { TINY_MODEL_DIR } from "./helpers";

let mlflow: FakeMlflow;
beforeEach(async () => {
  mlflow = await FakeMlflow.start();
});
afterEach(() => mlflow.stop());

const api = (path: string, query: Record<string, string> = {}) => `${mlflow.url}${path}?${new URLSearchParams(query)}`;
const artifactUrl = (artifactUri: string, file: string) => `${mlflow.url}${MLFLOW_API.artifacts}/${artifactUri.replace("mlflow-artifacts:/", "")}/${file}`;

/** A POST with exactly the headers given (fetch would add a text/plain content type to a string body). */
function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("a missing alias is 400 INVALID_PARAMETER_VALUE, and the model's existence is not checked (SqlAlchemyStore.get_model_version_by_alias)", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  for (const name of ["flight-delay", "no-such-model"]) {
    const response = await fetch(api(MLFLOW_API.modelVersionByAlias, { name, alias: "challenger" }));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "Registered model alias challenger not found." });
  }
  expect((await fetch(api(MLFLOW_API.modelVersionByAlias, { name: "flight-delay", alias: "champion" }))).status).toBe(200);
});

test("a POST body must be application/json (validation._validate_content_type); parameters after ';' are dropped", async () => {
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Production" });
  const body = JSON.stringify({ name: "flight-delay", stages: ["Production"] });
  const url = `${mlflow.url}${MLFLOW_API.latestVersions}`;
  const none = await post(url, body, {});
  expect(none.status).toBe(400);
  expect(JSON.parse(none.body)).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "Bad Request. Content-Type must be one of [application/json]." });
  const text = await post(url, body, { "content-type": "text/plain" });
  expect(JSON.parse(text.body).message).toBe("Bad Request. Content-Type must be one of [application/json]. Got 'text/plain'.");
  const json = await post(url, body, { "content-type": "application/json; charset=utf-8" });
  expect(json.status).toBe(200);
  expect(JSON.parse(json.body).model_versions[0].version).toBe("1");
  // get_json(force=True, silent=True): a body that is not JSON is an empty request, so `name` is missing.
  const garbage = await post(url, "{not json", { "content-type": "application/json" });
  expect(garbage.status).toBe(400);
  expect(JSON.parse(garbage.body).message).toMatch(/^Missing value for required parameter 'name'/);
});

test("a download is chunked without Content-Length and sent as an attachment (handlers._download_artifact)", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR });
  const response = await fetch(artifactUrl(v1.artifactUri, "data/weights.bin"));
  expect(response.status).toBe(200);
  expect(response.headers.get("transfer-encoding")).toBe("chunked");
  expect(response.headers.get("content-length")).toBeNull();
  expect(response.headers.get("content-disposition")).toBe("attachment; filename=weights.bin");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  await response.arrayBuffer();
});

test("a file the artifact store lacks is a 500 HTML page, not an MLflow error body (OSError escapes catch_mlflow_exception)", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR });
  for (const url of [artifactUrl(v1.artifactUri, "no-such-file"), artifactUrl(v1.artifactUri, "data")]) {
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toContain("<title>500 Internal Server Error</title>");
  }
  mlflow.failTransfer(v1, "model.onnx", "missing");
  expect((await fetch(artifactUrl(v1.artifactUri, "model.onnx"))).status).toBe(500);
});

test("the first byte of a download comes only after the proxy's copy from the store (first-byte delay)", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR });
  mlflow.setFirstByteDelay(300);
  const started = Date.now();
  const response = await fetch(artifactUrl(v1.artifactUri, "MLmodel"));
  // A lower bound only: a loaded machine can make it later, never earlier.
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  expect(response.status).toBe(200);
  await response.text();
  // The registry API is not delayed.
  mlflow.resetCounts();
  expect((await fetch(api(MLFLOW_API.modelVersion, { name: "flight-delay", version: "1" }))).status).toBe(200);
});

test("a trickling download sends headers at once, then one byte at a time", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR });
  mlflow.failTransfer(v1, "model.onnx", "trickle", { trickleEveryMs: 20 });
  const controller = new AbortController();
  const response = await fetch(artifactUrl(v1.artifactUri, "model.onnx"), { signal: controller.signal });
  const reader = response.body!.getReader();
  for (let i = 0; i < 3; i++) expect((await reader.read()).value?.length).toBe(1);
  controller.abort();
});

test("without --serve-artifacts the proxy answers 503 in plain text and the registry still works (_disable_unless_serve_artifacts)", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  mlflow.setServeArtifacts(false);
  const download = await fetch(artifactUrl(v1.artifactUri, "MLmodel"));
  expect(download.status).toBe(503);
  expect(await download.text()).toBe(
    `Endpoint: ${MLFLOW_API.artifacts}/<path:artifact_path> disabled due to the mlflow server running with \`--no-serve-artifacts\`. ` +
      "To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`",
  );
  const list = await fetch(api(MLFLOW_API.artifacts, { path: "1" }));
  expect(list.status).toBe(503);
  expect(await list.text()).toMatch(/^Endpoint: \/api\/2\.0\/mlflow-artifacts\/artifacts disabled/);
  expect((await fetch(api(MLFLOW_API.modelVersionByAlias, { name: "flight-delay", alias: "champion" }))).status).toBe(200);
});

test("a version registered from runs:/ answers get-download-uri with that URI verbatim; the run's artifact_uri locates it", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, fromRunUri: true });
  const uri = await (await fetch(api(MLFLOW_API.modelVersionDownloadUri, { name: "flight-delay", version: "1" }))).json();
  expect(uri).toEqual({ artifact_uri: `runs:/${v1.runId}/model` });
  const { run } = (await (await fetch(api(MLFLOW_API.run, { run_id: v1.runId! }))).json()) as { run: { info: { artifact_uri: string } } };
  expect(run.info.artifact_uri).toBe(`mlflow-artifacts:/1/${v1.runId}/artifacts`);
  expect((await fetch(artifactUrl(`${run.info.artifact_uri}/model`, "MLmodel"))).status).toBe(200);
});

test("an http artifact root is spelled as a URL under /api/2.0/mlflow-artifacts/artifacts/ and served there", async () => {
  const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, artifactRoot: "http" });
  expect(v1.artifactUri).toBe(`${mlflow.url}${MLFLOW_API.artifacts}/1/${v1.runId}/artifacts/model`);
  expect((await fetch(`${v1.artifactUri}/MLmodel`)).status).toBe(200);
});

test("unknown routes and methods get Flask's HTML pages", async () => {
  const unknown = await fetch(`${mlflow.url}/api/2.0/mlflow/no-such-endpoint`);
  expect(unknown.status).toBe(404);
  expect(await unknown.text()).toContain("<title>404 Not Found</title>");
  const method = await fetch(api(MLFLOW_API.modelVersion, { name: "x", version: "1" }), { method: "DELETE" });
  expect(method.status).toBe(405);
  expect(await method.text()).toContain("<title>405 Method Not Allowed</title>");
});
