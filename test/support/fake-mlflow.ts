/**
 * An in-process fake of the MLflow tracking server: exactly the registry reads and the artifact proxy Modelport
 * uses (paths and shapes from service/src/registry/mlflow-api.ts, errors as MLflow words them), serving real
 * model directories from disk. MLflow itself cannot run here; everything else in the hot-reload path is real.
 * Where its answers are not obvious they follow MLflow's source (mlflow/server/handlers.py and the stores it calls,
 * read at 2.x and 3.x), cited per route below: a missing alias is 400, a missing artifact file is 500, POST bodies
 * must be application/json, downloads are chunked and start only after the proxy copied the whole file.
 *
 * ```ts
 * const mlflow = await FakeMlflow.start();
 * const v1 = await mlflow.register("flight-delay", { dir: modelDir, runMetrics: { auc: 0.71 }, tags: { git_commit: "abc" } });
 * mlflow.setAlias("flight-delay", "champion", v1.version);
 * // point the service at MLFLOW_TRACKING_URI=mlflow.url, MODEL_URI=models:/flight-delay@champion
 * mlflow.setAvailability("unavailable");        // every request answers 503
 * mlflow.failTransfer(v2, "model.onnx", "cut"); // the connection drops half way through the file
 * mlflow.setFirstByteDelay(15_000);             // the proxy's copy from the artifact store takes 15 s
 * expect(mlflow.count("modelVersionByAlias")).toBe(3);
 * await mlflow.stop();
 * ```
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { cp, mkdtemp, open, readdir, rm, stat, truncate } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { Readable } from "node:stream";
import {
  MLFLOW_API,
  type MlflowFileInfo,
  type MlflowModelVersion,
  type MlflowRun,
  type ModelVersionStatus,
} from "../../service/src/registry/mlflow-api";
import { MODEL_STAGES, type ModelStage } from "../../service/src/registry/model-uri";
import { MLFLOW_WRITE_API, MLFLOW_WRITE_METHODS, type MlflowWriteEndpoint } from "../../service/src/registry/mlflow-writes";

/** Request counters: the MLflow endpoints by their MLFLOW_API key, the two artifact verbs, and anything else. */
export type FakeMlflowEndpoint =
  | Exclude<keyof typeof MLFLOW_API, "artifacts">
  | "listArtifacts"
  | "downloadArtifact"
  | MlflowWriteEndpoint
  | "unknown";

export type FakeMlflowAuth = { readonly token: string } | { readonly username: string; readonly password: string };

/**
 * How a file download misbehaves: `cut` drops the connection half way (before the last chunk), `short` sends half
 * the file as a complete response, `stall` sends half and then nothing, `trickle` sends one byte every
 * `trickleEveryMs` (5 s by default) for ever, `missing` is a file the store lost (MLflow answers 500).
 */
export type TransferFault = "cut" | "short" | "stall" | "trickle" | "missing";

/** `unavailable`: every request gets 503 (a gateway in front of a dead server); `refusing`: nothing listens. */
export type Availability = "up" | "unavailable" | "refusing";

export interface RegisterOptions {
  /** A model directory, copied into the fake's artifact store and served through the artifact proxy. */
  readonly dir?: string;
  /** Instead of `dir`: the download URI to answer (s3://..., a path), whose files the fake does not serve. */
  readonly artifactUri?: string;
  /** Model-version tags. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Metrics of the run that logged the model. */
  readonly runMetrics?: Readonly<Record<string, number>>;
  readonly runTags?: Readonly<Record<string, string>>;
  readonly runParams?: Readonly<Record<string, string>>;
  /** Register without a source run (run_id absent). @default false */
  readonly withoutRun?: boolean;
  /** @default "READY" */
  readonly status?: ModelVersionStatus;
  /** @default "None" */
  readonly stage?: ModelStage;
  /** Aliases moved to this version. */
  readonly aliases?: readonly string[];
  /**
   * Register from `runs:/<run>/model`, as `mlflow.register_model` does in MLflow 2: the version's source, and so
   * get-download-uri, is that runs:/ URI, which clients resolve through the run's artifact_uri. Needs `dir` and a
   * run. @default false
   */
  readonly fromRunUri?: boolean;
  /**
   * How the stored files' location is spelled (version source, run artifact_uri): `mlflow-artifacts:/<path>` (a
   * server with --serve-artifacts) or `http://<fake>/api/2.0/mlflow-artifacts/artifacts/<path>` (an http artifact
   * root). @default "mlflow-artifacts"
   */
  readonly artifactRoot?: "mlflow-artifacts" | "http";
}

export interface RegisteredVersion {
  readonly name: string;
  readonly version: string;
  readonly runId?: string;
  /** What get-download-uri answers for this version. */
  readonly artifactUri: string;
}

