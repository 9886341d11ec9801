/**
 * A small MLflow REST client: the registry reads and the artifact proxy, nothing else. Every request carries the
 * configured credentials and a deadline; every failure becomes a ModelSourceError naming what was asked for.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { ENV } from "../contract";
import { ModelSourceError } from "./errors";
import {
  MLFLOW_API,
  type DownloadUriResponse,
  type LatestVersionsResponse,
  type ListArtifactsResponse,
  type MlflowFileInfo,
  type MlflowModelVersion,
  type MlflowRun,
  type ModelVersionResponse,
  type RunResponse,
} from "./mlflow-api";
import type { ModelStage } from "./model-uri";
import { ABORTED, type TransferGuard } from "./transfer";

export interface MlflowConnection {
  /** Tracking server base URL, possibly with a path prefix: http://mlflow:5000 or https://host/mlflow. */
  readonly trackingUri: string;
  /** Sent as `Authorization: Bearer` unless username and password are set (MLflow's own precedence). */
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
  /** Deadline for each registry request. */
  readonly timeoutMs: number;
}

interface RequestOptions {
  /** What was asked, for error messages: `alias "champion" of model "flight-delay"`. */
  readonly what: string;
  /** Message for RESOURCE_DOES_NOT_EXIST / 404, which is the common configuration mistake. */
  readonly notFound?: string;
  readonly method?: "GET" | "POST" | "DELETE";
  readonly query?: Record<string, string>;
  readonly body?: unknown;
  /** Aborts the request besides its deadline (a superseded reload). */
  readonly signal?: AbortSignal;
  /** Base URL to send to instead of the tracking server's (mlflow-artifacts://host/..., http artifact roots). */
  readonly base?: string;
}

/** Bytes of an error answer's body read for its message. */
const ERROR_BODY_LIMIT = 64 * 1024;

export class MlflowClient {
  private readonly base: URL;
  private readonly authorization?: string;

  constructor(private readonly connection: MlflowConnection) {
    this.base = new URL(connection.trackingUri.replace(/\/+$/, ""));
    if (connection.username !== undefined && connection.password !== undefined) {
      this.authorization = `Basic ${Buffer.from(`${connection.username}:${connection.password}`).toString("base64")}`;
    } else if (connection.token) {
      this.authorization = `Bearer ${connection.token}`;
    }
  }

  get trackingUri(): string {
    return this.base.href;
  }

  /**
   * MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE "Registered model alias X not found." without
   * checking that the model exists (SqlAlchemyStore.get_model_version_by_alias), so the message says both.
   */
  async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion> {
    const body = await this.json<ModelVersionResponse>(MLFLOW_API.modelVersionByAlias, {
      what: `alias "${alias}" of model "${name}"`,
      notFound: `model "${name}" has no alias "${alias}"`,
      query: { name, alias },
    }).catch((error: unknown) => {
      if (!(error instanceof ModelSourceError && error.errorCode === "INVALID_PARAMETER_VALUE" && /alias .* not found/i.test(error.message))) throw error;
      const server = /: (Registered model alias .*)$/.exec(error.message)?.[1] ?? error.message;
      throw new ModelSourceError(`model "${name}" has no alias "${alias}", or no model "${name}" is registered (MLflow: ${server})`, error.errorCode, error.status);
    });
    return checkModelVersion(body?.model_version, `alias "${alias}" of model "${name}"`);
  }

  /** The newest version in each of `stages` (every stage when omitted), as MLflow's get-latest-versions. */
  async getLatestVersions(name: string, stages?: readonly ModelStage[]): Promise<MlflowModelVersion[]> {
    const what = `latest versions of model "${name}"${stages ? ` in ${stages.join(", ")}` : ""}`;
    const body = await this.json<LatestVersionsResponse>(MLFLOW_API.latestVersions, {
      what,
      notFound: `model "${name}" is not registered`,
      method: "POST",
      body: stages ? { name, stages } : { name },
    });
    if (body?.model_versions !== undefined && !Array.isArray(body.model_versions)) {
      throw new ModelSourceError(`MLflow answered ${what} without a model_versions array`, "BAD_RESPONSE");
    }
    return (body?.model_versions ?? []).map((v) => checkModelVersion(v, what));
  }

  async getModelVersion(name: string, version: string): Promise<MlflowModelVersion> {
    const body = await this.json<ModelVersionResponse>(MLFLOW_API.modelVersion, {
      what: `version ${version} of model "${name}"`,
      notFound: `model "${name}" has no version ${version}`,
      query: { name, version },
    });
    return checkModelVersion(body?.model_version, `version ${version} of model "${name}"`);
  }

