/**
 * `npm run migrate`: applies the prediction-log schema and runs partition maintenance once, then exits.
 * The service does the same at start; this is for a deploy step or a CronJob (`PREDICTION_LOG_RETENTION_DAYS`
 * days kept, default 30). Safe to run beside running replicas: an advisory lock serialises them.
 */
import { ENV } from "../contract";
import { DEFAULT_RETENTION, maintain, migrate } from "./schema";
import { createPool, describeTarget } from "./writer";

async function main(): Promise<number> {
  const url = process.env[ENV.predictionLogUrl];
  if (!url) {
    console.error(`${ENV.predictionLogUrl} is not set: give the postgres:// URL of the prediction log database`);
    return 2;
  }
  const retentionText = process.env[ENV.predictionLogRetentionDays];
  const retentionDays = retentionText === undefined ? DEFAULT_RETENTION.retentionDays : Number(retentionText);
  if (!Number.isInteger(retentionDays) || retentionDays < 1) {
    console.error(`${ENV.predictionLogRetentionDays} must be a whole number of days >= 1, got "${retentionText}"`);
    return 2;
  }
  const pool = createPool(url, "migrate");
  try {
    const applied = await migrate(pool);
    await maintain(pool, { ...DEFAULT_RETENTION, retentionDays });
    console.log(JSON.stringify({ target: describeTarget(pool), applied, retentionDays }));
    return 0;
  } catch (error) {
    console.error(`prediction-log migration against ${describeTarget(pool)} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await pool.end();
  }
}

void main().then((code) => {
  process.exitCode = code;
});
