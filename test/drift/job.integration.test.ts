/**
 * The drift job as the DriftMonitor CronJob runs it (`--model flight-delay --window 24h --out s3://... --pushgateway`)
 * against real parts: PostgreSQL holding a prediction log (the service's migrations, rows as the writer inserts
 * them, feedback joined), s3rver for the reports, and a real Pushgateway for the metrics.
 */
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, Pool } from "pg";
import {
  EMBEDDED_MODEL_DIR,
  EMBEDDED_MODEL_NAME,
  ENV,
  FEEDBACK_COLUMNS as F,
  FEEDBACK_TABLE,
  METRICS,
  PREDICTION_LOG_COLUMNS as P,
  PREDICTION_LOG_TABLE,
  type Task,
} from "../../service/src/contract";
import type { DriftReport } from "../../service/src/drift/report";
import { migrate } from "../../service/src/prediction-log/schema";
import { projectRoot } from "../../service/src/paths";
import { flightAt, flightFeatures, isDelayed, readFlightTable } from "../../service/model-kit/flights";
import { TestPostgres } from "../support/postgres";
import { startPushgateway, type RunningPushgateway } from "../support/prometheus";
import { startS3, type S3Harness } from "../support/s3";
import { runDriftCli } from "./support";

const BUCKET = "drift";
const HOUR = 3600e3;

interface LogRow {
  readonly features: Record<string, unknown>;
  readonly probability: number;
  readonly createdAt: Date;
  readonly model?: string;
  readonly variant?: string;
  readonly fallback?: boolean;
  readonly actual?: 0 | 1;
}

/** Inserts rows with the columns and types the writer uses (one multi-row INSERT per call). */
async function insertLog(url: string, rows: readonly LogRow[]): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const columns = [P.predictionId, P.modelName, P.modelVersion, P.variant, P.createdAt, P.features, P.probability, P.label, P.latencyMs, P.fallback, P.replica, P.seq];
    const feedback: [string, number][] = [];
    for (let start = 0; start < rows.length; start += 500) {
      const params: unknown[] = [];
      const tuples = rows.slice(start, start + 500).map((row, i) => {
        const id = randomUUID();
        if (row.actual !== undefined) feedback.push([id, row.actual]);
        params.push(id, row.model ?? EMBEDDED_MODEL_NAME, "1", row.variant ?? "stable", row.createdAt, JSON.stringify(row.features), row.probability, row.probability >= 0.5 ? 1 : 0, 1.5, row.fallback ?? false, "replica-0", start + i);
        return `(${columns.map((_, c) => `$${i * columns.length + c + 1}`).join(", ")})`;
      });
      await client.query(`INSERT INTO ${PREDICTION_LOG_TABLE} (${columns.join(", ")}) VALUES ${tuples.join(", ")}`, params);
    }
    for (const [id, actual] of feedback) await client.query(`INSERT INTO ${FEEDBACK_TABLE} (${F.predictionId}, ${F.actual}) VALUES ($1, $2)`, [id, actual]);
  } finally {
    await client.end();
  }
}

interface TaskRow {
  readonly model: string;
  readonly task: Task;
  readonly features: Record<string, unknown>;
  readonly probability?: number;
  readonly label?: string;
  readonly value?: number;
  readonly actual?: string;
  readonly actualValue?: number;
  readonly createdAt: Date;
}

/** Rows of any task, with the columns of the task-generic log; feedback as text class or observed value. */
async function insertTaskLog(url: string, rows: readonly TaskRow[]): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const columns = [P.predictionId, P.modelName, P.modelVersion, P.variant, P.createdAt, P.task, P.features, P.probability, P.label, P.value, P.latencyMs, P.fallback, P.replica, P.seq];
    const tuples = (count: number, width: number, from = 0) =>
      Array.from({ length: count }, (_, r) => `(${Array.from({ length: width }, (_, c) => `$${(r + from) * width + c + 1}`).join(", ")})`).join(", ");
    for (let start = 0; start < rows.length; start += 500) {
      const chunk = rows.slice(start, start + 500).map((row, i) => ({ row, id: randomUUID(), seq: start + i }));
      const params = chunk.flatMap(({ row, id, seq }) => [id, row.model, "1", "stable", row.createdAt, row.task, JSON.stringify(row.features), row.probability ?? null, row.label ?? null, row.value ?? null, 1.5, false, "replica-t", seq]);
      await client.query(`INSERT INTO ${PREDICTION_LOG_TABLE} (${columns.join(", ")}) VALUES ${tuples(chunk.length, columns.length)}`, params);
      const labelled = chunk.filter(({ row }) => row.actual !== undefined || row.actualValue !== undefined);
      if (labelled.length === 0) continue;
      const feedback = labelled.flatMap(({ row, id }) => [id, row.actual ?? null, row.actualValue ?? null]);
      await client.query(`INSERT INTO ${FEEDBACK_TABLE} (${F.predictionId}, ${F.actual}, ${F.actualValue}) VALUES ${tuples(labelled.length, 3)}`, feedback);
    }
  } finally {
    await client.end();
  }
}

