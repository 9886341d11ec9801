/**
 * Real Prometheus, Alertmanager and Pushgateway (Debian's binaries) on loopback for tests and benchmarks.
 * Each start* function picks a free port, writes its config into a fresh temp dir, waits until the process
 * answers /-/ready and returns a handle whose stop() ends exactly that process (by PID) and removes the dir.
 */
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, sleep, waitFor } from "./net";

export const BINARIES = {
  prometheus: "prometheus",
  promtool: "promtool",
  alertmanager: "prometheus-alertmanager",
  amtool: "amtool",
  pushgateway: "prometheus-pushgateway",
} as const;

export interface RunningComponent {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Temp dir holding this component's config and data. */
  readonly dir: string;
  /** stdout+stderr so far (for failure messages). */
  log(): string;
  /** SIGTERM, then SIGKILL after 5 s; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A crashed test run must not leave daemons behind holding ports.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

async function startComponent(
  name: string,
  binary: string,
  args: (port: number, dir: string) => string[],
  prepare: (dir: string) => void = () => {},
  readyPath = "/-/ready",
): Promise<RunningComponent> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  prepare(dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(binary, args(port, dir), { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20000);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let exitCode: number | null = null;
  child.once("exit", (code) => {
    exitCode = code ?? -1;
    running.delete(child);
  });
  child.once("error", (error) => {
    output += `\nspawn error: ${error.message}`;
    exitCode = -1;
  });

  let stopped = false;
  const component: RunningComponent = {
    url,
    port,
    pid: child.pid ?? -1,
    dir,
    log: () => output,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 20000;
  for (;;) {
    if (exitCode !== null) {
      await component.stop();
      throw new Error(`${name} exited with ${exitCode} before it was ready:\n${output}`);
    }
    const ok = await fetch(url + readyPath)
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) return component;
    if (Date.now() > deadline) {
      await component.stop();
      throw new Error(`${name} not ready on ${url} within 20 s:\n${output}`);
    }
    await sleep(100);
  }
}

// --------------------------------------------------------------------------------------------------------------
// Prometheus
// --------------------------------------------------------------------------------------------------------------

export interface ScrapeTarget {
  readonly jobName: string;
  /** host:port pairs. */
  readonly targets: readonly string[];
  readonly metricsPath?: string;
  /** Keep labels as pushed (needed for the Pushgateway, whose samples carry their own job/instance). */
  readonly honorLabels?: boolean;
  /** Extra target labels (e.g. namespace, pod), as Kubernetes service discovery would add. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PrometheusOptions {
  readonly scrape?: readonly ScrapeTarget[];
  /** @default "1s" */
  readonly scrapeInterval?: string;
  /** @default "1s" */
  readonly evaluationInterval?: string;
  /** Rules files as YAML text (or objects), written into the temp dir. */
  readonly rules?: readonly (string | Record<string, unknown>)[];
  /** Alertmanager base URLs alerts are sent to. */
  readonly alertmanagers?: readonly string[];
  /**
   * Series to load before start, in OpenMetrics text (ending `# EOF`): written into the TSDB with
   * `promtool tsdb create-blocks-from openmetrics`, so queries see history that was never scraped.
   */
  readonly backfill?: string;
}

/** One series of an instant-vector result. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface RunningPrometheus extends RunningComponent {
  /** Instant query; throws with Prometheus' error text when the query is invalid. */
  query(expr: string, time?: Date): Promise<Sample[]>;
  /** Raw /api/v1/query answer (`data` member), for range or scalar results. */
  queryRaw(expr: string, time?: Date): Promise<{ resultType: string; result: unknown }>;
  /** Waits until `expr` returns at least one series (or `predicate` accepts the result). */
  waitForSeries(expr: string, timeoutMs?: number, predicate?: (samples: Sample[]) => boolean): Promise<Sample[]>;
  /** Current alerts as Prometheus sees them (state pending or firing). */
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }[]>;
  /** Waits until every scrape target reports health "up". */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const scrapeInterval = options.scrapeInterval ?? "1s";
  const component = await startComponent(
    "prometheus",
    BINARIES.prometheus,
    (port, dir) => [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-lifecycle",
      "--log.level=warn",
    ],
    (dir) => {
      const ruleFiles = (options.rules ?? []).map((rules, index) => {
        const file = join(dir, `rules-${index}.yml`);
        writeFileSync(file, typeof rules === "string" ? rules : stringify(rules));
        return file;
      });
      const config: Record<string, unknown> = {
        global: { scrape_interval: scrapeInterval, evaluation_interval: options.evaluationInterval ?? "1s", scrape_timeout: scrapeInterval },
        rule_files: ruleFiles,
        scrape_configs: (options.scrape ?? []).map((target) => ({
          job_name: target.jobName,
          metrics_path: target.metricsPath ?? "/metrics",
          honor_labels: target.honorLabels ?? false,
          static_configs: [{ targets: target.targets, labels: target.labels ?? {} }],
        })),
      };
      if (options.alertmanagers?.length) {
        config.alerting = {
          alertmanagers: [{ static_configs: [{ targets: options.alertmanagers.map((url) => new URL(url).host) }] }],
        };
      }
      writeFileSync(join(dir, "prometheus.yml"), stringify(config));
      if (options.backfill !== undefined) {
        writeFileSync(join(dir, "backfill.om"), options.backfill);
        execFileSync(BINARIES.promtool, ["tsdb", "create-blocks-from", "openmetrics", join(dir, "backfill.om"), join(dir, "data")], { stdio: "pipe" });
      }
    },
  );

  const queryRaw = async (expr: string, time?: Date) => {
    const params = new URLSearchParams({ query: expr });
    if (time) params.set("time", String(time.getTime() / 1000));
    const response = await fetch(`${component.url}/api/v1/query`, { method: "POST", body: params });
    const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: unknown } };
    if (body.status !== "success") throw new Error(`query ${expr} failed: ${body.error}`);
    return body.data;
  };
  const query = async (expr: string, time?: Date): Promise<Sample[]> => {
    const data = await queryRaw(expr, time);
    if (data.resultType === "scalar") {
      const [, value] = data.result as [number, string];
      return [{ metric: {}, value: Number(value) }];
    }
    if (data.resultType !== "vector") throw new Error(`query ${expr} returned ${data.resultType}, expected a vector`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((series) => ({
      metric: series.metric,
      value: Number(series.value[1]),
    }));
  };
  return {
    ...component,
    query,
    queryRaw,
    waitForSeries: (expr, timeoutMs = 30000, predicate = (samples) => samples.length > 0) =>
      waitFor(`series for ${expr}`, async () => {
        const samples = await query(expr);
        return predicate(samples) ? samples : undefined;
      }, timeoutMs),
    async alerts() {
      const response = await fetch(`${component.url}/api/v1/alerts`);
      const body = (await response.json()) as { data: { alerts: { labels: Record<string, string>; annotations: Record<string, string>; state: string }[] } };
      return body.data.alerts;
    },
    async waitForTargetsUp(timeoutMs = 30000) {
      await waitFor("every scrape target up", async () => {
        const response = await fetch(`${component.url}/api/v1/targets`);
        const body = (await response.json()) as { data: { activeTargets: { health: string }[] } };
        const targets = body.data.activeTargets;
        return targets.length > 0 && targets.every((target) => target.health === "up") ? true : undefined;
      }, timeoutMs);
    },
  };
}

