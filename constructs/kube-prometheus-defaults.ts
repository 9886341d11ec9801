/**
 * What kube-prometheus-stack's default `alertmanager.config` (values.yaml) does and ours must restate: Helm merges maps
 * but replaces lists, so a config that sets `receivers`, `route.routes` or `inhibit_rules` drops the chart's. Without
 * these, Watchdog (the always-firing dead man's switch), InfoInhibitor and info-level noise reach a real receiver.
 * test/stacks/alertmanager-config.test.ts checks these against the vendored values.yaml of the pinned chart.
 */

/** A receiver with no integrations: notifications routed here go nowhere. */
export const NULL_RECEIVER = "null";

/** Alerts the chart's rules raise for Alertmanager's own logic, never for people. */
export const SILENT_ALERTS = ["Watchdog", "InfoInhibitor"] as const;

/** The chart's default inhibit rules, verbatim. */
export const CHART_INHIBIT_RULES = [
  { source_matchers: ["severity = critical"], target_matchers: ["severity =~ warning|info"], equal: ["namespace", "alertname"] },
  { source_matchers: ["severity = warning"], target_matchers: ["severity = info"], equal: ["namespace", "alertname"] },
  { source_matchers: ["alertname = InfoInhibitor"], target_matchers: ["severity = info"], equal: ["namespace"] },
  { target_matchers: ["alertname = InfoInhibitor"] },
];

type Config = Record<string, unknown> & {
  route: Record<string, unknown> & { routes?: unknown[] };
  receivers: { name: string }[];
  inhibit_rules?: unknown[];
};

/** Our Alertmanager config with the chart default's null receiver, silent routes and inhibit rules kept. */
export function withChartDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const c = config as Config;
  if (c.receivers.some((r) => r.name === NULL_RECEIVER)) {
    throw new Error(`Alertmanager receiver name "${NULL_RECEIVER}" is reserved for the receiver that notifies nobody`);
  }
  const silent = SILENT_ALERTS.map((alertname) => ({ receiver: NULL_RECEIVER, matchers: [`alertname="${alertname}"`] }));
  return {
    ...c,
    route: { ...c.route, routes: [...silent, ...(c.route.routes ?? [])] },
    inhibit_rules: [...(c.inhibit_rules ?? []), ...CHART_INHIBIT_RULES],
    receivers: [{ name: NULL_RECEIVER }, ...c.receivers],
  };
}
