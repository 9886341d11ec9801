import { createModelSource, ModelSourceError, type ModelSource } from "../../service/src/registry";
import { FakeMlflow, type FakeMlflowAuth } from "../support/fake-mlflow";
import { tempDir, TINY_MODEL_DIR } from "./helpers";

let mlflow: FakeMlflow;
let cache: Awaited<ReturnType<typeof tempDir>>;

beforeEach(async () => {
  mlflow = await FakeMlflow.start();
  cache = await tempDir("registry-cache");
});
afterEach(async () => {
  await mlflow.stop();
  await cache.cleanup();
});

function source(uri: string, options: { auth?: FakeMlflowAuth; timeoutMs?: number } = {}): ModelSource {
  const auth = options.auth;
  return createModelSource(uri, {
    trackingUri: mlflow.url,
    cacheDir: cache.path,
    timeoutMs: options.timeoutMs ?? 2000,
    ...(auth && "token" in auth ? { token: auth.token } : auth),
  });
}

async function failure(promise: Promise<unknown>): Promise<ModelSourceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelSourceError);
  return error as ModelSourceError;
}

describe("resolving a registry URI", () => {
  test("an alias resolves to its version with run metrics and version tags merged over run tags", async () => {
    const v1 = await mlflow.register("flight-delay", {
      dir: TINY_MODEL_DIR,
      tags: { git_commit: "0123abc", dataset: "flights-2001-h1" },
      runTags: { dataset: "overridden-by-version-tag", "mlflow.source.git.commit": "0123abc", "mlflow.log-model.history": "[...]" },
      runMetrics: { auc: 0.71, accuracy: 0.81, chosen_threshold: 0.35 },
      aliases: ["champion"],
    });
    const resolved = await source("models:/flight-delay@champion").resolve();
    expect(resolved).toEqual({
      name: "flight-delay",
      version: "1",
      alias: "champion",
      stage: undefined,
      runId: v1.runId,
      tags: {
        "mlflow.runName": "train-flight-delay-1",
        "mlflow.source.git.commit": "0123abc",
        git_commit: "0123abc",
        dataset: "flights-2001-h1",
      },
      metrics: { auc: 0.71, accuracy: 0.81, chosen_threshold: 0.35 },
      artifactUri: v1.artifactUri,
    });
    expect(v1.artifactUri).toMatch(/^mlflow-artifacts:\/1\/[0-9a-f]{32}\/artifacts\/model$/);
  });

  test("moving the alias is seen on the next poll; a steady poll costs one request", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    const v2 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, runMetrics: { auc: 0.75 } });
    const champion = source("models:/flight-delay@champion");
    for (let poll = 0; poll < 5; poll++) expect((await champion.resolve()).version).toBe("1");
    mlflow.setAlias("flight-delay", "champion", v2.version);
    const moved = await champion.resolve();
    expect(moved.version).toBe("2");
    expect(moved.metrics).toEqual({ auc: 0.75 });
    expect(mlflow.count("modelVersionByAlias")).toBe(6);
    // Lineage (run, download URI) is read once per version, not per poll.
    expect(mlflow.count("run")).toBe(2);
    expect(mlflow.count("modelVersionDownloadUri")).toBe(2);
  });

  test("a stage resolves to its newest version, in any case spelling, and reports the stage", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Production" });
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Production" });
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Staging" });
    const production = await source("models:/flight-delay/production").resolve();
    expect(production).toMatchObject({ version: "2", stage: "Production" });
    mlflow.setStage("flight-delay", "3", "Production", { archiveExisting: true });
    expect(await source("models:/flight-delay/Production").resolve()).toMatchObject({ version: "3", stage: "Production" });
    const request = mlflow.requests.find((r) => r.endpoint === "latestVersions");
    expect(request?.method).toBe("POST");
  });

  test("a stage without versions names the model and the stage", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Staging" });
    const error = await failure(source("models:/flight-delay/Production").resolve());
    expect(error.errorCode).toBe("RESOURCE_DOES_NOT_EXIST");
    expect(error.message).toBe('model "flight-delay" has no version in stage Production');
  });

  test("latest resolves to the newest version in any stage; a number resolves to itself", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Production" });
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, stage: "Archived" });
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR });
    expect((await source("models:/flight-delay/latest").resolve()).version).toBe("3");
    expect(await source("models:/flight-delay/2").resolve()).toMatchObject({ version: "2", stage: "Archived" });
  });

  test("a missing alias (400 from MLflow, model unchecked), model or version is a non-retryable error naming what is missing", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    const noAlias = await failure(source("models:/flight-delay@challenger").resolve());
    expect(noAlias).toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE", status: 400, retryable: false });
    expect(noAlias.message).toBe(
      'model "flight-delay" has no alias "challenger", or no model "flight-delay" is registered (MLflow: Registered model alias challenger not found.)',
    );
    // MLflow does not look the model up for an alias: an unknown model reads as a missing alias.
    const noModel = await failure(source("models:/churn@champion").resolve());
    expect(noModel).toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE", status: 400 });
    expect(noModel.message).toMatch(/^model "churn" has no alias "champion", or no model "churn" is registered/);
    const noVersion = await failure(source("models:/flight-delay/9").resolve());
    expect(noVersion.message).toMatch(/^model "flight-delay" has no version 9/);
    const noStageModel = await failure(source("models:/churn/Production").resolve());
    expect(noStageModel.message).toMatch(/^model "churn" is not registered/);
  });

  test.each(["PENDING_REGISTRATION", "FAILED_REGISTRATION"] as const)("a %s version is refused until it is READY", async (status) => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"], status });
    mlflow.setStatus("flight-delay", "1", status, status === "FAILED_REGISTRATION" ? "copy to artifact store failed" : undefined);
    const champion = source("models:/flight-delay@champion");
    const error = await failure(champion.resolve());
    expect(error).toMatchObject({ errorCode: "NOT_READY", retryable: true });
    expect(error.message).toContain(`model "flight-delay" version 1 (alias "champion") is ${status}, not READY`);
    if (status === "FAILED_REGISTRATION") expect(error.message).toContain("copy to artifact store failed");
    mlflow.setStatus("flight-delay", "1", "READY");
    expect((await champion.resolve()).version).toBe("1");
  });

  test("a version whose run was deleted is still served, with its version tags as lineage", async () => {
    const v1 = await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"], tags: { git_commit: "abc" }, runMetrics: { auc: 0.7 } });
    mlflow.deleteRun(v1.runId!);
    expect(await source("models:/flight-delay@champion").resolve()).toMatchObject({ runId: v1.runId, tags: { git_commit: "abc" }, metrics: {} });
  });

  test("a version registered without a run has no runId and asks for no run", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"], withoutRun: true });
    const resolved = await source("models:/flight-delay@champion").resolve();
    expect(resolved.runId).toBeUndefined();
    expect(mlflow.count("run")).toBe(0);
  });

  test("a registry URI without a tracking URI is refused when the source is created", () => {
    expect(() => createModelSource("models:/flight-delay@champion", { cacheDir: cache.path })).toThrow(/MLFLOW_TRACKING_URI is not set/);
  });
});

