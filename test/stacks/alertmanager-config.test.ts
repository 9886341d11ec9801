// The Alertmanager configuration as kube-prometheus-stack will run it: our `alertmanager.config` coalesced by Helm
// onto the chart's default (test/fixtures/charts/kube-prometheus-stack/<version>/values.yaml). Helm merges maps but
// replaces lists, so whatever the chart's receivers, routes and inhibit rules did must survive in ours: Watchdog (the
// always-firing dead man's switch) and InfoInhibitor must reach a receiver that notifies nobody.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { CHARTS } from "../../constructs/versions";
import { ENVIRONMENTS, PLATFORM_NAMES, platformStackName } from "../../stacks";
import { Json, wrap } from "../constructs/support/harness";
import { amtool } from "../support/prometheus";
import { chartFixture, helmMerge } from "./support/charts";
import { synthAll } from "./support/synth";

const chart = chartFixture(CHARTS.kubePrometheusStack.chart, CHARTS.kubePrometheusStack.version);
const chartConfig = chart.values.alertmanager.config as Json;
const all = synthAll(Object.values(ENVIRONMENTS));
const envs = Object.values(ENVIRONMENTS).map((e) => e.name);

/** The config Alertmanager will load in an environment. */
function mergedConfig(env: string): Json {
  const release = wrap(all.get(platformStackName(env))!).resources("helm_release").find((r) => r.name === PLATFORM_NAMES.prometheusRelease)!;
  const values = parse(release.values[0]) as Json;
  return (helmMerge(chart.values, values) as Json).alertmanager.config;
}

/**
 * amtool 0.25 (Debian) predates `url_file` (Alertmanager >= 0.26, which the chart runs): the same config with each
 * url_file swapped for a placeholder URL, so the rest of it is checked by the real tool.
 */
function forAmtool0_25(config: Json): Json {
  return JSON.parse(JSON.stringify(config), (key, value) =>
    value && typeof value === "object" && "url_file" in value ? { ...value, url_file: undefined, url: "http://receiver.invalid/" } : value,
  );
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "am-merged-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function routeOf(config: Json, ...labels: string[]): Promise<string> {
  const file = join(dir, `am-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, stringify(forAmtool0_25(config)));
  const result = await amtool(["config", "routes", "test", `--config.file=${file}`, ...labels]);
  if (result.code !== 0) throw new Error(`amtool config routes test failed: ${result.stderr}`);
  return result.stdout.trim();
}

describe.each(envs)("%s: Alertmanager config after Helm's merge with the chart defaults", (env) => {
  const config = mergedConfig(env);
  const receivers = ENVIRONMENTS[env as keyof typeof ENVIRONMENTS].observability.receivers;

  it("passes amtool check-config", async () => {
    const file = join(dir, `check-${env}.yml`);
    writeFileSync(file, stringify(forAmtool0_25(config)));
    const result = await amtool(["check-config", file]);
    expect(result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("keeps a receiver that notifies nobody", () => {
    expect(config.receivers).toContainEqual({ name: "null" });
  });

  it.each(["Watchdog", "InfoInhibitor"])("routes %s to the null receiver", async (alertname) => {
    expect(await routeOf(config, `alertname=${alertname}`, "severity=none")).toBe("null");
  });

  it("keeps every inhibit rule of the chart's default", () => {
    for (const rule of chartConfig.inhibit_rules as Json[]) expect(config.inhibit_rules).toContainEqual(rule);
  });

  it("still routes pages and tickets by severity", async () => {
    expect(await routeOf(config, "alertname=ModelNotLoaded", "severity=page", "model=flight-delay")).toBe(receivers.page.name);
    expect(await routeOf(config, "alertname=HighLatency", "severity=ticket", "model=flight-delay")).toBe(receivers.ticket.name);
  });
});
