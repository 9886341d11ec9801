/**
 * TLS to a real PostgreSQL 15 (Debian) serving a certificate from a CA generated here with openssl: the prediction-log
 * pool, the drift job's reader and the migrate CLI connect with sslmode=verify-full and the right CA, refuse a server
 * whose certificate another CA signed or that is not valid for the host dialled, and say which setting is wrong.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { execFileSync } from "node:child_process";
import { ENV } from "../../service/src/contract";
import { readPredictionLog } from "../../service/src/drift/readers/prediction-log";
import { PostgresClient, postgresClientConfig, PostgresConfigError, postgresTls } from "../../service/src/postgres/connection";
import { MIGRATIONS, migrate } from "../../service/src/prediction-log/schema";
import { createPool } from "../../service/src/prediction-log/writer";
import { projectRoot } from "../../service/src/paths";
import { TestPostgres } from "../support/postgres";
import { createTestCa, issueServerCertificate, TestCa } from "../support/test-ca";

const run = promisify(execFile);

let pg: TestPostgres;
let dir: string;
let rightCa: TestCa;
let wrongCa: TestCa;
/** A second loopback address the server also listens on, which its certificate does not name. */
const OTHER_HOST = "127.0.0.2";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pg-tls-"));
  chmodSync(dir, 0o755);
  rightCa = createTestCa(dir, "right-ca");
  wrongCa = createTestCa(dir, "wrong-ca");
  const server = issueServerCertificate(rightCa, dir, "server", { ips: ["127.0.0.1"] });
  // The server reads its key as the postgres user and refuses one others can read.
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const keyFile = join(dir, "server-owned.key");
  copyFileSync(server.keyFile, keyFile);
  chownSync(keyFile, uid, uid);
  chmodSync(keyFile, 0o600);
  pg = await TestPostgres.start({
    settings: {
      ssl: "on",
      ssl_cert_file: `'${server.certFile}'`,
      ssl_key_file: `'${keyFile}'`,
      listen_addresses: `'127.0.0.1,${OTHER_HOST}'`,
    },
  });
  await pg.query("CREATE DATABASE tls_log");
});
afterAll(async () => {
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const url = (query: string, host = "127.0.0.1") => `${pg.url("tls_log").replace("127.0.0.1", host)}?${query}`;
const verifyFull = (ca: TestCa, host?: string) => url(`sslmode=verify-full&sslrootcert=${ca.certFile}`, host);

async function connectAndAskTls(connectionUrl: string): Promise<boolean> {
  const client = new PostgresClient(postgresClientConfig(connectionUrl));
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return rows[0]!.ssl;
  } finally {
    await client.end();
  }
}

describe("sslmode=verify-full against a real server", () => {
  it("connects over TLS with the CA that signed the server's certificate", async () => {
    expect(await connectAndAskTls(verifyFull(rightCa))).toBe(true);
  });

  it("refuses a server whose certificate another CA signed, naming sslrootcert", async () => {
    await expect(connectAndAskTls(verifyFull(wrongCa))).rejects.toThrow(
      new RegExp(`not signed by a CA in sslrootcert=${wrongCa.certFile}.*point sslrootcert at the CA that issued it`),
    );
  });

  it("refuses a certificate that does not name the host dialled; verify-ca accepts it", async () => {
    await expect(connectAndAskTls(verifyFull(rightCa, OTHER_HOST))).rejects.toThrow(/not valid for the host in the URL .*127\.0\.0\.2/);
    expect(await connectAndAskTls(url(`sslmode=verify-ca&sslrootcert=${rightCa.certFile}`, OTHER_HOST))).toBe(true);
  });

  it("keeps libpq's meaning of the other modes: require encrypts without checking, disable does not encrypt", async () => {
    expect(await connectAndAskTls(url("sslmode=require"))).toBe(true);
    await expect(connectAndAskTls(url(`sslmode=require&sslrootcert=${wrongCa.certFile}`))).rejects.toThrow(/not signed by a CA/);
    expect(await connectAndAskTls(url("sslmode=disable"))).toBe(false);
    expect(await connectAndAskTls(url(""))).toBe(false);
  });
});

describe("settings that cannot work fail at connect time with the setting named", () => {
  it.each([
    ["sslmode=verify-full", /sslmode=verify-full \(127\.0\.0\.1:\d+\/tls_log\) needs sslrootcert=<file>/],
    ["sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", /sslrootcert \/nonexistent\/ca\.pem .* cannot be read: ENOENT/],
    ["sslmode=prefer", /sslmode=prefer .* is not supported: node-postgres cannot fall back/],
    ["sslmode=strict", /sslmode=strict .* is not a PostgreSQL sslmode/],
  ])("%s", async (query, message) => {
    expect(() => postgresTls(url(query))).toThrow(PostgresConfigError);
    await expect(connectAndAskTls(url(query))).rejects.toThrow(message);
  });

  it("an sslrootcert that is not a certificate is named", async () => {
    const notPem = join(dir, "not-a-cert.pem");
    writeFileSync(notPem, "hello\n");
    await expect(connectAndAskTls(url(`sslmode=verify-full&sslrootcert=${notPem}`))).rejects.toThrow(/holds no PEM certificate/);
  });

  it("leaves errors TLS did not cause as they are (a wrong password)", async () => {
    const wrongPassword = verifyFull(rightCa).replace(encodeURIComponent(pg.password), "not-the-password");
    await expect(connectAndAskTls(wrongPassword)).rejects.toThrow(/^password authentication failed for user "postgres"$/);
  });

  it("messages never carry the password", async () => {
    const error = await connectAndAskTls(verifyFull(wrongCa)).catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain(pg.password);
  });
});

describe("the service, the drift job and migrations use it", () => {
  it("the prediction-log pool migrates over verify-full, and its errors explain a wrong CA", async () => {
    const pool = createPool(verifyFull(rightCa), "tls-test");
    try {
      expect(await migrate(pool)).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await pool.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      expect(rows[0]!.ssl).toBe(true);
    } finally {
      await pool.end();
    }
    const wrong = createPool(verifyFull(wrongCa), "tls-test");
    await expect(wrong.query("SELECT 1")).rejects.toThrow(/not signed by a CA in sslrootcert=/);
    await wrong.end();
  });

  it("the drift job's prediction-log reader streams over verify-full and explains a wrong CA", async () => {
    const window = { model: "flight-delay", start: new Date(Date.now() - 3600_000), end: new Date(), features: ["distance"] };
    const batches = [];
    for await (const batch of readPredictionLog({ ...window, connectionString: verifyFull(rightCa) })) batches.push(batch);
    expect(batches).toEqual([]);
    const reading = (async () => {
      for await (const _ of readPredictionLog({ ...window, connectionString: verifyFull(wrongCa) })) void _;
    })();
    await expect(reading).rejects.toThrow(/cannot connect to the prediction log: PostgreSQL 127\.0\.0\.1:\d+\/tls_log: the server's certificate is not signed/);
  });

  it("npm run migrate (the CLI process) connects with verify-full and exits 1 with the reason on a wrong CA", async () => {
    const cli = join(projectRoot(), "dist", "service", "src", "prediction-log", "migrate-cli.js");
    const ok = await run(process.execPath, [cli], { env: { ...process.env, [ENV.predictionLogUrl]: verifyFull(rightCa) } });
    expect(JSON.parse(ok.stdout)).toMatchObject({ applied: [] });
    const failed = await run(process.execPath, [cli], { env: { ...process.env, [ENV.predictionLogUrl]: verifyFull(wrongCa) } }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/failed: PostgreSQL 127\.0\.0\.1:\d+\/tls_log: the server's certificate is not signed by a CA in sslrootcert=/);
  });
});

describe("a server that does not offer TLS", () => {
  beforeAll(async () => {
    await pg.query("ALTER SYSTEM SET ssl = off");
    await pg.query("SELECT pg_reload_conf()");
    // The postmaster applies the reload asynchronously: wait until a plain connection sees TLS off.
    for (let i = 0; i < 100 && (await pg.query<{ ssl: string }>("SHOW ssl"))[0]!.ssl !== "off"; i++) await new Promise((r) => setTimeout(r, 20));
  });

  it("is refused by sslmode=verify-full with the reason, not a protocol error", async () => {
    await expect(connectAndAskTls(verifyFull(rightCa))).rejects.toThrow(/sslmode=verify-full but the server does not offer TLS; enable ssl on the server or use sslmode=disable/);
  });
});
