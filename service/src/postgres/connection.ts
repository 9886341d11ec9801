/**
 * A `postgres://` URL -> node-postgres client options, with libpq's sslmode semantics so the same URL means the same
 * thing to this service, psql and MLflow's psycopg2:
 *
 * | sslmode     | TLS | server certificate checked against sslrootcert | host name checked |
 * | ----------- | --- | ---------------------------------------------- | ----------------- |
 * | (absent), disable | no | - | - |
 * | require     | yes | only if sslrootcert is given (then as verify-ca) | no |
 * | verify-ca   | yes | yes | no |
 * | verify-full | yes | yes | yes |
 *
 * `sslrootcert=system` trusts Node's bundled CAs. node-postgres parses sslmode itself differently (its `require`
 * verifies unless `uselibpqcompat`), so sslmode, sslrootcert, sslcert and sslkey are taken out of the URL and handed to
 * it as explicit `ssl` options. Configuration mistakes and TLS failures surface, when connecting, as errors that say
 * which setting to change, never with the password.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Client, type ClientConfig, type PoolConfig } from "pg";

export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly SslMode[] = ["disable", "require", "verify-ca", "verify-full"];
const TLS_PARAMS = ["sslmode", "sslrootcert", "sslcert", "sslkey", "uselibpqcompat"] as const;

/** A URL whose TLS settings cannot work; raised when connecting, so it degrades what uses it instead of crashing. */
export class PostgresConfigError extends Error {
  override readonly name = "PostgresConfigError";
}

export interface PostgresTls {
  /** The effective mode (absent sslmode means disable, as node-postgres has always done). */
  readonly sslmode: SslMode;
  /** The CA file the server certificate is checked against, when any. */
  readonly sslrootcert?: string;
}

/** host:port/database of a URL, never its credentials. */
export function describePostgresTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(unparseable postgres URL)";
  }
}

/** The TLS settings a URL asks for (throws PostgresConfigError when they cannot work). */
export function postgresTls(url: string): PostgresTls & { readonly ssl: false | ConnectionOptions; readonly connectionString: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PostgresConfigError("the database URL is not a URL: expected postgres://user:password@host:port/database[?sslmode=verify-full&sslrootcert=/path/ca.pem]");
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new PostgresConfigError(`the database URL must start with postgres:// or postgresql://, got ${parsed.protocol}//`);
  }
  const params = parsed.searchParams;
  const mode = params.get("sslmode") ?? "disable";
  const rootCert = params.get("sslrootcert") ?? undefined;
  for (const name of TLS_PARAMS) params.delete(name);
  const connectionString = parsed.toString();
  const target = describePostgresTarget(url);
  if (mode === "prefer" || mode === "allow") {
    throw new PostgresConfigError(
      `sslmode=${mode} (${target}) is not supported: node-postgres cannot fall back between TLS and plain connections; ` +
        "use sslmode=verify-full with sslrootcert, require, or disable",
    );
  }
  if (!SSL_MODES.includes(mode as SslMode)) {
    throw new PostgresConfigError(`sslmode=${mode} (${target}) is not a PostgreSQL sslmode: use disable, require, verify-ca or verify-full`);
  }
  const sslmode = mode as SslMode;
  if (sslmode === "disable") return { sslmode, connectionString, ssl: false };
  const verifies = sslmode === "verify-ca" || sslmode === "verify-full" || rootCert !== undefined;
  if (!verifies) return { sslmode, connectionString, ssl: { rejectUnauthorized: false } };
  if (rootCert === undefined) {
    throw new PostgresConfigError(
      `sslmode=${sslmode} (${target}) needs sslrootcert=<file>: the CA certificate(s) that signed the server's certificate ` +
        "(on RDS, the region's CA bundle), or sslrootcert=system for the system's trusted CAs",
    );
  }
  const ssl: ConnectionOptions = rootCert === "system" ? {} : { ca: readCaFile(rootCert, target) };
  // verify-ca, and require with a CA (libpq: "behaves like verify-ca"), check the chain but not the host name.
  if (sslmode !== "verify-full") ssl.checkServerIdentity = () => undefined;
  return { sslmode, sslrootcert: rootCert, connectionString, ssl };
}

/** Options for `new Pool(...)`: the URL's connection settings and TLS, and a client whose connect errors say why. */
export function postgresPoolConfig(url: string): PoolConfig {
  // pg's typings declare a zero-argument constructor; pg-pool calls `new Client(options)`.
  return { ...postgresClientConfig(url), Client: PostgresClient as unknown as PoolConfig["Client"] };
}

