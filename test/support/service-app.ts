/** Builds the real service app (no socket) on a model directory or URI, for app.inject() tests. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, type AppOverrides, type ModelportApp } from "../../service/src/app";
import { loadConfig } from "../../service/src/config";
import { EMBEDDED_MODEL_DIR, ENV } from "../../service/src/contract";
import { readModelPackage, type ModelPackage } from "../../service/src/model/mlmodel";
import { projectRoot } from "../../service/src/paths";

export const EMBEDDED_MODEL_PATH = join(projectRoot(), EMBEDDED_MODEL_DIR);

export async function embeddedModel(): Promise<ModelPackage> {
  return readModelPackage(EMBEDDED_MODEL_PATH);
}

/** The app with env overrides, started and (unless waitReady=false) with its first model check done. */
export async function startTestApp(
  env: Record<string, string> = {},
  overrides: AppOverrides = {},
  waitReady = true,
): Promise<ModelportApp> {
  // A fresh cache per app: fake registries restart their version numbers at 1, real MLflow versions never change.
  const cacheDir = mkdtempSync(join(tmpdir(), "model-cache-"));
  const config = loadConfig({ [ENV.logLevel]: "silent", [ENV.modelCacheDir]: cacheDir, ...env });
  const app = await buildApp(config, { logger: false, ...overrides });
  await app.ready();
  if (waitReady) await app.models.checkNow();
  return app;
}

/** Value of one sample of a metric in Prometheus text format (undefined when absent). */
export async function metricValue(app: ModelportApp, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = await app.metricsRegistry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value));
  return sample?.value;
}
