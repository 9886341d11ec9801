/**
 * `npm run monitoring [-- --out DIR] [--model NAME ...] [--runbook-base-url URL]`: writes the rules, the
 * Alertmanager configuration, the dashboards and the runbooks as plain files, for operators without cdktf.
 *
 *   DIR/prometheus/rules.yml         every rule group (promtool check rules DIR/prometheus/rules.yml)
 *   DIR/prometheus/<name>.prometheusrule.yaml   the same as prometheus-operator PrometheusRule resources
 *   DIR/alertmanager/alertmanager.yml           routes, inhibition, receivers (secrets as *_file paths)
 *   DIR/grafana/<uid>.json           dashboards (Grafana file provisioning or the sidecar)
 *   DIR/runbooks/<model>.md, platform.md
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { EMBEDDED_MODEL_NAME } from "../service/src/contract";
import { modelDashboards, platformDashboards } from "../dashboards";
import { alertmanagerConfig, modelRuleGroups, modelRunbook, platformRuleGroups, platformRunbook, prometheusRule, rulesFile } from ".";

/** Example receivers: the files are where the Alertmanager pod mounts its Secret (see the Observability construct). */
export const EXAMPLE_ALERTMANAGER = alertmanagerConfig({
  page: { name: "oncall-page", pagerDuty: { routingKeyFile: "/etc/alertmanager/secrets/alertmanager-receivers/pagerduty-routing-key" } },
  ticket: {
    name: "team-ticket",
    slack: { apiUrlFile: "/etc/alertmanager/secrets/alertmanager-receivers/slack-webhook-url", channel: "#modelport-alerts" },
  },
});

export interface EmitOptions {
  readonly outDir: string;
  readonly models: readonly string[];
  readonly runbookBaseUrl?: string;
}

/** Writes every artifact; returns the paths written, relative to outDir. */
export function emitMonitoring(options: EmitOptions): string[] {
  const written: string[] = [];
  const write = (path: string, content: string) => {
    const full = join(options.outDir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, content.endsWith("\n") ? content : `${content}\n`);
    written.push(path);
  };
  const alertOptions = { runbookBaseUrl: options.runbookBaseUrl };
  const platform = platformRuleGroups(alertOptions);
  const perModel = options.models.map((model) => ({ model, groups: modelRuleGroups(model, alertOptions) }));
  const yaml = (value: unknown) => stringify(value, { lineWidth: 0 });

  write("prometheus/rules.yml", yaml(rulesFile([...platform, ...perModel.flatMap((entry) => entry.groups)])));
  const resourceLabels = { release: "kube-prometheus-stack", "app.kubernetes.io/part-of": "modelport" };
  write("prometheus/modelport-platform.prometheusrule.yaml", yaml(prometheusRule({ name: "modelport-platform", namespace: "monitoring", labels: resourceLabels }, platform)));
  for (const { model, groups } of perModel) {
    write(`prometheus/modelport-${model}.prometheusrule.yaml`, yaml(prometheusRule({ name: `modelport-${model}`, namespace: "monitoring", labels: resourceLabels }, groups)));
  }
  write("alertmanager/alertmanager.yml", yaml(EXAMPLE_ALERTMANAGER));
  for (const dashboard of [...platformDashboards(alertOptions), ...options.models.flatMap((model) => modelDashboards(model, alertOptions))]) {
    write(`grafana/${dashboard.fileName}`, JSON.stringify(dashboard.json, null, 2));
  }
  for (const model of options.models) write(`runbooks/${model}.md`, modelRunbook(model, alertOptions));
  write("runbooks/platform.md", platformRunbook(alertOptions));
  return written;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "monitoring-out" },
      model: { type: "string", multiple: true },
      "runbook-base-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("usage: npm run monitoring -- [--out DIR] [--model NAME ...] [--runbook-base-url URL]");
    return;
  }
  const outDir = resolve(values.out!);
  const written = emitMonitoring({ outDir, models: values.model?.length ? values.model : [EMBEDDED_MODEL_NAME], runbookBaseUrl: values["runbook-base-url"] });
  console.log(`monitoring: wrote ${written.length} files to ${outDir}`);
  for (const path of written) console.log(`  ${path}`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`monitoring: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
