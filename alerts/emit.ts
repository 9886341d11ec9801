/**
 * `npm run monitoring [-- --out DIR] [--model NAME [--task TASK] ...] [--runbook-base-url URL]`: writes the rules,
 * the Alertmanager configuration, the dashboards and the runbooks as plain files, for operators without cdktf.
 * A `--task` applies to the `--model` before it (binary when absent).
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
import { EMBEDDED_MODEL_NAME, TASKS, isTask, type Task } from "../service/src/contract";
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

/** One model to generate monitoring for. */
export interface EmittedModel {
  readonly name: string;
  /** @default "binary" */
  readonly task?: Task;
}

export interface EmitOptions {
  readonly outDir: string;
  readonly models: readonly (string | EmittedModel)[];
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
  const models = options.models.map((entry) => (typeof entry === "string" ? { name: entry } : entry));
  const optionsOf = (model: EmittedModel) => ({ ...alertOptions, task: model.task });
  const perModel = models.map((model) => ({ model: model.name, groups: modelRuleGroups(model.name, optionsOf(model)) }));
  const yaml = (value: unknown) => stringify(value, { lineWidth: 0 });

  write("prometheus/rules.yml", yaml(rulesFile([...platform, ...perModel.flatMap((entry) => entry.groups)])));
  const resourceLabels = { release: "kube-prometheus-stack", "app.kubernetes.io/part-of": "modelport" };
  write("prometheus/modelport-platform.prometheusrule.yaml", yaml(prometheusRule({ name: "modelport-platform", namespace: "monitoring", labels: resourceLabels }, platform)));
  for (const { model, groups } of perModel) {
    write(`prometheus/modelport-${model}.prometheusrule.yaml`, yaml(prometheusRule({ name: `modelport-${model}`, namespace: "monitoring", labels: resourceLabels }, groups)));
  }
  write("alertmanager/alertmanager.yml", yaml(EXAMPLE_ALERTMANAGER));
  for (const dashboard of [...platformDashboards(alertOptions), ...models.flatMap((model) => modelDashboards(model.name, optionsOf(model)))]) {
    write(`grafana/${dashboard.fileName}`, JSON.stringify(dashboard.json, null, 2));
  }
  for (const model of models) write(`runbooks/${model.name}.md`, modelRunbook(model.name, optionsOf(model)));
  write("runbooks/platform.md", platformRunbook(alertOptions));
  return written;
}

const USAGE = `usage: npm run monitoring -- [--out DIR] [--model NAME [--task ${TASKS.join("|")}] ...] [--runbook-base-url URL]`;

/** `--model a --task regression --model b`: each --task belongs to the --model before it. */
export function modelsFromArgs(argv: readonly string[]): EmittedModel[] {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { out: { type: "string" }, model: { type: "string", multiple: true }, task: { type: "string", multiple: true }, "runbook-base-url": { type: "string" }, help: { type: "boolean", short: "h" } },
    tokens: true,
  });
  const models: { name: string; task?: Task }[] = [];
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (token.name === "model") models.push({ name: token.value! });
    if (token.name !== "task") continue;
    const last = models[models.length - 1];
    if (!last) throw new Error(`--task ${token.value} must follow the --model it belongs to`);
    if (last.task) throw new Error(`--model ${last.name} has two --task options`);
    if (!isTask(token.value)) throw new Error(`--task ${token.value}: expected one of ${TASKS.join(", ")}`);
    last.task = token.value;
  }
  return models;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "monitoring-out" },
      model: { type: "string", multiple: true },
      task: { type: "string", multiple: true },
      "runbook-base-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const outDir = resolve(values.out!);
  const models = modelsFromArgs(process.argv.slice(2));
  const written = emitMonitoring({ outDir, models: models.length ? models : [EMBEDDED_MODEL_NAME], runbookBaseUrl: values["runbook-base-url"] });
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
