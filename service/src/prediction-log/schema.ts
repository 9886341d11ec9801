/**
 * The prediction log's schema, as ordered migrations. Applied by every replica at start and by
 * `npm run migrate`; an advisory lock serialises concurrent runners, so several replicas starting at once
 * apply each migration exactly once.
 *
 * Layout:
 * - `prediction_log` is range-partitioned by day on `created_at` (UTC). The drift job's "one model, one time
 *   window" query prunes to the partitions it needs and uses the (model_name, created_at) index; retention drops
 *   whole partitions instead of deleting rows. A default partition catches rows outside the prepared days (a
 *   spill replayed after a long outage, a skewed clock) so an insert never fails for want of a partition.
 * - The primary key (prediction_id, created_at) makes inserts idempotent (a retried batch conflicts and is
 *   ignored) and serves feedback lookups by prediction_id. Postgres requires the partition key in a unique key;
 *   an entry's created_at never changes, so a retry lands on the same key.
 * - `prediction_feedback` holds one ground-truth label per prediction (first one wins).
 * - `prediction_log_maintain(days_ahead, retention_days)` creates the coming days' partitions and drops expired
 *   ones. The service calls it at start and hourly; it is plain SQL, so a CronJob or pg_cron can call it too.
 */
import type { Pool, PoolClient } from "pg";
import { FEEDBACK_COLUMNS as F, FEEDBACK_TABLE, PREDICTION_LOG_COLUMNS as P, PREDICTION_LOG_TABLE } from "../contract";

