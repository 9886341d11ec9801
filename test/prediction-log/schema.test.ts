/**
 * Migration 2 (task-generic rows) on a database that already holds migration-1 rows, as a running deployment
 * would: existing binary rows keep their meaning ("0"/"1" labels, their feedback too), rows of every task fit,
 * and the drift job's query still reads the binary rows.
 */
import { Pool } from "pg";
import { PREDICTION_LOG_COLUMNS as P } from "../../service/src/contract";
import { readPredictionLog } from "../../service/src/drift/readers/prediction-log";
import { MIGRATIONS, MIGRATIONS_TABLE, migrate } from "../../service/src/prediction-log/schema";
import { TestPostgres } from "../support/postgres";

let pg: TestPostgres;
beforeAll(async () => {
  pg = await TestPostgres.start();
});
afterAll(() => pg?.destroy());

it("migration 2 keeps migration-1 rows' meaning and takes rows and feedback of every task", async () => {
  const url = await pg.createDatabase("schema_v2");
  const db = "schema_v2";
  // A database at migration 1, with rows and feedback written by the previous release.
  const [v1] = MIGRATIONS;
  await pg.query(`CREATE TABLE ${MIGRATIONS_TABLE} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`, [], db);
  await pg.query(`BEGIN; ${v1!.sql}; INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES (1, 'v1'); COMMIT;`, [], db);
  const now = new Date().toISOString();
  const oldIds = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"];
  for (const [i, id] of oldIds.entries()) {
    await pg.query(
      `INSERT INTO prediction_log VALUES ($1, 'flight-delay', '3', 'stable', $2, $3, $4, $5, 0.4, false, 'r1', $6)`,
      [id, now, JSON.stringify({ distance: 100 + i }), 0.2 + 0.6 * i, i, i],
      db,
    );
    await pg.query(`INSERT INTO prediction_feedback (prediction_id, actual) VALUES ($1, $2)`, [id, 1 - i], db);
  }

  const pool = new Pool({ connectionString: url });
  try {
    expect(await migrate(pool)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
  } finally {
    await pool.end();
  }

  const old = await pg.query<{ task: string; label: string; probability: number; value: number | null }>(
    `SELECT task, label, probability, value FROM prediction_log ORDER BY seq`,
    [],
    db,
  );
  expect(old).toEqual([
    { task: "binary", label: "0", probability: 0.2, value: null },
    { task: "binary", label: "1", probability: expect.closeTo(0.8, 10), value: null },
  ]);
  const oldFeedback = await pg.query<{ actual: string }>(`SELECT actual FROM prediction_feedback ORDER BY prediction_id`, [], db);
  expect(oldFeedback.map((r) => r.actual)).toEqual(["1", "0"]);

  // Rows of the other tasks: a class label, a value, no probability.
  await pg.query(
    `INSERT INTO prediction_log (${P.predictionId}, ${P.modelName}, ${P.modelVersion}, ${P.variant}, ${P.createdAt}, ${P.task}, ${P.features},
       ${P.probability}, ${P.label}, ${P.value}, ${P.latencyMs}, ${P.fallback}, ${P.replica}, ${P.seq}) VALUES
     ('00000000-0000-4000-8000-000000000003', 'iris', '1', 'stable', $1, 'multiclass', '{}', 0.7, 'versicolor', NULL, 0.3, false, 'r1', 10),
     ('00000000-0000-4000-8000-000000000004', 'price', '1', 'stable', $1, 'regression', '{}', NULL, NULL, 412.5, 0.3, false, 'r1', 11),
     ('00000000-0000-4000-8000-000000000005', 'ocr', '1', 'stable', $1, 'tensor', '{}', NULL, NULL, 3.25, 0.3, false, 'r1', 12)`,
    [now],
    db,
  );
  await pg.query(
    `INSERT INTO prediction_feedback (prediction_id, actual, actual_value) VALUES
     ('00000000-0000-4000-8000-000000000003', 'setosa', NULL), ('00000000-0000-4000-8000-000000000004', NULL, 398)`,
    [],
    db,
  );
  // A label with neither a class nor a value is refused.
  await expect(pg.query(`INSERT INTO prediction_feedback (prediction_id) VALUES ('00000000-0000-4000-8000-000000000005')`, [], db)).rejects.toThrow(
    /prediction_feedback_actual_present/,
  );

  // The drift job's query is unchanged and still reads the binary rows with their labels as targets.
  const batches = [];
  for await (const batch of readPredictionLog({
    connectionString: url,
    model: "flight-delay",
    start: new Date(Date.now() - 3_600_000),
    end: new Date(Date.now() + 3_600_000),
    features: ["distance"],
  })) {
    batches.push(batch);
  }
  expect(batches.flatMap((b) => Array.from(b.column("actual")!))).toEqual(["1", "0"]);
  expect(batches.flatMap((b) => Array.from(b.column("probability")!))).toEqual([0.2, expect.closeTo(0.8, 10)]);
});
