import { join } from "node:path";
import { EMBEDDED_MODEL_DIR, ENV } from "../../service/src/contract";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ConfigError, defaultMaxConnections, loadConfig } from "../../service/src/config";
import { projectRoot } from "../../service/src/paths";
import { DEFAULT_DOWNLOAD_LIMITS } from "../../service/src/registry/transfer";

describe("loadConfig", () => {
  it("defaults to the embedded demo model on port 8080, no registry needed", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.model.uri).toBe(join(projectRoot(), EMBEDDED_MODEL_DIR));
    expect(config.model.variant).toBe("stable");
    expect(config.fallback).toBeUndefined();
    expect(config.predictionLog.url).toBeUndefined();
  });

  it("reads registry, batching, fallback and shadow settings", () => {
    const config = loadConfig({
      [ENV.modelUri]: "models:/flight-delay@champion",
      [ENV.mlflowTrackingUri]: "http://mlflow.mlops:5000",
      [ENV.mlflowTrackingToken]: "t0ken",
      [ENV.modelVariant]: "canary",
      [ENV.modelPollIntervalSeconds]: "0.5",
      [ENV.fallbackLabel]: "0",
      [ENV.shadowModelUri]: "models:/flight-delay@challenger",
      [ENV.shadowSampleRate]: "0.1",
      [ENV.batchMaxSize]: "32",
    });
    expect(config.model).toMatchObject({ uri: "models:/flight-delay@champion", variant: "canary", pollIntervalMs: 500 });
    expect(config.mlflow).toMatchObject({ trackingUri: "http://mlflow.mlops:5000", token: "t0ken" });
    expect(config.fallback).toEqual({ label: 0, probability: 0 });
    expect(config.shadow).toEqual({ uri: "models:/flight-delay@challenger", sampleRate: 0.1 });
    expect(config.inference.batchMaxSize).toBe(32);
  });

  it("reads the prediction log's sinks, cap, fsync and roll settings", () => {
    const s3 = loadConfig({
      [ENV.predictionLogUrl]: "s3://acme-predictions/prod/log",
      [ENV.predictionLogSpillMaxBytes]: String(512 * 2 ** 20),
      [ENV.predictionLogFsyncIntervalMs]: "0",
      [ENV.predictionLogRollBytes]: String(8 * 2 ** 20),
      [ENV.predictionLogRollSeconds]: "60",
    });
    expect(s3.predictionLog).toMatchObject({ url: "s3://acme-predictions/prod/log", spillMaxBytes: 512 * 2 ** 20, fsyncIntervalMs: 0, rollBytes: 8 * 2 ** 20, rollIntervalMs: 60_000 });
    expect(loadConfig({}).predictionLog).toMatchObject({ spillMaxBytes: 2 ** 30, fsyncIntervalMs: 1000, rollBytes: 64 * 2 ** 20, rollIntervalMs: 300_000 });
    expect(loadConfig({ [ENV.predictionLogUrl]: "postgresql://u:p@db/log" }).predictionLog.url).toBe("postgresql://u:p@db/log");
    expect(() => loadConfig({ [ENV.predictionLogUrl]: "s3://Bad_Bucket/x" })).toThrow(/s3:\/\/<bucket>\[\/<prefix>\] with a valid bucket name/);
    expect(() => loadConfig({ [ENV.predictionLogSpillMaxBytes]: "1000" })).toThrow(new RegExp(`${ENV.predictionLogSpillMaxBytes}=1000 is not an integer between`));
  });

  it("names every bad variable at once and never echoes a URL that may hold credentials", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        [ENV.port]: "eighty",
        [ENV.modelVariant]: "blue",
        [ENV.predictionLogSampleRate]: "1.5",
        [ENV.predictionLogUrl]: "mysql://user:hunter2@db/log",
        [ENV.modelUri]: "models:/m@champion",
        [ENV.mlflowTrackingUsername]: "alice",
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.message;
    for (const name of [ENV.port, ENV.modelVariant, ENV.predictionLogSampleRate, ENV.predictionLogUrl, ENV.mlflowTrackingUri, ENV.mlflowTrackingPassword]) {
      expect(text).toContain(name);
    }
    expect(error!.problems).toHaveLength(6);
    expect(text).not.toContain("hunter2");
  });

  it("reads the per-task business costs (multiclass misclassification, regression per unit of error) and checks them", () => {
    expect(loadConfig({}).costs).toEqual({ falsePositive: 1, falseNegative: 5, misclassification: 1, perUnitError: 1 });
    expect(loadConfig({ [ENV.costMisclassification]: "4", [ENV.costPerUnitError]: "0.25" }).costs).toMatchObject({ misclassification: 4, perUnitError: 0.25 });
    let error: ConfigError | undefined;
    try {
      loadConfig({ [ENV.costMisclassification]: "-1", [ENV.costPerUnitError]: "lots" });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems).toEqual([`${ENV.costMisclassification}=-1 is not a number between 0 and 1000000000`, `${ENV.costPerUnitError}=lots is not a number between 0 and 1000000000`]);
  });

  it("reads the download limits, with defaults generous for MLflow's copy-then-send proxy", () => {
    expect(loadConfig({}).model.download).toEqual(DEFAULT_DOWNLOAD_LIMITS);
    expect(DEFAULT_DOWNLOAD_LIMITS.firstByteTimeoutMs).toBeGreaterThanOrEqual(120_000);
    const config = loadConfig({
      [ENV.modelDownloadConnectTimeoutSeconds]: "2",
      [ENV.modelDownloadFirstByteTimeoutSeconds]: "300",
      [ENV.modelDownloadIdleTimeoutSeconds]: "0.5",
      [ENV.modelDownloadMinBytesPerSecond]: "65536",
      [ENV.modelDownloadRateWindowSeconds]: "10",
      [ENV.modelDownloadMaxBytes]: "1073741824",
    });
    expect(config.model.download).toEqual({
      connectTimeoutMs: 2000,
      firstByteTimeoutMs: 300_000,
      idleTimeoutMs: 500,
      minBytesPerSecond: 65536,
      rateWindowMs: 10_000,
      maxBytes: 1073741824,
    });
    expect(() => loadConfig({ [ENV.modelDownloadIdleTimeoutSeconds]: "0", [ENV.modelDownloadMaxBytes]: "1.5" })).toThrow(
      /MODEL_DOWNLOAD_IDLE_TIMEOUT_SECONDS=0 is not a number between[\s\S]*MODEL_DOWNLOAD_MAX_BYTES=1\.5 is not an integer/,
    );
  });

  it("limits slow and abusive HTTP clients by default, and checks the limits agree with each other", () => {
    const { http } = loadConfig({});
    expect(http).toMatchObject({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, connectionTimeoutMs: 60_000, maxPipelinedRequests: 8 });
    expect(http.maxConnections).toBeGreaterThanOrEqual(64);
    expect(loadConfig({ [ENV.requestTimeoutMs]: "120000" }).http.connectionTimeoutMs).toBe(130_000);
    expect(() => loadConfig({ [ENV.httpHeadersTimeoutMs]: "20000", [ENV.httpRequestTimeoutMs]: "10000" })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS=20000 must not exceed HTTP_REQUEST_TIMEOUT_MS=10000/,
    );
    expect(() => loadConfig({ [ENV.requestTimeoutMs]: "5000", [ENV.httpConnectionTimeoutMs]: "5000" })).toThrow(
      /HTTP_CONNECTION_TIMEOUT_MS=5000 must exceed REQUEST_TIMEOUT_MS=5000/,
    );
    expect(() => loadConfig({ [ENV.httpMaxPipelinedRequests]: "0" })).toThrow(/HTTP_MAX_PIPELINED_REQUESTS=0 is not an integer between 1 and 1024/);
  });

  it("keeps the default connection cap below the open-file limit, with a reserve", () => {
    const limits = (soft: string) => {
      const file = join(mkdtempSync(join(tmpdir(), "limits-")), "limits");
      writeFileSync(file, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                1048576              files\n`);
      return file;
    };
    expect(defaultMaxConnections(limits("1024"))).toBe(768);
    expect(defaultMaxConnections(limits("1048576"))).toBe(8192);
    expect(defaultMaxConnections(limits("unlimited"))).toBe(8192);
    expect(defaultMaxConnections(limits("200"))).toBe(64);
    expect(defaultMaxConnections("/nonexistent")).toBe(1024);
  });
});
