/**
 * A real PostgreSQL (Debian's postgresql package) for tests and benchmarks: a throwaway cluster in a temp dir,
 * listening on loopback only, on a free port, with password authentication so wrong-credential paths are real.
 *
 *   const pg = await TestPostgres.start();
 *   const url = await pg.createDatabase("drift");   // postgres://postgres:<password>@127.0.0.1:<port>/drift
 *   await pg.stop("immediate"); await pg.start();   // outage: same port, same data dir
 *   await pg.destroy();                             // in afterAll: stop by PID, delete the directory
 *
 * initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` system user via runuser and the
 * temp dir is made world-readable (mkdtemp gives 0700) so that user can reach the data directory inside it; as any
 * other user they run as that user, on a directory it already owns.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, chmodSync, chownSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { freePort } from "./net";

const run = promisify(execFile);

/** How pg_ctl's shutdown modes map to postmaster signals (we signal the PID directly: no runuser round trip). */
const STOP_SIGNALS = { smart: "SIGTERM", fast: "SIGINT", immediate: "SIGQUIT" } as const;
export type StopMode = keyof typeof STOP_SIGNALS;

export interface TestPostgresOptions {
  /** Extra `postgresql.conf` settings (name -> value), e.g. `{ max_connections: "20" }`. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** Running clusters, killed when the test process exits even if afterAll never ran. */
const running = new Set<TestPostgres>();
process.once("exit", () => {
  for (const pg of running) pg.killSync();
});

export class TestPostgres {
  /** Superuser name; the password is random per cluster. */
  readonly user = "postgres";
  readonly password = randomBytes(12).toString("hex");
  readonly host = "127.0.0.1";
  private pid: number | undefined;

  private constructor(
    readonly rootDir: string,
    readonly port: number,
  ) {}

  /** initdb + start. Retries on another port if the chosen one was taken in the meantime. */
  static async start(options: TestPostgresOptions = {}): Promise<TestPostgres> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const rootDir = mkdtempSync(join(tmpdir(), "pg-"));
      const pg = new TestPostgres(rootDir, await freePort());
      try {
        await pg.init(options);
        await pg.start();
        return pg;
      } catch (error) {
        lastError = error;
        await pg.destroy();
      }
    }
    throw lastError;
  }

  get dataDir(): string {
    return join(this.rootDir, "data");
  }

  private get logFile(): string {
    return join(this.rootDir, "postgres.log");
  }

  /** Connection URL for a database (default `postgres`), optionally with other credentials. */
  url(database = "postgres", credentials: { user?: string; password?: string } = {}): string {
    const user = encodeURIComponent(credentials.user ?? this.user);
    const password = encodeURIComponent(credentials.password ?? this.password);
    return `postgres://${user}:${password}@${this.host}:${this.port}/${database}`;
  }

  /** Creates a fresh database (isolates test files sharing a cluster) and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name must match [a-z_][a-z0-9_]*, got "${name}"`);
    await this.query(`CREATE DATABASE ${name}`);
    return this.url(name);
  }

  /** One-off query as the superuser (setup and assertions). */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    database = "postgres",
  ): Promise<R[]> {
    const client = new Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** The postmaster's pid while the cluster runs (benchmarks read its CPU time). */
  get serverPid(): number {
    if (this.pid === undefined) throw new Error("postgres is not running");
    return this.pid;
  }

  /** Starts (or restarts, after stop) the cluster on the same port and data directory; resolves when it accepts connections. */
  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    try {
      await runPg("pg_ctl", ["-D", this.dataDir, "-l", this.logFile, "-w", "-t", "30", "start"]);
    } catch (error) {
      throw new Error(`postgres failed to start on port ${this.port}: ${(error as Error).message}\n${this.logTail()}`);
    }
    this.pid = Number(readFileSync(join(this.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    running.add(this);
  }

  /**
   * Stops the postmaster by PID and waits until it is gone. `immediate` is a crash as far as clients see it
   * (connections cut, recovery on next start); `fast` is a clean shutdown.
   */
  async stop(mode: StopMode = "fast"): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, STOP_SIGNALS[mode]);
    } catch {
      // already gone
    }
    const deadline = Date.now() + 30_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) process.kill(pid, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // postmaster.pid can outlive an immediate stop for a moment; pg_ctl start handles a stale one.
    this.pid = undefined;
    running.delete(this);
  }

  /** Stops the cluster and deletes its directory. Safe to call twice. */
  async destroy(): Promise<void> {
    await this.stop("immediate");
    rmSync(this.rootDir, { recursive: true, force: true });
  }

  /** Last lines of the server log, for failure messages. */
  logTail(lines = 30): string {
    if (!existsSync(this.logFile)) return "(no postgres log)";
    return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** @internal exit-hook path: no await possible there. */
  killSync(): void {
    if (this.pid !== undefined && isAlive(this.pid)) process.kill(this.pid, "SIGQUIT");
  }

  private async init(options: TestPostgresOptions): Promise<void> {
    const pwFile = join(this.rootDir, "pwfile");
    writeFileSync(pwFile, `${this.password}\n`, { mode: 0o600 });
    if (RUN_AS_POSTGRES) {
      chmodSync(this.rootDir, 0o755);
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(this.rootDir, uid, gid);
      chownSync(pwFile, uid, gid);
    }
    await runPg("initdb", [
      "-D", this.dataDir, "-U", this.user, "--pwfile", pwFile,
      "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
      "--encoding=UTF8", "--locale=C", "--no-sync",
    ]);
    rmSync(pwFile);
    const settings: Record<string, string> = {
      port: String(this.port),
      listen_addresses: `'${this.host}'`,
      // No Unix socket: nothing outside the test should find this cluster, and socket paths have a length limit.
      unix_socket_directories: "''",
      // Tests and benchmarks measure the service, not the disk. synchronous_commit stays on: with it off, an
      // immediate stop (outage tests) loses commits the client was told about, which no test should mistake
      // for a bug; with fsync off it costs a write() to the page cache, not a disk flush.
      fsync: "off",
      full_page_writes: "off",
      shared_buffers: "32MB",
      max_connections: "100",
      ...options.settings,
    };
    const conf = Object.entries(settings).map(([name, value]) => `${name} = ${value}`).join("\n");
    writeFileSync(join(this.dataDir, "postgresql.conf"), `${readFileSync(join(this.dataDir, "postgresql.conf"), "utf8")}\n${conf}\n`);
  }
}

/** initdb and pg_ctl refuse root: as root they run as Debian's `postgres` system user. */
const RUN_AS_POSTGRES = process.getuid?.() === 0;

function runPg(name: string, args: readonly string[]) {
  return RUN_AS_POSTGRES ? run("runuser", ["-u", "postgres", "--", pgBin(name), ...args]) : run(pgBin(name), [...args]);
}

/** A PostgreSQL program (psql, initdb, ...) from Debian's newest installed version. */
export function pgBin(name: string): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const path = join(base, version, "bin", name);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} not found under ${base}: install Debian's postgresql package (apt-get install postgresql)`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
