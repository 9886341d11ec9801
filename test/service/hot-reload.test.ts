/**
 * Registry-driven model lifecycle against a fake MLflow server that speaks the documented REST API and serves
 * real model directories: alias moves are picked up without a restart and without a failed request; outages
 * and corrupt artifacts never take the serving version down.
 */
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import type { ModelportApp } from "../../service/src/app";
import { FakeMlflow, type RegisteredVersion } from "../support/fake-mlflow";
import { waitFor } from "../support/net";
import { EMBEDDED_MODEL_PATH, embeddedModel, metricValue, startTestApp } from "../support/service-app";

const NAME = "flight-delay";
let mlflow: FakeMlflow;
let v1: RegisteredVersion;
let v2: RegisteredVersion;
let example: Record<string, unknown>;
/** The embedded model's own chosen threshold (metrics.json): what v1 serves, having no threshold in the registry. */
let packagedThreshold: number;

const registryEnv = (uri: string, extra: Record<string, string> = {}) => ({
  [ENV.modelUri]: uri,
  [ENV.mlflowTrackingUri]: mlflow.url,
  [ENV.modelPollIntervalSeconds]: "0.1",
  ...extra,
});

/** Download limits no test outlives: a transfer that fails here failed on the limit the test is about. */
const PATIENT_DOWNLOADS = {
  [ENV.modelDownloadIdleTimeoutSeconds]: "600",
  [ENV.modelDownloadRateWindowSeconds]: "600",
  [ENV.modelDownloadFirstByteTimeoutSeconds]: "600",
};

interface ReadyBody {
  status: string;
  version?: string;
  desired_version: string | null;
  reload: { state: string; pending_version: string | null; last_error: string | null; failing_since: string | null; last_error_at: string | null; attempts: number };
}

beforeAll(async () => {
  const pkg = await embeddedModel();
  example = { ...pkg.inputExample[0]! };
  packagedThreshold = pkg.metrics.chosen_threshold!;
  mlflow = await FakeMlflow.start();
  v1 = await mlflow.register(NAME, {
    dir: EMBEDDED_MODEL_PATH,
    runMetrics: { accuracy: 0.66, auc: 0.67 },
    tags: { "mlflow.source.git.commit": "1111111", dataset: "flights-2001-jan-apr" },
    aliases: ["champion"],
  });
  v2 = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH, runMetrics: { accuracy: 0.7, chosen_threshold: 0.4 }, tags: { "mlflow.source.git.commit": "2222222" } });
});
afterAll(() => mlflow.stop());

async function predict(app: ModelportApp) {
  return app.inject({ method: "POST", url: ROUTES.predict, payload: example });
}