export interface FakeMlflowRequest {
  readonly method: string;
  readonly endpoint: FakeMlflowEndpoint;
  /** Path and query as received. */
  readonly url: string;
  readonly authorization?: string;
  readonly contentType?: string;
}

interface VersionRecord {
  readonly name: string;
  readonly version: string;
  readonly creationTimestamp: number;
  lastUpdatedTimestamp: number;
  stage: ModelStage;
  status: ModelVersionStatus;
  statusMessage?: string;
  readonly runId?: string;
  readonly source: string;
  readonly artifactUri: string;
  /** Where the fake keeps the files, relative to its artifact root (undefined: files stored elsewhere). */
  readonly storedPath?: string;
  readonly tags: Record<string, string>;
}

interface ModelRecord {
  readonly versions: Map<string, VersionRecord>;
  readonly aliases: Map<string, string>;
}

interface RunRecord {
  readonly runId: string;
  readonly artifactUri: string;
  readonly startTime: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
}

const EXPERIMENT_ID = "1";
const JSON_HEADERS = { "content-type": "application/json" };
/** Flask's default mimetype for a plain `Response(text, status)`. */
const FLASK_TEXT_HEADERS = { "content-type": "text/html; charset=utf-8" };
/** MLflow's ARTIFACT_STREAM_CHUNK_SIZE (handlers.py): the proxy yields the copied file in 1 MiB chunks. */
const ARTIFACT_STREAM_CHUNK_SIZE = 1024 * 1024;
/** The anchor of http(s) artifact roots (handlers._get_proxied_run_artifact_destination_path). */
const HTTP_ARTIFACTS_ANCHOR = `${MLFLOW_API.artifacts}/`;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** An exception MLflow's handlers do not catch (not an MlflowException): Flask answers its own 500 page. */
class InternalServerError extends Error {}

interface RouteContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly url: URL;
  readonly query: URLSearchParams;
}

interface FakeRoute {
  readonly endpoint: FakeMlflowEndpoint;
  readonly method: "GET" | "POST" | "DELETE" | "PATCH";
  /** An artifact-proxy route: 503 unless the server serves artifacts (handlers._disable_unless_serve_artifacts). */
  readonly proxy?: boolean;
  /** Returns the JSON body of a 200 answer, or undefined when it wrote the response itself. */
  handle(context: RouteContext): unknown;
}