// --------------------------------------------------------------------------------------------------------------
// Alertmanager
// --------------------------------------------------------------------------------------------------------------

export interface RunningAlertmanager extends RunningComponent {
  /** Alerts Alertmanager currently holds (API v2). */
  alerts(): Promise<{ labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[]>;
}

/** Starts Alertmanager with `config` (YAML text or object); gossip clustering is disabled. */
export async function startAlertmanager(config: string | Record<string, unknown>): Promise<RunningAlertmanager> {
  const component = await startComponent(
    "alertmanager",
    BINARIES.alertmanager,
    (port, dir) => [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Empty: no gossip listener on *:9094.
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    (dir) => writeFileSync(join(dir, "alertmanager.yml"), typeof config === "string" ? config : stringify(config)),
  );
  return {
    ...component,
    async alerts() {
      const response = await fetch(`${component.url}/api/v2/alerts`);
      return (await response.json()) as { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[];
    },
  };
}

// --------------------------------------------------------------------------------------------------------------
// Pushgateway
// --------------------------------------------------------------------------------------------------------------

export interface RunningPushgateway extends RunningComponent {
  /** host:port, for a Prometheus scrape target. */
  readonly address: string;
  /**
   * Replaces the group {job, ...grouping} with `text` (Prometheus text exposition format), as
   * `PUT /metrics/job/<job>/<label>/<value>...` does.
   */
  push(job: string, grouping: Readonly<Record<string, string>>, text: string): Promise<void>;
  /** Deletes the group. */
  remove(job: string, grouping: Readonly<Record<string, string>>): Promise<void>;
  /** The gateway's own /metrics text (what Prometheus would scrape). */
  scrape(): Promise<string>;
}

/** Group URL path; values with "/" (or empty ones) use the Pushgateway's `label@base64/<base64url>` form. */
export function pushgatewayGroupPath(job: string, grouping: Readonly<Record<string, string>>): string {
  const segment = (name: string, value: string) =>
    value === "" || value.includes("/")
      ? `${name}@base64/${Buffer.from(value).toString("base64url") || "="}`
      : `${name}/${encodeURIComponent(value)}`;
  const segments = [segment("job", job), ...Object.entries(grouping).map(([name, value]) => segment(name, value))];
  return `/metrics/${segments.join("/")}`;
}

export async function startPushgateway(): Promise<RunningPushgateway> {
  const component = await startComponent("pushgateway", BINARIES.pushgateway, (port) => [
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  const send = async (method: string, path: string, body?: string) => {
    const response = await fetch(component.url + path, { method, body, headers: { "content-type": "text/plain; version=0.0.4" } });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  return {
    ...component,
    address: `127.0.0.1:${component.port}`,
    push: (job, grouping, text) => send("PUT", pushgatewayGroupPath(job, grouping), text.endsWith("\n") ? text : `${text}\n`),
    remove: (job, grouping) => send("DELETE", pushgatewayGroupPath(job, grouping)),
    scrape: async () => (await fetch(`${component.url}/metrics`)).text(),
  };
}

// --------------------------------------------------------------------------------------------------------------
// promtool / amtool
// --------------------------------------------------------------------------------------------------------------

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a CLI tool and resolves with its exit code and output (never rejects on a non-zero exit). */
export function runTool(binary: string, args: readonly string[], cwd?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(binary, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: error && typeof error.code !== "number" ? `${stderr}${error.message}` : stderr });
    });
  });
}

export const promtool = (args: readonly string[], cwd?: string) => runTool(BINARIES.promtool, args, cwd);
export const amtool = (args: readonly string[], cwd?: string) => runTool(BINARIES.amtool, args, cwd);