  async getDownloadUri(name: string, version: string): Promise<string> {
    const what = `download URI of model "${name}" version ${version}`;
    const body = await this.json<DownloadUriResponse>(MLFLOW_API.modelVersionDownloadUri, {
      what,
      notFound: `model "${name}" has no version ${version}`,
      query: { name, version },
    });
    if (typeof body?.artifact_uri !== "string" || body.artifact_uri === "") {
      throw new ModelSourceError(`MLflow answered the ${what} without an artifact_uri`, "BAD_RESPONSE");
    }
    return body.artifact_uri;
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const body = await this.json<RunResponse>(MLFLOW_API.run, {
      what: `run ${runId}`,
      notFound: `run ${runId} does not exist`,
      query: { run_id: runId },
    });
    if (!body?.run?.info || !body.run.data) throw new ModelSourceError(`MLflow answered run ${runId} without run.info and run.data`, "BAD_RESPONSE");
    return body.run;
  }

  /** Lists one directory level through the artifact proxy; `path` is relative to the artifact root. */
  async listArtifacts(path: string, base?: string, signal?: AbortSignal): Promise<MlflowFileInfo[]> {
    const body = await this.json<ListArtifactsResponse>(MLFLOW_API.artifacts, {
      what: `artifact listing of ${path}`,
      notFound: `artifact directory ${path} does not exist`,
      query: { path },
      base,
      signal,
    });
    const files = body?.files ?? [];
    if (!Array.isArray(files) || files.some((f) => typeof f?.path !== "string")) {
      throw new ModelSourceError(`MLflow answered the artifact listing of ${path} without a files array of {path, is_dir}`, "BAD_RESPONSE");
    }
    return files;
  }