export class FakeMlflow {
  private readonly models = new Map<string, ModelRecord>();
  private readonly runs = new Map<string, RunRecord>();
  private readonly faults = new Map<string, TransferFault>();
  private readonly log: FakeMlflowRequest[] = [];
  private availability: Availability = "up";
  private latencyMs = 0;
  private firstByteDelayMs = 0;
  private readonly fileFirstByteDelays = new Map<string, number>();
  private copyBytesPerSecond = Infinity;
  private trickleEveryMs = 5000;
  private serveArtifacts: boolean;
  /** Timers of downloads in progress (trickles, first-byte delays), cleared when the fake stops. */
  private readonly transfers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    private readonly port: number,
    /** The fake's artifact store: <root>/<experiment>/<run>/artifacts/model/... */
    private readonly artifactRoot: string,
    private auth: FakeMlflowAuth | undefined,
    private readonly basePath: string,
    serveArtifacts: boolean,
  ) {
    this.serveArtifacts = serveArtifacts;
  }

  /**
   * Listens on 127.0.0.1 on a free port. `basePath` serves the API under a prefix, as behind an ingress
   * (`/mlflow` -> http://127.0.0.1:<port>/mlflow/api/2.0/...). `serveArtifacts: false` is `mlflow server
   * --no-serve-artifacts`: the artifact proxy answers 503.
   */
  static async start(
    options: { readonly auth?: FakeMlflowAuth; readonly basePath?: string; readonly serveArtifacts?: boolean } = {},
  ): Promise<FakeMlflow> {
    const artifactRoot = await mkdtemp(join(tmpdir(), "fake-mlflow-"));
    const server = createServer();
    await listen(server, 0);
    const basePath = (options.basePath ?? "").replace(/\/+$/, "");
    const port = (server.address() as AddressInfo).port;
    const fake = new FakeMlflow(server, port, artifactRoot, options.auth, basePath, options.serveArtifacts ?? true);
    server.on("request", (request, response) => void fake.handle(request, response));
    return fake;
  }

  /** The tracking URI (MLFLOW_TRACKING_URI). */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.basePath}`;
  }

  /** Every request received, in order (rejected ones included). */
  get requests(): readonly FakeMlflowRequest[] {
    return this.log;
  }

  /** Requests received for one endpoint, or in total. */
  count(endpoint?: FakeMlflowEndpoint): number {
    return endpoint ? this.log.filter((r) => r.endpoint === endpoint).length : this.log.length;
  }

  resetCounts(): void {
    this.log.length = 0;
  }

  /** Registers the next version of `name` (creating the model), with a source run unless `withoutRun`. */
  async register(name: string, options: RegisterOptions): Promise<RegisteredVersion> {
    if ((options.dir === undefined) === (options.artifactUri === undefined)) throw new Error("register: give exactly one of dir and artifactUri");
    const model = this.models.get(name) ?? { versions: new Map(), aliases: new Map() };
    this.models.set(name, model);
    const version = String(model.versions.size + 1);
    const runId = options.withoutRun ? undefined : randomBytes(16).toString("hex");
    if (options.fromRunUri && (options.dir === undefined || !runId)) throw new Error("register: fromRunUri needs dir and a run");
    const spell = (path: string) => (options.artifactRoot === "http" ? `${this.url}${HTTP_ARTIFACTS_ANCHOR}${path}` : `mlflow-artifacts:/${path}`);
    let artifactUri = options.artifactUri!;
    let storedPath: string | undefined;
    if (options.dir !== undefined) {
      storedPath = posix.join(EXPERIMENT_ID, runId ?? `registered-${name}-${version}`, "artifacts", "model");
      await cp(options.dir, join(this.artifactRoot, ...storedPath.split("/")), { recursive: true });
      artifactUri = options.fromRunUri ? `runs:/${runId}/model` : spell(storedPath);
    }
    if (runId) {
      this.runs.set(runId, {
        runId,
        artifactUri: spell(posix.join(EXPERIMENT_ID, runId, "artifacts")),
        startTime: Date.now(),
        metrics: options.runMetrics ?? {},
        tags: { "mlflow.runName": `train-${name}-${version}`, ...options.runTags },
        params: options.runParams ?? {},
      });
    }
    const now = Date.now();
    model.versions.set(version, {
      name,
      version,
      creationTimestamp: now,
      lastUpdatedTimestamp: now,
      stage: options.stage ?? "None",
      status: options.status ?? "READY",
      runId,
      source: artifactUri,
      artifactUri,
      storedPath,
      tags: { ...options.tags },
    });
    for (const alias of options.aliases ?? []) this.setAlias(name, alias, version);
    return { name, version, runId, artifactUri };
  }

  /** Points `alias` at `version` (moving it if it pointed elsewhere), as set-registered-model-alias. */
  setAlias(name: string, alias: string, version: string): void {
    this.versionRecord(name, version);
    this.model(name).aliases.set(alias, version);
  }

  deleteAlias(name: string, alias: string): void {
    this.model(name).aliases.delete(alias);
  }

  /** As transition-model-version-stage; `archiveExisting` moves the stage's other versions to Archived. */
  setStage(name: string, version: string, stage: ModelStage, options: { readonly archiveExisting?: boolean } = {}): void {
    const record = this.versionRecord(name, version);
    if (options.archiveExisting && stage !== "None" && stage !== "Archived") {
      for (const other of this.model(name).versions.values()) {
        if (other !== record && other.stage === stage) other.stage = "Archived";
      }
    }
    record.stage = stage;
    record.lastUpdatedTimestamp = Date.now();
  }

  setStatus(name: string, version: string, status: ModelVersionStatus, message?: string): void {
    const record = this.versionRecord(name, version);
    record.status = status;
    record.statusMessage = message;
    record.lastUpdatedTimestamp = Date.now();
  }

  /** Sets one model-version tag (as set-model-version-tag). */
  setTag(name: string, version: string, key: string, value: string): void {
    this.versionRecord(name, version).tags[key] = value;
  }

  /** Forgets a run: runs/get answers RESOURCE_DOES_NOT_EXIST from now on. */
  deleteRun(runId: string): void {
    this.runs.delete(runId);
  }

  /** Truncates a stored artifact file to `bytes` (the listing then reports the new size, as a real store would). */
  async corruptArtifact(version: RegisteredVersion, file: string, bytes = 0): Promise<void> {
    await truncate(this.storedPath(version, file), bytes);
  }

  /** Makes downloads of one file misbehave (see TransferFault); `undefined` heals it. */
  failTransfer(version: RegisteredVersion, file: string, fault: TransferFault | undefined, options: { readonly trickleEveryMs?: number } = {}): void {
    const key = posix.join(this.artifactPath(version), file);
    if (fault) this.faults.set(key, fault);
    else this.faults.delete(key);
    if (options.trickleEveryMs !== undefined) this.trickleEveryMs = options.trickleEveryMs;
  }

  /**
   * Holds every download's first byte back this long: MLflow's proxy copies the whole file from the artifact store
   * into a temp directory before it answers (handlers._download_artifact), so a big file on S3 answers late.
   */
  setFirstByteDelay(ms: number): void {
    this.firstByteDelayMs = ms;
  }

  /** Holds the first byte of one file's downloads back this long (a big file among small ones). */
  delayFirstByte(version: RegisteredVersion, file: string, ms: number): void {
    this.fileFirstByteDelays.set(posix.join(this.artifactPath(version), file), ms);
  }

  /** Adds the proxy's copy time at this rate to every download's first byte, so big files answer later. */
  setArtifactCopyRate(bytesPerSecond: number): void {
    this.copyBytesPerSecond = bytesPerSecond;
  }

  /** `mlflow server --serve-artifacts` (true, the default since MLflow 2.0) or `--no-serve-artifacts`. */
  setServeArtifacts(serve: boolean): void {
    this.serveArtifacts = serve;
  }

  /** Takes the server down (503 or connection refused) or back up on the same port. */
  async setAvailability(availability: Availability): Promise<void> {
    const wasListening = this.availability !== "refusing";
    this.availability = availability;
    if (availability === "refusing" && wasListening) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
    } else if (availability !== "refusing" && !wasListening) {
      await listen(this.server, this.port);
    }
  }

  /** Delays every answer (for timeout tests). */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Requires credentials from now on (undefined: anonymous access). */
  requireAuth(auth: FakeMlflowAuth | undefined): void {
    this.auth = auth;
  }

  async stop(): Promise<void> {
    for (const timer of this.transfers) clearTimeout(timer);
    this.transfers.clear();
    if (this.availability !== "refusing") {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
    }
    this.availability = "refusing";
    await rm(this.artifactRoot, { recursive: true, force: true });
  }

  // --- HTTP ------------------------------------------------------------------------------------------------------------

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    // Requests outside the base path match no endpoint (404), as an ingress would route them elsewhere.
    const inBase = url.pathname.startsWith(`${this.basePath}/`);
    if (inBase) url.pathname = url.pathname.slice(this.basePath.length);
    const endpoint = inBase ? (writeEndpointOf(request.method, url.pathname) ?? endpointOf(url.pathname)) : "unknown";
    this.log.push({
      method: request.method ?? "GET",
      endpoint,
      url: request.url ?? "/",
      authorization: request.headers.authorization,
      contentType: request.headers["content-type"],
    });
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs).unref());
      if (this.availability === "unavailable") {
        response.writeHead(503, { "content-type": "text/plain" }).end("Service Unavailable");
        return;
      }
      if (!this.authorized(request.headers.authorization)) {
        // What MLflow's basic-auth app answers: plain text, not the JSON error shape.
        response
          .writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Basic realm="mlflow"' })
          .end("You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.");
        return;
      }
      await this.route(endpoint, request, url, response);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (!(error instanceof HttpError)) {
        const detail = "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.";
        response.writeHead(500, FLASK_TEXT_HEADERS).end(flaskPage(500, "Internal Server Error", detail));
        return;
      }
      response.writeHead(error.status, JSON_HEADERS).end(JSON.stringify({ error_code: error.errorCode, message: error.message }));
    }
  }

  /**
   * What the fake serves, one entry per endpoint and method, in MLflow's order of checks (handlers.py wraps each
   * handler in catch_mlflow_exception, then _disable_unless_serve_artifacts for the proxy). Add endpoints here.
   */
  private readonly routes: readonly FakeRoute[] = [
    // _get_model_version_by_alias -> SqlAlchemyStore.get_model_version_by_alias: looks up (name, alias) alone, so a
    // missing alias of an unknown model reads the same: INVALID_PARAMETER_VALUE (400), the model is not checked.
    { endpoint: "modelVersionByAlias", method: "GET", handle: ({ query }) => this.modelVersionByAlias(query) },
    // _get_latest_versions answers GET (query) and POST (JSON body, content type checked) alike.
    { endpoint: "latestVersions", method: "GET", handle: ({ query }) => this.latestVersions({ name: query.get("name") ?? undefined, stages: query.getAll("stages") }) },
    { endpoint: "latestVersions", method: "POST", handle: async ({ request }) => this.latestVersions(await readJson(request)) },
    { endpoint: "modelVersion", method: "GET", handle: ({ query }) => ({ model_version: this.toJson(this.versionRecord(required(query, "name"), versionParameter(query))) }) },
    // SqlAlchemyStore.get_model_version_download_uri: `storage_location or source`, verbatim (runs:/ included).
    { endpoint: "modelVersionDownloadUri", method: "GET", handle: ({ query }) => ({ artifact_uri: this.versionRecord(required(query, "name"), versionParameter(query)).artifactUri }) },
    { endpoint: "run", method: "GET", handle: ({ query }) => this.getRun(query) },
    // _list_artifacts_mlflow_artifacts: basenames of one level; a missing directory lists as empty.
    { endpoint: "listArtifacts", method: "GET", proxy: true, handle: async ({ query }) => this.listArtifacts(query) },
    { endpoint: "downloadArtifact", method: "GET", proxy: true, handle: ({ url, response }) => this.download(artifactPathOf(url), response) },
  ];

  private async route(endpoint: FakeMlflowEndpoint, request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> {
    if (isWriteEndpoint(endpoint)) return this.routeWrite(endpoint, request, response);
    const method = request.method ?? "GET";
    const candidates = this.routes.filter((r) => r.endpoint === endpoint);
    // Flask's own pages for an unknown route or method, as MLflow answers them: HTML, not the JSON error shape.
    if (candidates.length === 0) return void response.writeHead(404, FLASK_TEXT_HEADERS).end(flaskPage(404, "Not Found", ""));
    const route = candidates.find((r) => r.method === method);
    if (!route) return void response.writeHead(405, FLASK_TEXT_HEADERS).end(flaskPage(405, "Method Not Allowed", "The method is not allowed for the requested URL."));
    if (route.proxy && !this.serveArtifacts) {
      // handlers._disable_unless_serve_artifacts: a plain Response (Flask's text/html), status 503.
      const rule = endpoint === "downloadArtifact" ? `${MLFLOW_API.artifacts}/<path:artifact_path>` : MLFLOW_API.artifacts;
      response
        .writeHead(503, FLASK_TEXT_HEADERS)
        .end(
          `Endpoint: ${rule} disabled due to the mlflow server running with \`--no-serve-artifacts\`. ` +
            "To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`",
        );
      return;
    }
    const body = await route.handle({ request, response, url, query: url.searchParams });
    if (body !== undefined) response.writeHead(200, JSON_HEADERS).end(JSON.stringify(body));
  }

  private modelVersionByAlias(query: URLSearchParams): unknown {
    const name = required(query, "name");
    const alias = required(query, "alias");
    const version = this.models.get(name)?.aliases.get(alias);
    if (version === undefined) throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Registered model alias ${alias} not found.`);
    return { model_version: this.toJson(this.versionRecord(name, version)) };
  }

  private latestVersions(body: Record<string, unknown>): unknown {
    const name = body.name;
    if (typeof name !== "string" || name === "") throw missingParameter("name");
    const requested = Array.isArray(body.stages) && body.stages.length > 0 ? (body.stages as unknown[]) : [...MODEL_STAGES];
    const stages = requested.map((s) => {
      const stage = MODEL_STAGES.find((known) => typeof s === "string" && known.toLowerCase() === s.toLowerCase());
      if (!stage) throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Invalid Model Version stage: ${String(s)}. Value must be one of ${MODEL_STAGES.join(", ")}.`);
      return stage;
    });
    const latest = stages
      .map((stage) => [...this.model(name).versions.values()].filter((v) => v.stage === stage).sort((a, b) => Number(b.version) - Number(a.version))[0])
      .filter((v): v is VersionRecord => v !== undefined);
    return latest.length > 0 ? { model_versions: latest.map((v) => this.toJson(v)) } : {};
  }

  private getRun(query: URLSearchParams): unknown {
    const runId = query.get("run_id") || query.get("run_uuid");
    if (!runId) throw missingParameter("run_id");
    const run = this.runs.get(runId);
    if (!run) throw new HttpError(404, "RESOURCE_DOES_NOT_EXIST", `Run with id=${runId} not found`);
    return { run: runJson(run) };
  }

  private async listArtifacts(query: URLSearchParams): Promise<unknown> {
    const files = await this.list(safePath(query.get("path") ?? ""));
    return files.length > 0 ? { files } : {};
  }

  private async list(path: string): Promise<MlflowFileInfo[]> {
    const dir = join(this.artifactRoot, ...path.split("/").filter(Boolean));
    // MLflow lists a missing directory as empty rather than failing.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    return Promise.all(
      entries
        .sort((a, b) => a.name.localeCompare(b.name))
        .map(async (entry) =>
          entry.isDirectory()
            ? { path: entry.name, is_dir: true }
            : { path: entry.name, is_dir: false, file_size: (await stat(join(dir, entry.name))).size },
        ),
    );
  }

  /**
   * handlers._download_artifact: the artifact repository first copies the whole file into a temp directory (the
   * first-byte delay here), then a generator yields it in 1 MiB chunks, so the answer is chunked, without
   * Content-Length. A file the store lacks makes download_artifacts raise OSError, which catch_mlflow_exception
   * (it catches MlflowException only) lets through: Flask's 500 page.
   */
  private async download(path: string, response: ServerResponse): Promise<void> {
    const file = join(this.artifactRoot, ...path.split("/"));
    const size = await stat(file).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
    const fault = this.faults.get(path);
    const copyMs = size === undefined ? 0 : (size / this.copyBytesPerSecond) * 1000;
    const delayMs = this.firstByteDelayMs + (this.fileFirstByteDelays.get(path) ?? 0) + copyMs;
    if (!(await this.wait(delayMs, response))) return;
    if (size === undefined || fault === "missing") throw new InternalServerError();
    // handlers._response_with_file_attachment_headers
    response.writeHead(200, {
      "content-type": mimeType(path),
      "content-disposition": `attachment; filename=${posix.basename(path)}`,
      "x-content-type-options": "nosniff",
    });
    if (fault === "trickle") return this.trickle(file, size, response);
    const end = fault === undefined ? size : Math.floor(size / 2);
    const source = end > 0 ? createReadStream(file, { start: 0, end: end - 1, highWaterMark: ARTIFACT_STREAM_CHUNK_SIZE }) : Readable.from([]);
    response.once("close", () => source.destroy());
    // `short` ends cleanly after half the file; `cut` then drops the connection; `stall` leaves it open.
    source.pipe(response, { end: fault === undefined || fault === "short" });
    if (fault === "cut") source.once("end", () => response.socket?.destroy());
  }

  /** One byte every trickleEveryMs until the file is sent or the client gives up. */
  private trickle(file: string, size: number, response: ServerResponse): void {
    let offset = 0;
    const next = () => {
      readByte(file, offset).then(
        (byte) => {
          if (response.destroyed) return;
          response.write(byte);
          if (++offset >= size) return void response.end();
          this.schedule(next, this.trickleEveryMs, response);
        },
        () => response.destroy(), // the fake stopped and removed its store
      );
    };
    next();
  }

  /** Resolves true after `ms`, false at once if the client hung up meanwhile. */
  private wait(ms: number, response: ServerResponse): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.schedule(() => resolve(!response.destroyed), ms, response, () => resolve(false));
    });
  }

  private schedule(run: () => void, ms: number, response: ServerResponse, onClose?: () => void): void {
    const timer = setTimeout(() => {
      this.transfers.delete(timer);
      response.off("close", cancel);
      run();
    }, ms);
    const cancel = () => {
      clearTimeout(timer);
      this.transfers.delete(timer);
      onClose?.();
    };
    this.transfers.add(timer);
    response.once("close", cancel);
  }

  // --- registry writes (alias moves and version tags, as promotion and rollback make them) ---------------------
  // Behaviour from mlflow/server/handlers.py (_set_registered_model_alias, _delete_registered_model_alias,
  // _set_model_version_tag), server/validation.py (Content-Type) and the SQLAlchemy registry store: POST bodies
  // must be application/json, string fields must be strings, versions integers, aliases neither `latest` nor
  // `v<digits>`; a missing version is RESOURCE_DOES_NOT_EXIST (404); deleting an absent alias is not an error.
  // Every success answers `{}`.

  private writesFailing = false;

  /** Makes every registry write answer 503 while reads keep working (a store that went read-only). */
  failWrites(failing: boolean): void {
    this.writesFailing = failing;
  }

  private async routeWrite(endpoint: MlflowWriteEndpoint, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.writesFailing) throw new HttpError(503, "TEMPORARILY_UNAVAILABLE", "The registry store is not accepting writes");
    const method = request.method ?? "GET";
    if (method === "POST") checkJsonContentType(request.headers["content-type"]);
    const body = await readLenientJson(request);
    if (endpoint === "setAlias") {
      const [name, alias, version] = requiredStrings(body, ["name", "alias", "version"]);
      validateAliasName(alias);
      this.setAlias(name, alias, this.writableVersion(name, integerVersion(version)).version);
    } else if (endpoint === "deleteAlias") {
      const [name, alias] = requiredStrings(body, ["name", "alias"]);
      validateAliasName(alias);
      this.model(name).aliases.delete(alias);
    } else {
      const [name, version, key] = requiredStrings(body, ["name", "version", "key"]);
      const value = body.value ?? "";
      if (typeof value !== "string") throw invalidType("value", value);
      const record = this.writableVersion(name, integerVersion(version));
      validateTag(key, value);
      record.tags[key] = value;
    }
    response.writeHead(200, JSON_HEADERS).end("{}");
  }

  /** The store's _get_sql_model_version: one message whether the model or only the version is missing. */
  private writableVersion(name: string, version: string): VersionRecord {
    const record = this.models.get(name)?.versions.get(version);
    if (!record) throw new HttpError(404, "RESOURCE_DOES_NOT_EXIST", `Model Version (name=${name}, version=${version}) not found`);
    return record;
  }

  private authorized(header: string | undefined): boolean {
    if (!this.auth) return true;
    if ("token" in this.auth) return header === `Bearer ${this.auth.token}`;
    return header === `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString("base64")}`;
  }

  private model(name: string): ModelRecord {
    const model = this.models.get(name);
    if (!model) throw new HttpError(404, "RESOURCE_DOES_NOT_EXIST", `Registered Model with name=${name} not found`);
    return model;
  }

  private versionRecord(name: string, version: string): VersionRecord {
    const record = this.model(name).versions.get(version);
    if (!record) throw new HttpError(404, "RESOURCE_DOES_NOT_EXIST", `Model Version (name=${name}, version=${version}) not found`);
    return record;
  }

  private artifactPath(version: RegisteredVersion): string {
    const stored = this.versionRecord(version.name, version.version).storedPath;
    if (stored === undefined) throw new Error(`${version.name} v${version.version} is not stored by the fake (artifactUri ${version.artifactUri})`);
    return stored;
  }

  private storedPath(version: RegisteredVersion, file: string): string {
    return join(this.artifactRoot, ...this.artifactPath(version).split("/"), ...file.split("/"));
  }

  /** A ModelVersion as MLflow serialises it: empty repeated fields are omitted (proto3 JSON). */
  private toJson(record: VersionRecord): MlflowModelVersion {
    const tags = Object.entries(record.tags).map(([key, value]) => ({ key, value }));
    const aliases = [...this.model(record.name).aliases].filter(([, v]) => v === record.version).map(([alias]) => alias);
    return {
      name: record.name,
      version: record.version,
      creation_timestamp: record.creationTimestamp,
      last_updated_timestamp: record.lastUpdatedTimestamp,
      current_stage: record.stage,
      description: "",
      user_id: "",
      source: record.source,
      ...(record.runId ? { run_id: record.runId } : {}),
      status: record.status,
      ...(record.statusMessage ? { status_message: record.statusMessage } : {}),
      ...(tags.length > 0 ? { tags } : {}),
      ...(aliases.length > 0 ? { aliases } : {}),
    };
  }
}

