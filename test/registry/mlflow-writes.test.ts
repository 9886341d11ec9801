/**
 * Registry writes (alias moves, version tags) through the real client against the fake MLflow, whose write
 * endpoints follow mlflow/server/handlers.py: request shapes, `{}` answers, and MLflow's own errors.
 */
import { MlflowClient } from "../../service/src/registry/mlflow-client";
import { MLFLOW_WRITE_API, MlflowRegistryWriter } from "../../service/src/registry/mlflow-writes";
import { ModelSourceError } from "../../service/src/registry";
import { FakeMlflow } from "../support/fake-mlflow";
import { TINY_MODEL_DIR } from "./helpers";

let mlflow: FakeMlflow;
let writer: MlflowRegistryWriter;

beforeEach(async () => {
  mlflow = await FakeMlflow.start();
  writer = new MlflowRegistryWriter({ trackingUri: mlflow.url, timeoutMs: 2000 });
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
  await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["challenger"] });
});
afterEach(() => mlflow.stop());

async function failure(promise: Promise<unknown>): Promise<ModelSourceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelSourceError);
  return error as ModelSourceError;
}

async function raw(method: string, path: string, body: string | undefined, contentType?: string) {
  // A byte body: fetch adds no Content-Type of its own (a string body would get text/plain).
  const bytes = body === undefined ? undefined : Buffer.from(body);
  const response = await fetch(mlflow.url + path, { method, body: bytes, headers: contentType ? { "content-type": contentType } : {} });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("registry writes", () => {
  test("moving an alias answers {} and the read sees the new version, with the alias listed on it", async () => {
    await writer.setAlias("flight-delay", "champion", "2");
    const read = await new MlflowClient({ trackingUri: mlflow.url, timeoutMs: 2000 }).getModelVersionByAlias("flight-delay", "champion");
    expect(read.version).toBe("2");
    expect(read.aliases).toEqual(expect.arrayContaining(["champion", "challenger"]));
    const request = mlflow.requests.at(-2)!;
    expect(request).toMatchObject({ method: "POST", endpoint: "setAlias" });
    const direct = await raw("POST", MLFLOW_WRITE_API.setAlias, JSON.stringify({ name: "flight-delay", alias: "champion", version: "1" }), "application/json");
    expect(direct).toEqual({ status: 200, body: {} });
  });

  test("a version tag is written, overwritten, and shows on the version", async () => {
    await writer.setModelVersionTag("flight-delay", "2", "modelport.promotion.previous_version", "1");
    await writer.setModelVersionTag("flight-delay", "2", "modelport.promotion.previous_version", "3");
    const version = await writer.getModelVersion("flight-delay", "2");
    expect(version.tags).toEqual([{ key: "modelport.promotion.previous_version", value: "3" }]);
  });

  test("deleting an alias removes it; deleting it again is not an error", async () => {
    await writer.deleteAlias("flight-delay", "challenger");
    await writer.deleteAlias("flight-delay", "challenger");
    const error = await failure(writer.getModelVersionByAlias("flight-delay", "challenger"));
    // As MLflow answers a missing alias: 400 INVALID_PARAMETER_VALUE, which the client names.
    expect(error).toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE", message: expect.stringMatching(/has no alias "challenger"/) });
    expect(mlflow.count("deleteAlias")).toBe(2);
  });

  test("a missing version or model is RESOURCE_DOES_NOT_EXIST naming what was asked, and changes nothing", async () => {
    const missingVersion = await failure(writer.setAlias("flight-delay", "champion", "9"));
    expect(missingVersion).toMatchObject({ errorCode: "RESOURCE_DOES_NOT_EXIST", status: 404 });
    expect(missingVersion.message).toMatch(/model "flight-delay" has no version 9 .*Model Version \(name=flight-delay, version=9\) not found/);
    const missingModel = await failure(writer.setModelVersionTag("churn", "1", "k", "v"));
    expect(missingModel.message).toMatch(/Model Version \(name=churn, version=1\) not found/);
    const deleteMissing = await failure(writer.deleteAlias("churn", "champion"));
    expect(deleteMissing.message).toMatch(/Registered Model with name=churn not found/);
    expect((await writer.getModelVersionByAlias("flight-delay", "champion")).version).toBe("1");
  });

  test("MLflow's validation: reserved aliases, non-integer versions, non-string fields, missing fields, content type", async () => {
    expect((await failure(writer.setAlias("flight-delay", "latest", "2"))).message).toMatch(/'latest' alias name \(case insensitive\) is reserved/);
    expect((await failure(writer.setAlias("flight-delay", "v2", "2"))).message).toMatch(/Version alias name 'v2' is reserved/);
    expect((await failure(writer.setAlias("flight-delay", "champ ion", "2"))).message).toMatch(/Invalid alias name/);
    expect((await failure(writer.setAlias("flight-delay", "champion", "two"))).message).toMatch(/Parameter 'version' must be an integer, got 'two'/);
    const numeric = await raw("POST", MLFLOW_WRITE_API.setAlias, JSON.stringify({ name: "flight-delay", alias: "champion", version: 2 }), "application/json");
    expect(numeric).toEqual({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE", message: expect.stringMatching(/Invalid value 2 for parameter 'version'.*'int'/) } });
    const missing = await raw("POST", MLFLOW_WRITE_API.setAlias, JSON.stringify({ name: "flight-delay", version: "2" }), "application/json");
    expect(missing.body.message).toMatch(/^Missing value for required parameter 'alias'/);
    const noType = await raw("POST", MLFLOW_WRITE_API.setAlias, JSON.stringify({ name: "flight-delay", alias: "champion", version: "2" }));
    expect(noType).toEqual({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE", message: "Bad Request. Content-Type header is missing." } });
    const form = await raw("POST", MLFLOW_WRITE_API.setModelVersionTag, "name=flight-delay", "application/x-www-form-urlencoded");
    expect(form.body.message).toMatch(/Content-Type must be one of \['application\/json'\]/);
    expect((await failure(writer.setModelVersionTag("flight-delay", "1", "../escape", "x"))).message).toMatch(/must not resolve to other names/);
    expect((await writer.getModelVersionByAlias("flight-delay", "champion")).version).toBe("1");
  });

  test("an unreachable or failing server is an error, never a silent success", async () => {
    await mlflow.setAvailability("unavailable");
    expect((await failure(writer.setAlias("flight-delay", "champion", "2"))).errorCode).toBe("UNAVAILABLE");
    await mlflow.setAvailability("refusing");
    const refused = await failure(writer.setModelVersionTag("flight-delay", "2", "k", "v"));
    expect(refused.errorCode).toBe("UNAVAILABLE");
    expect(refused.message).toMatch(/unreachable during the tag k of model "flight-delay" version 2/);
    await mlflow.setAvailability("up");
    expect((await writer.getModelVersionByAlias("flight-delay", "champion")).version).toBe("1");
  });
});
