/**
 * The pg_hba rules CloudNativePostgres gives each prediction-log role, taken from the synthesized Cluster and loaded
 * into a real PostgreSQL in the order CloudNativePG writes them (user rules before its default
 * `host all all all scram-sha-256`): the role logs in over TLS to its own database, and nowhere else, nor in clear.
 */
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudNativePostgres } from "../../constructs/cloudnative-postgres";
import { PostgresClient, postgresClientConfig } from "../../service/src/postgres/connection";
import { TestPostgres } from "../support/postgres";
import { createTestCa, issueServerCertificate } from "../support/test-ca";
import { synth } from "./support/harness";

const ROLE = "prediction_log_models";
const PASSWORD = "role-password";
let pg: TestPostgres;
let dir: string;
let rules: string[];

beforeAll(async () => {
  const out = synth((stack) => {
    const db = new CloudNativePostgres(stack, "db", { name: "mlflow-db", namespace: "mlflow", databaseName: "mlflow", owner: "mlflow", ownerPassword: "${var.x}" });
    db.addDatabaseOwner({ name: ROLE, password: "${var.y}" });
  }, { policies: false });
  rules = out.customResources().find((o) => o.kind === "Cluster")!.spec.postgresql.pg_hba;

  dir = mkdtempSync(join(tmpdir(), "cnpg-hba-"));
  chmodSync(dir, 0o755);
  const ca = createTestCa(dir, "cnpg-ca");
  const server = issueServerCertificate(ca, dir, "server", { ips: ["127.0.0.1"] });
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const keyFile = join(dir, "server-owned.key");
  copyFileSync(server.keyFile, keyFile);
  chownSync(keyFile, uid, uid);
  chmodSync(keyFile, 0o600);
  pg = await TestPostgres.start({ settings: { ssl: "on", ssl_cert_file: `'${server.certFile}'`, ssl_key_file: `'${keyFile}'` } });
  await pg.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await pg.query(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
  await pg.query("CREATE DATABASE mlflow");
  // CloudNativePG's file: fixed rules (local peer, replication certs: not reachable here), user rules, default rule.
  const hba = [...rules, "host all all all scram-sha-256"].join("\n");
  writeFileSync(join(pg.dataDir, "pg_hba.conf"), `${hba}\n`);
  await pg.query("SELECT pg_reload_conf()");
});
afterAll(async () => {
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function login(database: string, sslmode: "require" | "disable"): Promise<true | string> {
  const url = `${pg.url(database, { user: ROLE, password: PASSWORD })}?sslmode=${sslmode}`;
  const client = new PostgresClient(postgresClientConfig(url));
  try {
    await client.connect();
    return true;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

it("are the two rules the construct promises", () => {
  expect(rules).toEqual([`hostssl ${ROLE} ${ROLE} all scram-sha-256`, `host all ${ROLE} all reject`]);
});

it("admit the role over TLS to its own database", async () => {
  // pg_reload_conf() is asynchronous: a rejection on the first tries may predate the new file.
  let result: true | string = "not tried";
  for (let i = 0; i < 50 && result !== true; i++) {
    result = await login(ROLE, "require");
    if (result !== true) await new Promise((r) => setTimeout(r, 20));
  }
  expect(result).toBe(true);
});

it("refuse it in clear, and to any other database", async () => {
  expect(await login(ROLE, "disable")).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "prediction_log_models", database "prediction_log_models", no encryption/);
  expect(await login("mlflow", "require")).toMatch(/pg_hba\.conf rejects connection .* database "mlflow", SSL encryption/);
});

it("leave other roles to the default rule", async () => {
  expect(await pg.query("SELECT 1 AS one", [], "mlflow")).toEqual([{ one: 1 }]);
});
