/**
 * Instant queries against the Prometheus HTTP API (POST /api/v1/query, form-encoded), evaluated at one fixed
 * time so every gate looks at the same window. An empty result is data ("no series"), never an error; an
 * unreachable server or a refused query is a PromotionError that stops the run before anything changes.
 */
import { PromotionError } from "./errors";

export interface PrometheusSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PrometheusConnection {
  /** Base URL, possibly with a path prefix: http://kps-prometheus.monitoring:9090 or https://host/prometheus. */
  readonly url: string;
  /** @default 10000 */
  readonly timeoutMs?: number;
  /** Sent as `Authorization: Bearer` (a Prometheus behind an authenticating proxy). */
  readonly bearerToken?: string;
}

interface QueryResponse {
  readonly status: "success" | "error";
  readonly errorType?: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: unknown };
}

export class PrometheusClient {
  private readonly endpoint: URL;

  constructor(private readonly connection: PrometheusConnection) {
    const base = new URL(connection.url.replace(/\/+$/, ""));
    this.endpoint = new URL(`${base.pathname.replace(/\/+$/, "")}/api/v1/query`, base);
  }

  /** Instant vector at `time`; a scalar answer comes back as one sample without labels. */
  async query(expr: string, time: Date): Promise<PrometheusSample[]> {
    const body = await this.post(expr, time);
    const data = body.data;
    if (data?.resultType === "scalar") return [{ labels: {}, value: Number((data.result as [number, string])[1]) }];
    if (data?.resultType !== "vector" || !Array.isArray(data.result)) {
      throw new PromotionError(`Prometheus answered ${expr} with a ${data?.resultType ?? "missing"} result, expected an instant vector`, "PROMETHEUS_QUERY");
    }
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((series) => ({
      labels: series.metric,
      value: Number(series.value[1]),
    }));
  }

  private async post(expr: string, time: Date): Promise<QueryResponse> {
    const timeoutMs = this.connection.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (this.connection.bearerToken) headers.authorization = `Bearer ${this.connection.bearerToken}`;
    const form = new URLSearchParams({ query: expr, time: String(time.getTime() / 1000) });
    const where = `Prometheus at ${this.endpoint.origin}`;
    let response: Response;
    try {
      response = await fetch(this.endpoint, { method: "POST", headers, body: form, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      const reason = (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : cause;
      throw new PromotionError(`${where} is unreachable (${reason}); nothing was changed`, "PROMETHEUS_UNAVAILABLE", { cause: error });
    }
    const text = await response.text();
    let body: QueryResponse | undefined;
    try {
      body = JSON.parse(text) as QueryResponse;
    } catch {
      body = undefined;
    }
    // 400 (bad_data) and 422 (execution) carry Prometheus' error JSON; 503 (unavailable, timeout) and proxies may not.
    if (response.status >= 500 || response.status === 429) {
      throw new PromotionError(`${where} answered HTTP ${response.status} for ${expr}: ${body?.error ?? text.slice(0, 200)}`, "PROMETHEUS_UNAVAILABLE");
    }
    if (!body || body.status !== "success") {
      const detail = body?.error ? `${body.errorType}: ${body.error}` : `HTTP ${response.status} ${text.slice(0, 200)}`;
      throw new PromotionError(`${where} refused the query ${expr} (${detail})`, "PROMETHEUS_QUERY");
    }
    return body;
  }
}