/** reference.csv rows as log rows: the model's own reference data, so nothing should drift. */
function referenceRows(createdAt: (i: number) => Date): LogRow[] {
  const [header, ...lines] = readFileSync(join(projectRoot(), EMBEDDED_MODEL_DIR, "reference.csv"), "utf8").trim().split("\n");
  const names = header.split(",");
  return lines.map((line, i) => {
    const cells = line.split(",");
    const value = (name: string) => cells[names.indexOf(name)];
    const features: Record<string, unknown> = {};
    for (const name of ["hour", "day_of_week", "day_of_month", "distance"]) features[name] = Number(value(name));
    for (const name of ["origin", "destination"]) features[name] = value(name);
    return { features, probability: Number(value("probability")), actual: Number(value("actual")) as 0 | 1, createdAt: createdAt(i) };
  });
}

describe("drift job on the prediction log, S3 and the Pushgateway", () => {
  let pg: TestPostgres;
  let logUrl: string;
  let s3: S3Harness;
  let gateway: RunningPushgateway;
  const now = new Date();
  const env = () => ({ [ENV.predictionLogUrl]: logUrl, [ENV.mlflowS3EndpointUrl]: s3.endpoint, ...s3.env });

  beforeAll(async () => {
    [pg, s3, gateway] = await Promise.all([TestPostgres.start(), startS3({ buckets: [BUCKET] }), startPushgateway()]);
    logUrl = await pg.createDatabase("drift");
    const pool = new Pool({ connectionString: logUrl });
    await migrate(pool);
    await pool.end();

    // Last 24 h: 1,500 June flights, scored as a model gone wrong would (high probabilities), with ground truth.
    const june = await readFlightTable({ months: [6] });
    const step = Math.floor(june.length / 1500);
    const drifted: LogRow[] = Array.from({ length: 1500 }, (_, i) => {
      const flight = flightAt(june, i * step);
      return { features: flightFeatures(flight), probability: 0.55 + ((i * 7919) % 400) / 1000, actual: isDelayed(flight), createdAt: new Date(now.getTime() - HOUR - i * 1000) };
    });
    // Rows the window must leave out: another model, shadow traffic, and older rows.
    const elsewhere = drifted.slice(0, 50).flatMap((row) => [
      { ...row, model: "other-model", actual: undefined },
      { ...row, variant: "shadow", actual: undefined },
      { ...row, createdAt: new Date(now.getTime() - 30 * HOUR), actual: undefined },
    ]);
    // Three days ago: the reference data itself, for a window with no drift.
    const quiet = referenceRows((i) => new Date(now.getTime() - 72 * HOUR + i * 1000));
    await insertLog(logUrl, [...drifted, ...elsewhere, ...quiet]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), gateway?.stop()]);
  });

  async function s3Json(key: string): Promise<DriftReport> {
    const object = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return JSON.parse(await object.Body!.transformToString());
  }

  it("drifted window: exit 0, reports in S3 under drift-reports/<model>/<date>/, metrics in the Pushgateway", async () => {
    // 1,500 June flights move 2 of the 6 features past Evidently's thresholds: a 0.3 share makes that dataset drift.
    const args = ["--model", EMBEDDED_MODEL_NAME, "--window", "24h", "--end", now.toISOString(), "--drift-share", "0.3"];
    const result = await runDriftCli([...args, "--out", `s3://${BUCKET}/team`, "--pushgateway", gateway.url], env());
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("dataset drift: true") });

    const prefix = `team/drift-reports/${EMBEDDED_MODEL_NAME}/${now.toISOString().slice(0, 10)}/`;
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([`${prefix}report.html`, `${prefix}report.json`]);
    const report = await s3Json(`${prefix}report.json`);
    expect(report.current).toMatchObject({ source: "prediction_log", rows: 1500 });
    expect(report.reference.rows).toBe(5000);
    expect(report.dataset.drifted).toBe(true);
    expect(report.columns.map((c) => c.column).sort()).toEqual(["day_of_month", "day_of_week", "destination", "distance", "hour", "origin"]);
    // Reference > 1000 rows: Evidently's distances.
    for (const column of report.columns) expect(column.method).toBe(column.kind === "numeric" && column.reference.distinct! > 5 ? "wasserstein" : "jensenshannon");
    // Sorted most drifted first.
    const severities = report.columns.map((c) => c.score / c.threshold);
    expect(report.columns[0].drifted).toBe(true);
    expect(severities[0]).toBeGreaterThanOrEqual(Math.min(...severities));
    // Prediction drift: the probabilities moved from ~0.2 to 0.55-0.95.
    expect(report.prediction).toMatchObject({ column: "probability", role: "prediction", drifted: true });
    // Target drift from the feedback rows: June has more delays than the reference's months.
    expect(report.target).toMatchObject({ column: "actual", role: "target" });
    expect(report.target!.current.count).toBe(1500);
    const html = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}report.html` }));
    expect(await html.Body!.transformToString()).toContain("<html");

    const metrics = (await gateway.scrape()).split("\n");
    const sample = (name: string, labels: string) => metrics.find((l) => l.startsWith(`${name}{`) && labels.split(",").every((p) => l.includes(p)));
    expect(sample(METRICS.driftDatasetDrifted, `model="${EMBEDDED_MODEL_NAME}"`)).toMatch(/ 1$/);
    expect(sample(METRICS.driftColumnScore, `column="distance",model="${EMBEDDED_MODEL_NAME}"`)).toBeDefined();
    expect(sample(METRICS.driftColumnDrifted, `column="probability",model="${EMBEDDED_MODEL_NAME}"`)).toMatch(/ 1$/);
    expect(sample(METRICS.driftRows, `dataset="current"`)).toMatch(/ 1500$/);
    expect(sample(METRICS.driftLastRunTimestampSeconds, `model="${EMBEDDED_MODEL_NAME}"`)).toBeDefined();
  }, 60_000);

  it("a window holding the reference data itself: no drift, and the gateway's group is replaced", async () => {
    const end = new Date(now.getTime() - 48 * HOUR);
    const result = await runDriftCli(["--model", EMBEDDED_MODEL_NAME, "--window", "1d", "--end", end.toISOString(), "--out", `s3://${BUCKET}`, "--pushgateway", gateway.url], env());
    expect(result.code).toBe(0);
    const report = await s3Json(`drift-reports/${EMBEDDED_MODEL_NAME}/${end.toISOString().slice(0, 10)}/report.json`);
    expect(report.current.rows).toBe(5000);
    expect(report.dataset).toMatchObject({ drifted: false, driftedColumns: 0 });
    expect(report.prediction!.drifted).toBe(false);
    expect(report.target!.drifted).toBe(false);
    for (const column of report.columns) expect(column.score).toBeCloseTo(0, 9);
    const metrics = await gateway.scrape();
    expect(metrics).toMatch(new RegExp(`^${METRICS.driftDatasetDrifted}\\{[^}]*model="${EMBEDDED_MODEL_NAME}"[^}]*\\} 0$`, "m"));
  }, 60_000);

  it("an empty window: exit 0 with a report that says nothing was compared", async () => {
    const end = new Date(now.getTime() - 200 * HOUR);
    const result = await runDriftCli(["--model", EMBEDDED_MODEL_NAME, "--window", "1h", "--end", end.toISOString(), "--out", `s3://${BUCKET}`, "--no-push"], env());
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("no current rows");
    const report = await s3Json(`drift-reports/${EMBEDDED_MODEL_NAME}/${end.toISOString().slice(0, 10)}/report.json`);
    expect(report.current.rows).toBe(0);
    expect(report.dataset.drifted).toBe(false);
    expect(report.skipped.map((s) => s.reason)).toContain("no rows in the current data");
  }, 60_000);

  it("an unreachable database: exit 2 naming the prediction log, no stack trace", async () => {
    const result = await runDriftCli(["--model", EMBEDDED_MODEL_NAME, "--window", "1h", "--out", `s3://${BUCKET}`, "--no-push"], {
      ...env(),
      [ENV.predictionLogUrl]: "postgres://nobody:x@127.0.0.1:9/none",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot connect to the prediction log/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  describe("per task, from the task-generic log", () => {
    const classes = ["on_time", "late", "very_late"];
    let refs: string;
    beforeAll(async () => {
      refs = mkdtempSync(join(tmpdir(), "drift-task-refs-"));
      const at = (i: number) => new Date(now.getTime() - 2 * HOUR - i * 1000);
      const features = (i: number) => ({ hour: 6 + (i % 12), origin: ["ORD", "ATL", "LAX"][i % 3] });
      const rows: TaskRow[] = [];
      for (let i = 0; i < 300; i++) {
        // Answers and ground truth moved towards late and longer delays; features as in the reference.
        const moved = classes[i % 4 === 0 ? 0 : i % 4 === 1 ? 1 : 2];
        rows.push({ model: "delay-class", task: "multiclass", features: features(i), probability: 0.7, label: moved, actual: classes[(i + 1) % 3], createdAt: at(i) });
        rows.push({ model: "delay-minutes", task: "regression", features: features(i), value: 60 + (i % 50), actualValue: 70 + (i % 40), createdAt: at(i) });
        rows.push({ model: "embedder", task: "tensor", features: {}, value: 1 + (i % 10) / 10, createdAt: at(i) });
      }
      // A row answered by a binary version of the regression model: its probability is no predicted value.
      rows.push({ model: "delay-minutes", task: "binary", features: features(0), probability: 0.9, label: "1", createdAt: at(400) });
      await insertTaskLog(logUrl, rows);
      const reference = (name: string, header: string, line: (i: number) => string) => {
        const path = join(refs, name);
        writeFileSync(path, [header, ...Array.from({ length: 400 }, (_, i) => line(i))].join("\n") + "\n");
        return path;
      };
      reference("multiclass.csv", "hour,origin,label,actual", (i) => `${6 + (i % 12)},${["ORD", "ATL", "LAX"][i % 3]},${classes[i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2]},${classes[i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2]}`);
      reference("regression.csv", "hour,origin,value,actual", (i) => `${6 + (i % 12)},${["ORD", "ATL", "LAX"][i % 3]},${10 + (i % 30)},${12 + (i % 30)}`);
      reference("tensor.csv", "output_norm", (i) => `${1 + (i % 10) / 10}`);
    }, 60_000);
    afterAll(() => rmSync(refs, { recursive: true, force: true }));

    const run = async (model: string, task: Task) => {
      const out = join(refs, `out-${task}`);
      const result = await runDriftCli(["--model", model, "--task", task, "--window", "24h", "--end", now.toISOString(), "--reference", join(refs, `${task}.csv`), "--out", out, "--no-push"], env());
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("dataset drift") });
      return JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as DriftReport;
    };

    it("multiclass: the logged label and the labelled class, as categories", async () => {
      const report = await run("delay-class", "multiclass");
      expect(report.current.rows).toBe(300);
      expect(report.prediction).toMatchObject({ column: "label", kind: "categorical", method: "chisquare", drifted: true });
      expect(report.prediction!.current.count).toBe(300);
      expect(report.target).toMatchObject({ column: "actual", kind: "categorical", drifted: true });
      expect(report.target!.current.count).toBe(300);
      expect(report.columns.map((c) => c.column).sort()).toEqual(["hour", "origin"]);
      expect(report.columns.every((c) => !c.drifted)).toBe(true);
    }, 60_000);

    it("regression: the logged value and the observed value, as numbers; another task's answer is left out", async () => {
      const report = await run("delay-minutes", "regression");
      expect(report.current.rows).toBe(301);
      expect(report.prediction).toMatchObject({ column: "value", kind: "numeric", method: "ks", drifted: true });
      // The binary row's probability is not read as a predicted value: missing, not compared.
      expect(report.prediction!.current).toMatchObject({ count: 300, missing: 1 });
      expect(report.target).toMatchObject({ column: "actual", kind: "numeric", drifted: true });
      expect(report.target!.current.count).toBe(300);
    }, 60_000);

    it("tensor: only the output norm, no target, no features", async () => {
      const report = await run("embedder", "tensor");
      expect(report.prediction).toMatchObject({ column: "output_norm", kind: "numeric", drifted: false });
      expect(report.prediction!.current.count).toBe(300);
      expect(report.target).toBeNull();
      expect(report.columns).toEqual([]);
      expect(report.dataset).toMatchObject({ drifted: false, columns: 0 });
    }, 60_000);
  });
});