describe("hot reload", () => {
  let app: ModelportApp;
  afterEach(async () => {
    await mlflow.setAvailability("up");
    mlflow.setAlias(NAME, "champion", v1.version);
    await app?.close();
  });

  it("serves the aliased version with its lineage, threshold and baseline", async () => {
    app = await startTestApp(registryEnv(`models:/${NAME}@champion`));
    const body = (await predict(app)).json();
    expect(body).toMatchObject({ model: NAME, version: v1.version, threshold: packagedThreshold });
    const info = (await app.inject(ROUTES.model)).json();
    expect(info).toMatchObject({ alias: "champion", run_id: v1.runId, lineage: { git_commit: "1111111", dataset: "flights-2001-jan-apr" } });
    expect(await metricValue(app, METRICS.modelBaselineHitRate, { model: NAME, version: v1.version })).toBe(0.66);
    expect(await metricValue(app, METRICS.modelInfo, { model: NAME, version: v1.version, alias: "champion", run_id: v1.runId! })).toBe(1);
  });

  it("swaps to the new version when the alias moves, without restart or a failed request", async () => {
    app = await startTestApp(registryEnv(`models:/${NAME}@champion`));
    const statuses: number[] = [];
    const versions = new Set<string>();
    let running = true;
    const load = (async () => {
      while (running) {
        const response = await predict(app);
        statuses.push(response.statusCode);
        versions.add(response.json().version);
      }
    })();
    mlflow.setAlias(NAME, "champion", v2.version);
    await waitFor("version 2 to serve", async () => ((await predict(app)).json().version === v2.version ? true : undefined), 10000, 50);
    running = false;
    await load;
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect([...versions].sort()).toEqual([v1.version, v2.version]);
    expect((await predict(app)).json().threshold).toBe(0.4);
    expect(await metricValue(app, METRICS.modelInfo, { version: v2.version })).toBe(1);
    expect(await metricValue(app, METRICS.modelInfo, { version: v1.version })).toBeUndefined();
    expect(await metricValue(app, METRICS.modelReloadsTotal, { model: NAME, result: "success" })).toBe(2);
    expect(await metricValue(app, METRICS.modelBaselineHitRate, { version: v2.version })).toBe(0.7);
  });

  it("starts unready while the registry is down and becomes ready when it returns", async () => {
    await mlflow.setAvailability("unavailable");
    app = await startTestApp(registryEnv(`models:/${NAME}@champion`));
    const notReady = await app.inject(ROUTES.readyz);
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().reason).toMatch(/503|unavailable/i);
    expect((await predict(app)).statusCode).toBe(503);
    expect((await app.inject(ROUTES.healthz)).statusCode).toBe(200);
    await mlflow.setAvailability("up");
    await waitFor("readiness", async () => ((await app.inject(ROUTES.readyz)).statusCode === 200 ? true : undefined), 10000, 100);
    expect((await predict(app)).json().version).toBe(v1.version);
  });

  it("keeps serving the current version when the registry goes down or the new artifact is corrupt", async () => {
    app = await startTestApp(registryEnv(`models:/${NAME}@champion`));
    await mlflow.setAvailability("unavailable");
    await waitFor("a counted failure", async () => ((await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })) ?? 0) >= 1 ? true : undefined, 10000, 50);
    expect((await predict(app)).json().version).toBe(v1.version);
    expect((await app.inject(ROUTES.readyz)).statusCode).toBe(200);
    await mlflow.setAvailability("up");

    const corrupt = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH });
    await mlflow.corruptArtifact(corrupt, "model.onnx", 1000);
    const failuresBefore = (await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })) ?? 0;
    mlflow.setAlias(NAME, "champion", corrupt.version);
    await waitFor("the corrupt version to be refused", async () => ((await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" }))! > failuresBefore ? true : undefined), 10000, 50);
    const response = await predict(app);
    expect(response.statusCode).toBe(200);
    expect(response.json().version).toBe(v1.version);
    expect(await metricValue(app, METRICS.modelLoaded, { model: NAME })).toBe(1);
  });

  it("says clearly when the model or alias does not exist", async () => {
    app = await startTestApp(registryEnv(`models:/${NAME}@no-such-alias`));
    const ready = await app.inject(ROUTES.readyz);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().reason).toMatch(/no-such-alias/);
    await app.close();
    app = await startTestApp(registryEnv(`models:/no-such-model@champion`));
    expect((await app.inject(ROUTES.readyz)).json().reason).toMatch(/no-such-model/);
  });

  it("resolves stages and pinned versions too", async () => {
    mlflow.setStage(NAME, v2.version, "Production");
    app = await startTestApp(registryEnv(`models:/${NAME}/Production`));
    expect((await predict(app)).json().version).toBe(v2.version);
    await app.close();
    app = await startTestApp(registryEnv(`models:/${NAME}/${v1.version}`));
    expect((await predict(app)).json().version).toBe(v1.version);
  });
});

