/**
 * The per-namespace prediction-log role on RDS, made by the bootstrap Job's SQL (constructs/database-owner-sql.ts) and
 * run here by the real psql against a real PostgreSQL, as a non-superuser with CREATEROLE and CREATEDB like RDS's
 * master user: the role owns its database, so the service's own migrations, partition maintenance, inserts and reads
 * work; it cannot connect to MLflow's database or another namespace's; re-running changes nothing but the password.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { DATABASE_OWNER_SQL } from "../../constructs/database-owner-sql";
import { MIGRATIONS, maintain, migrate } from "../../service/src/prediction-log/schema";
import { createPool } from "../../service/src/prediction-log/writer";
import { pgBin, TestPostgres } from "../support/postgres";

const run = promisify(execFile);
let pg: TestPostgres;
let dir: string;
let sqlFile: string;
const MASTER = { user: "master", password: "master-secret" };

beforeAll(async () => {
  pg = await TestPostgres.start();
  await pg.query(`CREATE ROLE ${MASTER.user} LOGIN CREATEROLE CREATEDB PASSWORD '${MASTER.password}'`);
  await pg.query(`CREATE DATABASE mlflow OWNER ${MASTER.user}`);
  dir = mkdtempSync(join(tmpdir(), "owner-sql-"));
  sqlFile = join(dir, "owner.sql");
  writeFileSync(sqlFile, DATABASE_OWNER_SQL);
});
afterAll(async () => {
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** What the Job runs: psql -v ON_ERROR_STOP=1 -v owner=<name> -f owner.sql <master URL>, password in the environment. */
const bootstrap = (owner: string, password?: string) =>
  run(pgBin("psql"), ["-v", "ON_ERROR_STOP=1", "-v", `owner=${owner}`, "-f", sqlFile, pg.url("mlflow", MASTER)], {
    env: { ...process.env, ...(password === undefined ? {} : { OWNER_PASSWORD: password }) },
  });

async function canConnect(database: string, user: string, password: string): Promise<true | string> {
  const client = new Client({ connectionString: pg.url(database, { user, password }) });
  try {
    await client.connect();
    return true;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("the database-owner bootstrap SQL", () => {
  beforeAll(async () => {
    await bootstrap("prediction_log_models", "first-password");
    await bootstrap("prediction_log_team_b", "other-password");
  });

  it("gives the role a database on which the service's migrations, partition maintenance, inserts and reads work", async () => {
    const pool = createPool(pg.url("prediction_log_models", { user: "prediction_log_models", password: "first-password" }), "owner-test");
    try {
      expect(await migrate(pool)).toEqual(MIGRATIONS.map((m) => m.version));
      await maintain(pool, { daysAhead: 2, retentionDays: 1 });
      const id = "00000000-0000-4000-8000-000000000001";
      await pool.query(
        `INSERT INTO prediction_log (prediction_id, model_name, model_version, variant, created_at, features, probability, label, latency_ms, fallback, replica, seq)
         VALUES ($1, 'm', '1', 'stable', now(), '{}', 0.5, 1, 1, false, 'r', 1)`,
        [id],
      );
      await pool.query("INSERT INTO prediction_feedback (prediction_id, actual) VALUES ($1, 1)", [id]);
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM prediction_log p JOIN prediction_feedback f USING (prediction_id)");
      expect(rows[0].n).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it("keeps the role out of MLflow's database and other namespaces' databases, and others out of its own", async () => {
    expect(await canConnect("mlflow", "prediction_log_models", "first-password")).toMatch(/permission denied for database "mlflow"/);
    expect(await canConnect("prediction_log_team_b", "prediction_log_models", "first-password")).toMatch(/permission denied for database "prediction_log_team_b"/);
    expect(await canConnect("prediction_log_models", "prediction_log_team_b", "other-password")).toMatch(/permission denied for database "prediction_log_models"/);
    expect(await canConnect("mlflow", MASTER.user, MASTER.password)).toBe(true);
  });

  it("gives the role no power beyond its database", async () => {
    const [role] = await pg.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'prediction_log_models'",
    );
    expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
  });

  it("is idempotent: a second run only re-asserts the password", async () => {
    await bootstrap("prediction_log_models", "rotated-password");
    expect(await canConnect("prediction_log_models", "prediction_log_models", "first-password")).toMatch(/password authentication failed/);
    expect(await canConnect("prediction_log_models", "prediction_log_models", "rotated-password")).toBe(true);
    const [tables] = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'prediction_feedback'", [], "prediction_log_models");
    expect(tables!.n).toBe(1);
  });

  it("fails, saying why, when the password is missing", async () => {
    const failed = await bootstrap("prediction_log_nopw").catch((e) => e);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("OWNER_PASSWORD is not set");
    expect(await pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'prediction_log_nopw'")).toEqual([]);
  });
});
