/**
 * The object-storage sink against a real S3 API (s3rver on loopback): Parquet files per replica in the Hive
 * layout with the tables' columns, rolled by size and by time, ground truth as its own stream, the drift job's
 * reader over both; S3 down mid-load and an interrupted roll lose nothing and write nothing twice.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ENV, FEEDBACK_COLUMNS, METRICS, PARQUET_LOG, PREDICTION_LOG_COLUMNS, ROUTES } from "../../service/src/contract";
import type { ColumnBatch } from "../../service/src/drift/readers/batch";
import { openPredictionLog } from "../../service/src/drift/readers/prediction-log";
import { ParquetSink, parseS3Url, s3ClientFromEnv } from "../../service/src/prediction-log/parquet-sink";
import { PREDICTION_LINE_COLUMNS, predictionLine } from "../../service/src/prediction-log/rows";
import { PredictionLogWriter } from "../../service/src/prediction-log/writer";
import { startS3, type S3Harness } from "../support/s3";
import { listKeys, readRows, schemaOf } from "./parquet-support";
import { buildTestApp, entry, memoryLogger, metricValue, tempDir, waitFor } from "./support";

const BUCKET = "logs";
let s3: S3Harness;
let env: Record<string, string>;
beforeAll(async () => {
  s3 = await startS3({ buckets: [BUCKET] });
  env = { ...s3.env, [ENV.awsEndpointUrlS3]: s3.endpoint };
});
afterAll(() => s3?.stop());

const KEY = new RegExp(
  `^(?<prefix>[^/]+)/(?<stream>predictions|feedback)/model=(?<model>[^/]+)/version=(?<version>[^/]+)/date=(?<date>\\d{4}-\\d{2}-\\d{2})/hour=(?<hour>\\d{2})/(?<replica>[^/]+)-(?<seq>\\d{20})\\.parquet$`,
);

it("writes predictions and feedback as Parquet per replica in the Hive layout, with the tables' columns, read back by the drift job", async () => {
  const prefix = "layout";
  const t = await buildTestApp({ url: `s3://${BUCKET}/${prefix}`, env, fsyncIntervalMs: 0 });
  try {
    for (let i = 0; i < 300; i++) expect((await t.app.inject({ method: "GET", url: `/predict${i % 3 === 0 ? "?version=4" : ""}` })).statusCode).toBe(200);
    const items = t.recorded.slice(0, 60).map((e, i) => ({ prediction_id: e.predictionId, actual: i % 2 }));
    const feedback = await t.app.inject({ method: "POST", url: ROUTES.feedback, payload: { items } });
    expect(feedback.statusCode).toBe(200);
    expect(feedback.json()).toMatchObject({ accepted: 60, duplicates: 0, unknown: 0 });
    // Known to this replica: counted live, as with PostgreSQL.
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal)).toBe(60);
    // A label for a prediction this replica never made (another replica's): stored, not counted live.
    const foreign = "00000000-0000-4000-8000-00000000abcd";
    expect((await t.app.inject({ method: "POST", url: ROUTES.feedback, payload: { prediction_id: foreign, actual: 1 } })).json()).toMatchObject({ accepted: 1 });
    expect(await metricValue(t.registry, METRICS.modelFeedbackTotal)).toBe(60);
  } finally {
    await t.app.close(); // flushes on close (SIGTERM): the roll is cut now, not in 5 minutes
  }

  const keys = await listKeys(s3.client, BUCKET, prefix);
  const parsed = keys.map((k) => KEY.exec(k)?.groups);
  expect(parsed.every((g) => g !== undefined)).toBe(true);
  expect(new Set(parsed.map((g) => `${g!.stream}/${g!.version}`))).toEqual(new Set(["predictions/3", "predictions/4", "feedback/3", "feedback/4", `feedback/${PARQUET_LOG.unknownVersion}`]));
  expect(new Set(parsed.map((g) => g!.replica))).toEqual(new Set(["replica-a"]));
  const now = new Date().toISOString();
  expect(parsed.every((g) => g!.date === now.slice(0, 10) || g!.date < now.slice(0, 10))).toBe(true);

  const predictionKey = keys.find((k) => k.includes("/predictions/"))!;
  expect((await schemaOf(s3.client, BUCKET, predictionKey)).map((c) => c.name)).toEqual(Object.values(PREDICTION_LOG_COLUMNS));
  const feedbackKey = keys.find((k) => k.includes("/feedback/"))!;
  expect((await schemaOf(s3.client, BUCKET, feedbackKey)).map((c) => c.name)).toEqual(expect.arrayContaining(Object.values(FEEDBACK_COLUMNS)));

  const predictions = await readRows(s3.client, BUCKET, `${prefix}/predictions/`);
  expect(predictions).toHaveLength(300);
  expect(new Set(predictions.map((r) => r.prediction_id)).size).toBe(300);
  const first = predictions.find((r) => JSON.parse(r.features as string).index === 0)!;
  expect(first).toMatchObject({ model_name: "flight-delay", model_version: "4", variant: "stable", task: "binary", label: "0", value: null, fallback: false, replica: "replica-a" });
  expect(first.created_at).toBeInstanceOf(Date);
  expect(typeof first.seq).toBe("bigint");
  // Rows sit in the partition of their own version; files of one replica sort by seq.
  expect(predictions.every((r) => r.key.includes(`/version=${r.model_version as string}/`))).toBe(true);

  const labels = await readRows(s3.client, BUCKET, `${prefix}/feedback/`);
  expect(labels).toHaveLength(61);
  expect(labels.find((r) => r.prediction_id === "00000000-0000-4000-8000-00000000abcd")?.key).toContain(`/version=${PARQUET_LOG.unknownVersion}/`);

  // The drift job reads the Parquet log as it reads PostgreSQL: features, probability, labels joined.
  const batches: ColumnBatch[] = [];
  for await (const batch of openPredictionLog({
    connectionString: `s3://${BUCKET}/${prefix}`,
    model: "flight-delay",
    start: new Date(Date.now() - 3_600_000),
    end: new Date(Date.now() + 60_000),
    features: ["distance", "origin"],
    client: s3.client,
  } as Parameters<typeof openPredictionLog>[0])) {
    batches.push(batch);
  }
  const column = (name: string) => batches.flatMap((b) => Array.from(b.column(name) ?? []));
  expect(column("distance")).toHaveLength(300);
  expect(new Set(column("origin"))).toEqual(new Set(["SFO"]));
  expect(column("actual").filter((a) => a !== null).sort()).toEqual([...Array(30).fill("0"), ...Array(30).fill("1")]);
});

it("rolls files by size and by time", async () => {
  const spillDir = tempDir("spill-");
  const client = s3ClientFromEnv(env);
  const location = parseS3Url(`s3://${BUCKET}/rolls`);
  const writer = new PredictionLogWriter({
    sink: new ParquetSink({ client, location, stream: "predictions", replica: "r1", stateDir: `${spillDir}/predictions`, rollBytes: 16 * 1024, rollIntervalMs: 500 }),
    replica: "r1",
    spillDir,
    logger: memoryLogger(),
    fsyncIntervalMs: 0,
  });
  try {
    writer.start();
    // About 60 KiB of rows at once: rolled by size into several files.
    for (let i = 0; i < 250; i++) writer.record(entry(i));
    await waitFor(async () => (await listKeys(s3.client, BUCKET, "rolls/")).length >= 3, 20_000, "size rolls");
    expect(await writer.flush(20_000)).toBe(true);
    const bySize = (await listKeys(s3.client, BUCKET, "rolls/")).length;
    // A few rows, far below the size: rolled by time within about the interval.
    for (let i = 250; i < 255; i++) writer.record(entry(i));
    await waitFor(async () => (await listKeys(s3.client, BUCKET, "rolls/")).length === bySize + 1, 10_000, "time roll");
    const rows = await readRows(s3.client, BUCKET, "rolls/");
    expect(rows.map((r) => JSON.parse(r.features as string).index).sort((a, b) => a - b)).toEqual(Array.from({ length: 255 }, (_, i) => i));
  } finally {
    await writer.close(2000);
    client.destroy();
  }
});

it("S3 down mid-load: entries wait in the journal, then every one is written exactly once", async () => {
  const prefix = "outage";
  const t = await buildTestApp({ url: `s3://${BUCKET}/${prefix}`, env, rollBytes: 32 * 1024, rollIntervalMs: 200, fsyncIntervalMs: 0 });
  try {
    for (let i = 0; i < 100; i++) await t.app.inject({ method: "GET", url: "/predict" });
    await waitFor(async () => (await readRows(s3.client, BUCKET, `${prefix}/predictions/`)).length === 100, 20_000, "first rows");
    await s3.pause();
    for (let i = 0; i < 400; i++) expect((await t.app.inject({ method: "GET", url: "/predict" })).statusCode).toBe(200);
    await waitFor(() => !t.app.predictionLog.status().healthy, 20_000, "degraded");
    expect(t.app.predictionLog.status().queueDepth + t.app.predictionLog.status().spillDepth).toBe(400);
    await s3.resume();
    await waitFor(async () => t.app.predictionLog.status().healthy && t.app.predictionLog.status().queueDepth === 0, 30_000, "recovery");
  } finally {
    await t.app.close();
  }
  const rows = await readRows(s3.client, BUCKET, `${prefix}/predictions/`);
  console.log(`S3 outage test: ${t.recorded.length} accepted, ${rows.length} rows in Parquet, ${new Set(rows.map((r) => r.prediction_id)).size} distinct`);
  expect(rows).toHaveLength(500);
  expect(new Set(rows.map((r) => r.prediction_id))).toEqual(new Set(t.recorded.map((e) => e.predictionId)));
  expect(await metricValue(t.registry, METRICS.predictionLogDroppedTotal)).toBe(0);
});

it("a roll interrupted after some of its files were uploaded is redone under the same keys: no duplicate rows", async () => {
  const spillDir = tempDir("spill-");
  const location = parseS3Url(`s3://${BUCKET}/interrupted`);
  const good = s3ClientFromEnv(env);
  // The process dies after its first upload of the roll: every later request fails.
  let puts = 0;
  const dying = {
    send: (command: unknown, options?: unknown) => {
      if (command instanceof PutObjectCommand && ++puts > 1) return Promise.reject(new Error("connection reset (process killed)"));
      return good.send(command as never, options as never);
    },
  } as unknown as S3Client;
  const open = (client: S3Client) =>
    new PredictionLogWriter({
      sink: new ParquetSink({ client, location, stream: "predictions", replica: "r1", stateDir: `${spillDir}/predictions`, rollIntervalMs: 100 }),
      replica: "r1",
      spillDir,
      logger: memoryLogger(),
      fsyncIntervalMs: 0,
      backoff: { initialMs: 50, maxMs: 100 },
    });
  const first = open(dying);
  first.start();
  // Three versions: three files in the roll.
  for (let i = 0; i < 90; i++) first.record(entry(i, { modelVersion: String(i % 3) }));
  await waitFor(() => puts >= 2, 10_000, "the first upload and a failed second");
  await first.close(200);
  const afterCrash = await listKeys(s3.client, BUCKET, "interrupted/");
  expect(afterCrash).toHaveLength(1);

  const second = open(good);
  second.start();
  try {
    expect(await second.flush(20_000)).toBe(true);
  } finally {
    await second.close(1000);
    good.destroy();
  }
  const keys = await listKeys(s3.client, BUCKET, "interrupted/");
  expect(keys).toHaveLength(3);
  expect(keys).toContain(afterCrash[0]);
  const rows = await readRows(s3.client, BUCKET, "interrupted/");
  expect(rows).toHaveLength(90);
  expect(new Set(rows.map((r) => r.prediction_id)).size).toBe(90);
});

it("a roll takes the journal as it stood when the write began, not lines that arrive while it encodes", async () => {
  const line = (i: number) => `${predictionLine(entry(i, { createdAt: new Date(Date.UTC(2026, 11, 2, 5)) }), "replica-a")}\t${1000 + i}\n`;
  let journal = "";
  for (let i = 0; i < 100; i++) journal += line(i);
  const end = { segment: 1, offset: journal.length };
  const reads: number[] = [];
  const sink = new ParquetSink({ client: s3ClientFromEnv(env), location: parseS3Url(`s3://${BUCKET}/snapshot`), stream: "predictions", replica: "replica-a", stateDir: tempDir("parquet-snapshot-") });
  try {
    const outcome = await sink.write({
      start: { segment: 1, offset: 0 },
      end,
      // Each read hands out what is there and then appends more, as a journal under load does.
      read: async (from) => {
        const bytes = Buffer.from(journal).subarray(from.offset);
        for (let i = 0; i < 5; i++) journal += line(100 + reads.length * 5 + i);
        reads.push(bytes.length);
        if (bytes.length === 0) return undefined;
        return { data: bytes, rows: bytes.toString().split("\n").length - 1, columns: PREDICTION_LINE_COLUMNS, start: from, end: { segment: 1, offset: from.offset + bytes.length }, firstSeq: "", lastSeq: "" };
      },
    });
    expect(reads).toHaveLength(1);
    expect(outcome).toMatchObject({ rows: 100, lastSeq: "1099", end });
  } finally {
    await sink.close();
  }
});