describe("slow and stuck registries", () => {
  let app: ModelportApp | undefined;
  const healed: Array<() => void> = [];
  afterEach(async () => {
    healed.splice(0).forEach((heal) => heal());
    mlflow.setAlias(NAME, "champion", v1.version);
    await app?.close();
    app = undefined;
  });

  const ready = async (): Promise<ReadyBody> => (await app!.inject(ROUTES.readyz)).json();
  const served = async () => (await predict(app!)).json().version as string;

  it("becomes ready when model.onnx's first byte comes after 15 s, with a 2 s idle timeout (the proxy copies the file first)", async () => {
    const late = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH, aliases: ["first-byte-late"] });
    mlflow.delayFirstByte(late, "model.onnx", 15_000);
    healed.push(() => mlflow.delayFirstByte(late, "model.onnx", 0));
    app = await startTestApp(registryEnv(`models:/${NAME}@first-byte-late`, { [ENV.modelDownloadIdleTimeoutSeconds]: "2" }));
    const body = await ready();
    expect(body).toMatchObject({ status: "ready", version: late.version, desired_version: late.version, reload: { state: "idle", last_error: null } });
    expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })).toBeUndefined();
  }, 60_000);

  it("serves a version registered from runs:/<run>/model", async () => {
    const fromRun = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH, aliases: ["from-run"], fromRunUri: true });
    app = await startTestApp(registryEnv(`models:/${NAME}@from-run`));
    const response = await predict(app);
    expect(response.statusCode).toBe(200);
    expect(response.json().version).toBe(fromRun.version);
    expect((await app.inject(ROUTES.model)).json()).toMatchObject({ version: fromRun.version, run_id: fromRun.runId });
  });

  it("fails a trickling reload on the minimum rate, counts it, keeps serving and says so in /readyz and /model", async () => {
    const trickling = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH });
    mlflow.failTransfer(trickling, "model.onnx", "trickle", { trickleEveryMs: 200 });
    healed.push(() => mlflow.failTransfer(trickling, "model.onnx", undefined));
    app = await startTestApp(
      registryEnv(`models:/${NAME}@champion`, { [ENV.modelDownloadRateWindowSeconds]: "1", [ENV.modelDownloadMinBytesPerSecond]: "500" }),
    );
    mlflow.setAlias(NAME, "champion", trickling.version);
    await waitFor("the stalled reload to fail", async () => ((await metricValue(app!, METRICS.modelReloadsTotal, { result: "failure" })) ?? 0) >= 1 || undefined, 15_000, 50);
    const body = await ready();
    expect(body).toMatchObject({ status: "ready", version: v1.version, desired_version: trickling.version, reload: { state: "failing" } });
    expect(body.reload.last_error).toMatch(new RegExp(`^version ${trickling.version} of ${NAME}: download of model\\.onnx .* is too slow`));
    expect(Date.parse(body.reload.failing_since!)).toBeLessThanOrEqual(Date.parse(body.reload.last_error_at!));
    expect(body.reload.attempts).toBeGreaterThanOrEqual(1);
    const info = (await app.inject(ROUTES.model)).json();
    expect(info).toMatchObject({ version: v1.version, desired_version: trickling.version, reload: { state: "failing", last_error: expect.stringContaining("too slow") } });
    expect(await served()).toBe(v1.version);

    // Retried with backoff while it keeps failing; during the retry polls go on at their interval (0.1 s), no faster.
    const retrying = async () => {
      const { reload } = await ready();
      return reload.attempts >= 1 && reload.pending_version === trickling.version ? true : undefined;
    };
    await waitFor("the retry to run", retrying, 20_000, 20);
    mlflow.resetCounts();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(mlflow.count("modelVersionByAlias")).toBeLessThan(25);
    expect((await ready()).reload).toMatchObject({ state: "failing", failing_since: body.reload.failing_since });
  });

  it("picks up a rollback in the next poll while a download is stuck, abandoning it, and loads the next version at once", async () => {
    const stuck = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH });
    const fixed = await mlflow.register(NAME, { dir: EMBEDDED_MODEL_PATH });
    mlflow.failTransfer(stuck, "model.onnx", "stall");
    healed.push(() => mlflow.failTransfer(stuck, "model.onnx", undefined));
    app = await startTestApp(registryEnv(`models:/${NAME}@champion`, PATIENT_DOWNLOADS));

    mlflow.setAlias(NAME, "champion", stuck.version);
    await waitFor("the stuck reload to show as pending", async () => ((await ready()).reload.pending_version === stuck.version ? true : undefined), 10_000, 50);
    expect(await ready()).toMatchObject({ status: "ready", version: v1.version, desired_version: stuck.version, reload: { state: "pending" } });

    // Roll back: the alias names the serving version again.
    mlflow.setAlias(NAME, "champion", v1.version);
    await waitFor("the rollback to be seen", async () => ((await ready()).reload.state === "idle" ? true : undefined), 10_000, 50);
    expect(await ready()).toMatchObject({ version: v1.version, desired_version: v1.version, reload: { pending_version: null, last_error: null } });
    expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "superseded" })).toBe(1);

    // Stuck again, then the alias moves on to a good version: it loads without waiting for the stuck one.
    mlflow.setAlias(NAME, "champion", stuck.version);
    await waitFor("the stuck reload again", async () => ((await ready()).reload.pending_version === stuck.version ? true : undefined), 10_000, 50);
    mlflow.setAlias(NAME, "champion", fixed.version);
    await waitFor("the fixed version to serve", async () => ((await served()) === fixed.version ? true : undefined), 20_000, 50);
    expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "superseded" })).toBe(2);
    expect(await metricValue(app, METRICS.modelReloadsTotal, { result: "failure" })).toBeUndefined();
    expect((await ready()).reload.state).toBe("idle");
  });
});