describe("authentication", () => {
  test.each<[string, FakeMlflowAuth, RegExp]>([
    ["a bearer token", { token: "s3cret-token" }, /^Bearer s3cret-token$/],
    ["basic credentials", { username: "modelport", password: "pa55" }, new RegExp(`^Basic ${Buffer.from("modelport:pa55").toString("base64")}$`)],
  ])("%s is sent on every request, artifact downloads included", async (_, auth, header) => {
    mlflow.requireAuth(auth);
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    const champion = source("models:/flight-delay@champion", { auth });
    await champion.fetch(await champion.resolve());
    expect(mlflow.count("downloadArtifact")).toBeGreaterThan(0);
    for (const request of mlflow.requests) expect(request.authorization).toMatch(header);
  });

  test("missing credentials say which variables to set; wrong ones say they were rejected", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.requireAuth({ username: "modelport", password: "pa55" });
    const anonymous = await failure(source("models:/flight-delay@champion").resolve());
    expect(anonymous).toMatchObject({ errorCode: "UNAUTHENTICATED", status: 401, retryable: false });
    expect(anonymous.message).toMatch(/requires credentials \(set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD\)/);
    const wrong = await failure(source("models:/flight-delay@champion", { auth: { username: "modelport", password: "nope" } }).resolve());
    expect(wrong.message).toMatch(/rejected the credentials .*HTTP 401.*You are not authenticated/);
  });
});

describe("outages and timeouts", () => {
  test("503 and refused connections are retryable UNAVAILABLE errors; the next poll after recovery succeeds", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    const champion = source("models:/flight-delay@champion");
    await mlflow.setAvailability("unavailable");
    const gateway = await failure(champion.resolve());
    expect(gateway).toMatchObject({ errorCode: "UNAVAILABLE", status: 503, retryable: true });
    expect(gateway.message).toContain("HTTP 503 UNAVAILABLE: Service Unavailable");
    await mlflow.setAvailability("refusing");
    const refused = await failure(champion.resolve());
    expect(refused).toMatchObject({ errorCode: "UNAVAILABLE", status: undefined, retryable: true });
    expect(refused.message).toMatch(/^MLflow at http:\/\/127\.0\.0\.1:\d+ is unreachable during the alias "champion" of model "flight-delay" \(ECONNREFUSED\)$/);
    await mlflow.setAvailability("up");
    expect((await champion.resolve()).version).toBe("1");
  });

  test("a registry that does not answer in time fails with TIMEOUT after timeoutMs, not later", async () => {
    await mlflow.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    mlflow.setLatency(1500);
    const started = performance.now();
    const error = await failure(source("models:/flight-delay@champion", { timeoutMs: 150 }).resolve());
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
    expect(error.message).toContain("did not answer the alias \"champion\" of model \"flight-delay\" within 150 ms");
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe("tracking server behind a path prefix", () => {
  test("registry calls and artifact downloads keep the tracking URI's path", async () => {
    const prefixed = await FakeMlflow.start({ basePath: "/mlflow" });
    try {
      await prefixed.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
      const champion = createModelSource("models:/flight-delay@champion", { trackingUri: `${prefixed.url}/`, cacheDir: cache.path });
      await champion.fetch(await champion.resolve());
      expect(prefixed.count("unknown")).toBe(0);
      expect(prefixed.requests.every((r) => r.url.startsWith("/mlflow/api/2.0/"))).toBe(true);
    } finally {
      await prefixed.stop();
    }
  });
});

test("a tracking URI that misses the server's path prefix is named as such, not as a missing model", async () => {
  const prefixed = await FakeMlflow.start({ basePath: "/mlflow" });
  try {
    await prefixed.register("flight-delay", { dir: TINY_MODEL_DIR, aliases: ["champion"] });
    const wrongBase = prefixed.url.replace(/\/mlflow$/, "");
    const error = await failure(createModelSource("models:/flight-delay@champion", { trackingUri: wrongBase, cacheDir: cache.path }).resolve());
    expect(error).toMatchObject({ errorCode: "ENDPOINT_NOT_FOUND", status: 404 });
    expect(error.message).toMatch(/has no endpoint \/api\/2\.0\/mlflow\/registered-models\/alias \(HTTP 404\).*check that MLFLOW_TRACKING_URI is the tracking server's base URL/);
  } finally {
    await prefixed.stop();
  }
});