function runJson(run: RunRecord): MlflowRun {
  const pairs = (record: Readonly<Record<string, string>>) => Object.entries(record).map(([key, value]) => ({ key, value }));
  return {
    info: {
      run_id: run.runId,
      run_uuid: run.runId,
      run_name: run.tags["mlflow.runName"],
      experiment_id: EXPERIMENT_ID,
      user_id: "",
      status: "FINISHED",
      start_time: run.startTime,
      end_time: run.startTime + 1,
      artifact_uri: run.artifactUri,
      lifecycle_stage: "active",
    },
    data: {
      // Non-finite metric values travel as strings in MLflow's JSON.
      metrics: Object.entries(run.metrics).map(([key, value]) => ({ key, value: Number.isFinite(value) ? value : String(value), timestamp: run.startTime, step: 0 })),
      params: pairs(run.params),
      tags: pairs(run.tags),
    },
  };
}

function endpointOf(pathname: string): FakeMlflowEndpoint {
  if (pathname === MLFLOW_API.artifacts) return "listArtifacts";
  if (pathname.startsWith(`${MLFLOW_API.artifacts}/`)) return "downloadArtifact";
  const entry = Object.entries(MLFLOW_API).find(([, path]) => path === pathname);
  return entry ? (entry[0] as FakeMlflowEndpoint) : "unknown";
}