export const MIGRATIONS_TABLE = `${PREDICTION_LOG_TABLE}_migrations`;
const DEFAULT_PARTITION = `${PREDICTION_LOG_TABLE}_default`;
const PARTITION_PREFIX = `${PREDICTION_LOG_TABLE}_p`;
/** Arbitrary constants identifying this schema's advisory locks (migrations, partition maintenance). */
const MIGRATION_LOCK = 7_302_118_001;
const MAINTENANCE_LOCK = 7_302_118_002;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "prediction log and feedback tables",
    sql: `
      CREATE TABLE ${PREDICTION_LOG_TABLE} (
        ${P.predictionId} uuid NOT NULL,
        ${P.modelName} text NOT NULL,
        ${P.modelVersion} text NOT NULL,
        ${P.variant} text NOT NULL,
        ${P.createdAt} timestamptz NOT NULL,
        ${P.features} jsonb NOT NULL,
        ${P.probability} double precision NOT NULL,
        ${P.label} smallint NOT NULL CHECK (${P.label} IN (0, 1)),
        ${P.latencyMs} real NOT NULL,
        ${P.fallback} boolean NOT NULL,
        ${P.replica} text NOT NULL,
        ${P.seq} bigint NOT NULL,
        PRIMARY KEY (${P.predictionId}, ${P.createdAt})
      ) PARTITION BY RANGE (${P.createdAt});
      CREATE TABLE ${DEFAULT_PARTITION} PARTITION OF ${PREDICTION_LOG_TABLE} DEFAULT;
      -- The drift job reads one model over a time window.
      CREATE INDEX ${PREDICTION_LOG_TABLE}_model_time_idx ON ${PREDICTION_LOG_TABLE} (${P.modelName}, ${P.createdAt});

      CREATE TABLE ${FEEDBACK_TABLE} (
        ${F.predictionId} uuid PRIMARY KEY,
        ${F.actual} smallint NOT NULL CHECK (${F.actual} IN (0, 1)),
        ${F.receivedAt} timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ${FEEDBACK_TABLE}_received_idx ON ${FEEDBACK_TABLE} (${F.receivedAt});

      CREATE FUNCTION ${PREDICTION_LOG_TABLE}_maintain(days_ahead integer, retention_days integer)
      RETURNS void LANGUAGE plpgsql AS $fn$
      DECLARE
        day date;
        part record;
      BEGIN
        PERFORM pg_advisory_xact_lock(${MAINTENANCE_LOCK});
        FOR day IN SELECT d::date FROM generate_series(current_date - 1, current_date + days_ahead, interval '1 day') AS d LOOP
          BEGIN
            EXECUTE format(
              'CREATE TABLE IF NOT EXISTS %I PARTITION OF ${PREDICTION_LOG_TABLE} FOR VALUES FROM (%L) TO (%L)',
              '${PARTITION_PREFIX}' || to_char(day, 'YYYYMMDD'),
              day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
          EXCEPTION WHEN check_violation THEN
            -- Rows for that day already sit in the default partition: leave them there, they stay queryable.
            RAISE WARNING 'partition for % not created: rows for that day are in ${DEFAULT_PARTITION}', day;
          END;
        END LOOP;
        FOR part IN
          SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = '${PREDICTION_LOG_TABLE}'::regclass AND c.relname ~ '^${PARTITION_PREFIX}[0-9]{8}$'
        LOOP
          IF to_date(right(part.relname, 8), 'YYYYMMDD') < current_date - retention_days THEN
            EXECUTE format('DROP TABLE %I', part.relname);
          END IF;
        END LOOP;
        DELETE FROM ${DEFAULT_PARTITION} WHERE ${P.createdAt} < now() - make_interval(days => retention_days);
        DELETE FROM ${FEEDBACK_TABLE} WHERE ${F.receivedAt} < now() - make_interval(days => retention_days);
      END
      $fn$;
    `,
  },
  {
    // Task-generic rows (contract PredictionLogEntry): a task, a text label (a multiclass class, or "0"/"1" as
    // existing binary rows become), a value for regression and tensor models, and a probability only where
    // the task has one; feedback takes a class label or an observed value. Changing label's type rewrites the
    // table (and its partitions) under an exclusive lock: on a large log, run `npm run migrate` in a quiet hour.
    version: 2,
    name: "task-generic predictions and feedback",
    sql: `
      ALTER TABLE ${PREDICTION_LOG_TABLE} ADD COLUMN ${P.task} text NOT NULL DEFAULT 'binary';
      ALTER TABLE ${PREDICTION_LOG_TABLE} ALTER COLUMN ${P.probability} DROP NOT NULL;
      ALTER TABLE ${PREDICTION_LOG_TABLE} DROP CONSTRAINT ${PREDICTION_LOG_TABLE}_${P.label}_check;
      ALTER TABLE ${PREDICTION_LOG_TABLE} ALTER COLUMN ${P.label} DROP NOT NULL;
      ALTER TABLE ${PREDICTION_LOG_TABLE} ALTER COLUMN ${P.label} TYPE text USING ${P.label}::text;
      ALTER TABLE ${PREDICTION_LOG_TABLE} ADD COLUMN ${P.value} double precision;

      ALTER TABLE ${FEEDBACK_TABLE} DROP CONSTRAINT ${FEEDBACK_TABLE}_${F.actual}_check;
      ALTER TABLE ${FEEDBACK_TABLE} ALTER COLUMN ${F.actual} DROP NOT NULL;
      ALTER TABLE ${FEEDBACK_TABLE} ALTER COLUMN ${F.actual} TYPE text USING ${F.actual}::text;
      ALTER TABLE ${FEEDBACK_TABLE} ADD COLUMN ${F.actualValue} double precision;
      ALTER TABLE ${FEEDBACK_TABLE} ADD CONSTRAINT ${FEEDBACK_TABLE}_actual_present
        CHECK (${F.actual} IS NOT NULL OR ${F.actualValue} IS NOT NULL);
    `,
  },
];

/** Applies the migrations not yet recorded; returns the versions applied by this call. */
export async function migrate(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  // A connection lost between statements must surface as a failed query, not an unhandled 'error' event.
  const ignore = () => undefined;
  client.on("error", ignore);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      return await applyPending(client);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.off("error", ignore);
    client.release();
  }
}

async function applyPending(client: PoolClient): Promise<number[]> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
       version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
  const applied = new Set(rows.map((row) => row.version));
  const appliedNow: number[] = [];
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    await client.query("BEGIN");
    try {
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK");
      throw new Error(`prediction-log migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
    }
    appliedNow.push(migration.version);
  }
  return appliedNow;
}

export interface RetentionPolicy {
  /** Days of partitions created ahead of today. */
  readonly daysAhead: number;
  /** Partitions (and feedback) older than this many days are dropped. */
  readonly retentionDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { daysAhead: 7, retentionDays: 30 };

/** Creates upcoming daily partitions and drops expired ones (idempotent, safe to run concurrently). */
export async function maintain(pool: Pool, policy: RetentionPolicy = DEFAULT_RETENTION): Promise<void> {
  await pool.query(`SELECT ${PREDICTION_LOG_TABLE}_maintain($1, $2)`, [policy.daysAhead, policy.retentionDays]);
}