/** Options for `new PostgresClient(...)` (or pg's Client, without the clearer errors). */
export function postgresClientConfig(url: string): ClientConfig {
  try {
    const tls = postgresTls(url);
    return { connectionString: tls.connectionString, ssl: tls.ssl, ...tlsMarker(tls) };
  } catch (error) {
    if (!(error instanceof PostgresConfigError)) throw error;
    // Keep the URL (for host/port in messages) but fail at connect time, like an unreachable server would.
    return { connectionString: stripTlsParams(url), ...configErrorMarker(error) };
  }
}

/**
 * pg's Client, except that connect() fails with a PostgresConfigError when the URL's TLS settings cannot work, and a
 * TLS failure names the setting behind it (the CA in sslrootcert, the host name, a server without TLS).
 */
export class PostgresClient extends Client {
  private readonly tlsInfo?: PostgresTls;
  private readonly configError?: PostgresConfigError;
  private readonly target: string;

  constructor(config: ClientConfig) {
    super(config);
    const marked = config as Marked;
    this.tlsInfo = marked[TLS_INFO];
    this.configError = marked[CONFIG_ERROR];
    this.target = describePostgresTarget(config.connectionString ?? "");
  }

  override connect(): Promise<Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<Client> | void {
    const connecting: Promise<unknown> = this.configError ? Promise.reject(this.configError) : super.connect();
    const explained = connecting.then(
      () => this as Client,
      (error: unknown) => {
        throw explainConnectionError(error, this.target, this.tlsInfo);
      },
    );
    if (!callback) return explained;
    const done = callback as (err: Error | null, client?: Client) => void;
    explained.then((client) => done(null, client), (error: Error) => done(error));
  }
}

/** A connection error restated with the TLS setting that caused it; other errors unchanged. */
export function explainConnectionError(error: unknown, target: string, tls?: PostgresTls): unknown {
  // Duck-typed: errors from Node's TLS layer may come from another realm (a test runner's sandbox), failing instanceof.
  if (typeof error !== "object" || error === null || error instanceof PostgresConfigError) return error;
  const { code = "", message = "" } = error as { code?: string; message?: string };
  const ca = tls?.sslrootcert ? `sslrootcert=${tls.sslrootcert}` : "the trusted CAs";
  let why: string | undefined;
  if (UNTRUSTED_CHAIN.has(code)) {
    why = `the server's certificate is not signed by a CA in ${ca} (${code}: ${message}); point sslrootcert at the CA that issued it`;
  } else if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    why = `the server's certificate is not valid for the host in the URL (${message}); connect by a name the certificate lists, or use sslmode=verify-ca`;
  } else if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    why = `the server's certificate is outside its validity period (${code})`;
  } else if (/does not support SSL/i.test(message)) {
    why = `sslmode=${tls?.sslmode ?? "require"} but the server does not offer TLS; enable ssl on the server or use sslmode=disable`;
  } else if (code === "28000" && /no encryption/i.test(message)) {
    why = `the server accepts this login over TLS only (${message}); add sslmode=verify-full&sslrootcert=<CA file> to the URL`;
  }
  if (!why) return error;
  const explained = new Error(`PostgreSQL ${target}: ${why}`, { cause: error });
  (explained as NodeJS.ErrnoException).code = code;
  return explained;
}

const UNTRUSTED_CHAIN = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
]);

type ConnectCallback = ((err: Error) => void) | ((err: null, client: Client) => void);

const TLS_INFO = Symbol("postgres tls");
const CONFIG_ERROR = Symbol("postgres config error");
type Marked = ClientConfig & { [TLS_INFO]?: PostgresTls; [CONFIG_ERROR]?: PostgresConfigError };
const tlsMarker = (tls: PostgresTls) => ({ [TLS_INFO]: { sslmode: tls.sslmode, sslrootcert: tls.sslrootcert } });
const configErrorMarker = (error: PostgresConfigError) => ({ [CONFIG_ERROR]: error, ssl: false as const });

function stripTlsParams(url: string): string {
  try {
    const parsed = new URL(url);
    for (const name of TLS_PARAMS) parsed.searchParams.delete(name);
    return parsed.toString();
  } catch {
    return url;
  }
}

function readCaFile(path: string, target: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new PostgresConfigError(`sslrootcert ${path} (${target}) cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new PostgresConfigError(`sslrootcert ${path} (${target}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  return pem;
}