  /**
   * Opens one artifact file through the proxy for streaming, under `guard`: node:http rather than fetch, because
   * the guard needs the moments the connection is up and the answer starts (the proxy answers only after copying
   * the whole file from its store, and the answer is chunked, without Content-Length).
   */
  openArtifact(path: string, guard: TransferGuard, base?: string): Promise<IncomingMessage> {
    const encoded = path.split("/").map(encodeURIComponent).join("/");
    const options: RequestOptions = { what: `download of artifact ${path}`, notFound: `artifact ${path} does not exist`, base };
    const url = this.url(`${MLFLOW_API.artifacts}/${encoded}`, options);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(url, { headers: this.headers(options), signal: guard.signal }, (response) => {
        guard.responded();
        if (response.statusCode === 200) return resolve(response);
        readText(response, ERROR_BODY_LIMIT).then(
          (text) => reject(this.httpError(response.statusCode ?? 0, text, url.pathname, options)),
          reject,
        );
      });
      request.once("socket", (socket) => {
        if (!socket.connecting) return guard.connected(); // a kept-alive connection
        socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () => guard.connected());
      });
      request.once("error", reject);
      request.end();
    });
  }

  /** Sends one request and parses its JSON answer; shared with the registry writes (mlflow-writes.ts). */
  protected async json<T>(endpoint: string, options: RequestOptions): Promise<T | undefined> {
    const signal = this.deadline(options);
    const response = await this.send(endpoint, options, signal);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.transportError(error, options, signal);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ModelSourceError(`MLflow answered ${options.what} with a body that is not JSON: ${text.slice(0, 120)}`, "BAD_RESPONSE", response.status);
    }
  }

  private async send(endpoint: string, options: RequestOptions, signal = this.deadline(options)): Promise<Response> {
    const url = this.url(endpoint, options);
    let response: Response;
    try {
      response = await fetch(url, {
        method: options.method ?? "GET",
        headers: this.headers(options),
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
    } catch (error) {
      throw this.transportError(error, options, signal);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw this.httpError(response.status, text, new URL(response.url || url).pathname, options);
    }
    return response;
  }

  /** The request's deadline, and the caller's signal when it gave one. */
  private deadline(options: RequestOptions): AbortSignal {
    const deadline = AbortSignal.timeout(this.connection.timeoutMs);
    return options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  }

  private url(endpoint: string, options: RequestOptions): URL {
    const url = new URL(options.base ?? this.base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, "")}${endpoint}`;
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    return url;
  }

  private headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.authorization) headers.authorization = this.authorization;
    // handlers._get_request_json refuses a POST body that is not declared application/json.
    if (options.body !== undefined) headers["content-type"] = "application/json";
    return headers;
  }

  private transportError(error: unknown, options: RequestOptions, signal: AbortSignal): ModelSourceError {
    const where = `MLflow at ${new URL(options.base ?? this.base.href).origin}`;
    if (options.signal?.aborted) return new ModelSourceError(`the ${options.what} was abandoned`, ABORTED, undefined, { cause: error });
    if (signal.aborted) {
      return new ModelSourceError(`${where} did not answer the ${options.what} within ${this.connection.timeoutMs} ms`, "TIMEOUT", undefined, { cause: error });
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    return new ModelSourceError(`${where} is unreachable during the ${options.what} (${reason})`, "UNAVAILABLE", undefined, { cause: error });
  }

  private httpError(status: number, text: string, path: string, options: RequestOptions): ModelSourceError {
    let body: { error_code?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Proxies, load balancers and MLflow's basic-auth app answer in plain text or HTML.
    }
    const serverMessage = typeof body.message === "string" ? body.message : text.replace(/\s+/g, " ").trim().slice(0, 200);
    const code = typeof body.error_code === "string" ? body.error_code : codeForStatus(status);
    if (status === 401 || status === 403) {
      const hint = `set ${ENV.mlflowTrackingToken} or ${ENV.mlflowTrackingUsername}/${ENV.mlflowTrackingPassword}`;
      const problem = this.authorization ? "rejected the credentials" : `requires credentials (${hint})`;
      return new ModelSourceError(
        `MLflow at ${this.base.origin} ${problem} for the ${options.what} (HTTP ${status}): ${serverMessage}`,
        status === 401 ? "UNAUTHENTICATED" : "PERMISSION_DENIED",
        status,
      );
    }
    if (status === 404 && typeof body.error_code !== "string") {
      // No MLflow error body: the path itself is unknown (wrong base URL, a proxy, or an MLflow without the endpoint).
      return new ModelSourceError(
        `${new URL(options.base ?? this.base.href).origin} has no endpoint ${path} (HTTP 404) for the ${options.what}: ` +
          `check that ${ENV.mlflowTrackingUri} is the tracking server's base URL, and that MLflow is 2.3 or newer (model aliases)`,
        "ENDPOINT_NOT_FOUND",
        status,
      );
    }
    if (status === 503 && /--no-serve-artifacts/.test(text)) {
      // handlers._disable_unless_serve_artifacts: the server proxies no artifacts at all.
      return new ModelSourceError(
        `MLflow at ${new URL(options.base ?? this.base.href).origin} runs with --no-serve-artifacts and cannot serve the ${options.what}: ` +
          "start it with --serve-artifacts (the ModelRegistry construct does), or register versions whose artifacts are on s3://",
        "ARTIFACTS_NOT_SERVED",
        status,
      );
    }
    if (code === "RESOURCE_DOES_NOT_EXIST" && options.notFound) {
      return new ModelSourceError(`${options.notFound} (MLflow: ${serverMessage || `HTTP ${status}`})`, code, status);
    }
    return new ModelSourceError(`MLflow answered the ${options.what} with HTTP ${status} ${code}: ${serverMessage}`, code, status);
  }
}

function codeForStatus(status: number): string {
  if (status === 429 || status >= 500) return "UNAVAILABLE";
  if (status === 404) return "RESOURCE_DOES_NOT_EXIST";
  return "INVALID_PARAMETER_VALUE";
}

/** Checks the fields Modelport relies on; tolerates a numeric version (older servers, other implementations). */
function checkModelVersion(value: unknown, what: string): MlflowModelVersion {
  const mv = value as { name?: unknown; version?: unknown } | undefined;
  if (!mv || typeof mv.name !== "string" || (typeof mv.version !== "string" && typeof mv.version !== "number")) {
    throw new ModelSourceError(`MLflow answered the ${what} without a model_version {name, version}`, "BAD_RESPONSE");
  }
  return { ...(mv as MlflowModelVersion), version: String(mv.version) };
}

/** Up to `limit` bytes of a response body as text (an error page's head is enough for a message). */
async function readText(response: IncomingMessage, limit: number): Promise<string> {
  let text = "";
  for await (const chunk of response) {
    text += (chunk as Buffer).toString("utf8");
    if (text.length >= limit) {
      response.destroy();
      break;
    }
  }
  return text;
}