function missingParameter(name: string): HttpError {
  return new HttpError(400, "INVALID_PARAMETER_VALUE", `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (!value) throw missingParameter(name);
  return value;
}

function versionParameter(query: URLSearchParams): string {
  const version = required(query, "version");
  if (!/^\d+$/.test(version)) throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Model version must be an integer, got '${version}'`);
  return String(Number(version));
}

/** As MLflow's validate_path_is_safe: relative, no "..", no backslashes. */
function safePath(path: string): string {
  const segments = path.split("/").filter((s) => s !== "");
  if (path.startsWith("/") || path.includes("\\") || segments.some((s) => s === ".." || s === ".")) {
    throw new HttpError(400, "INVALID_PARAMETER_VALUE", "Invalid path");
  }
  return segments.join("/");
}

/**
 * handlers._get_request_json: mlflow/server/validation._validate_content_type refuses a POST whose Content-Type
 * (parameters dropped) is not application/json, naming what it got when that is safe to echo; the body is then
 * read with get_json(force=True, silent=True), so JSON that does not parse counts as an empty request.
 */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const contentType = request.headers["content-type"]?.split(";")[0];
  if (contentType !== "application/json") {
    const got = contentType !== undefined && /^[a-zA-Z0-9\-/;,+_ ]*$/.test(contentType) ? ` Got '${contentType}'.` : "";
    throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Bad Request. Content-Type must be one of [application/json].${got}`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // silent=True: an unparsable body is no body
  }
  return {};
}

/** The path after /mlflow-artifacts/artifacts/, checked as handlers.validate_path_is_safe does. */
function artifactPathOf(url: URL): string {
  return safePath(decodeURIComponent(url.pathname.slice(MLFLOW_API.artifacts.length + 1)));
}

/** werkzeug's HTML error page, which Flask (and so MLflow) answers for errors outside its own JSON shape. */
function flaskPage(status: number, title: string, detail: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n${detail ? `<p>${detail}</p>\n` : ""}`;
}

/** mlflow.utils.mime_type_utils._guess_mime_type, for the file kinds a model directory holds. */
function mimeType(path: string): string {
  if (path.endsWith(".json")) return "application/json";
  if (path.endsWith(".txt")) return "text/plain";
  return "application/octet-stream";
}

async function readByte(file: string, offset: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    return byte;
  } finally {
    await handle.close();
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

// --- registry writes: request parsing and validation as MLflow does it --------------------------------------------

function writeEndpointOf(method: string | undefined, pathname: string): MlflowWriteEndpoint | undefined {
  const entry = (Object.keys(MLFLOW_WRITE_API) as MlflowWriteEndpoint[]).find(
    (key) => MLFLOW_WRITE_API[key] === pathname && MLFLOW_WRITE_METHODS[key] === method,
  );
  return entry;
}

function isWriteEndpoint(endpoint: FakeMlflowEndpoint): endpoint is MlflowWriteEndpoint {
  return endpoint in MLFLOW_WRITE_API;
}

function checkJsonContentType(contentType: string | undefined): void {
  if (contentType === undefined) throw new HttpError(400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.");
  if (contentType.split(";")[0].trim() !== "application/json") {
    throw new HttpError(400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type must be one of ['application/json'].");
  }
}

/** flask's get_json(force=True, silent=True): a body that is not JSON counts as empty. */
async function readLenientJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function invalidType(name: string, value: unknown): HttpError {
  const type = typeof value === "number" ? (Number.isInteger(value) ? "int" : "float") : typeof value === "boolean" ? "bool" : Array.isArray(value) ? "list" : "dict";
  return new HttpError(
    400,
    "INVALID_PARAMETER_VALUE",
    `Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied:  Hint: Value was of type '${type}'. See the API docs for more information about request parameters.`,
  );
}

/** The handlers' schema [_assert_string, _assert_required], checked in the schema's order. */
function requiredStrings(body: Record<string, unknown>, names: readonly string[]): string[] {
  return names.map((name) => {
    const value = body[name];
    if (value === undefined || value === null || value === "") throw missingParameter(name);
    if (typeof value !== "string") throw invalidType(name, value);
    return value;
  });
}

function integerVersion(version: string): string {
  if (!/^\s*[-+]?\d+\s*$/.test(version)) throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Parameter 'version' must be an integer, got '${version}'.`);
  return String(Number(version));
}

function validateAliasName(alias: string): void {
  if (!/^[\w-]*$/.test(alias)) {
    throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  }
  if (alias.length > 255) throw new HttpError(400, "INVALID_PARAMETER_VALUE", "'Registered model alias name' exceeds the maximum length of 255 characters");
  if (alias.toLowerCase() === "latest") throw new HttpError(400, "INVALID_PARAMETER_VALUE", "'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Version alias name '${alias}' is reserved.`);
}

function validateTag(key: string, value: string): void {
  const normalized = posix.normalize(key);
  if (!/^[/\w.\- :]*$/.test(key)) {
    throw new HttpError(
      400,
      "INVALID_PARAMETER_VALUE",
      `Invalid value ${JSON.stringify(key)} for parameter 'key' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  if (normalized !== key || normalized === "." || normalized.startsWith("..") || normalized.startsWith("/")) {
    throw new HttpError(400, "INVALID_PARAMETER_VALUE", `Invalid value ${JSON.stringify(key)} for parameter 'key' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${normalized}'`);
  }
  if (key.length > 250) throw new HttpError(400, "INVALID_PARAMETER_VALUE", "'key' exceeds the maximum length of 250 characters");
  if (value.length > 5000) throw new HttpError(400, "INVALID_PARAMETER_VALUE", "'value' exceeds the maximum length of 5000 characters");
}
