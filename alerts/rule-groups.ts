/** Turns alert definitions into Prometheus rule groups: one group per concern, runbook links on every alert. */
import { TASKS, isTask, type Task } from "../service/src/contract";
import { canaryAlerts } from "./rules/canary";
import { driftAlerts } from "./rules/drift";
import { gpuAlerts } from "./rules/gpu";
import { predictionLogAlerts } from "./rules/prediction-log";
import { qualityAlerts } from "./rules/quality";
import { modelRecordingRules } from "./rules/recording";
import { serviceAlerts } from "./rules/service";
import {
  AlertDefinition,
  AlertOptions,
  AlertRule,
  DEFAULT_MODEL_THRESHOLDS,
  DEFAULT_PLATFORM_THRESHOLDS,
  DEFAULT_RUNBOOK_BASE_URL,
  DEFAULT_TASK,
  ModelAlertThresholds,
  ModelMonitoringOptions,
  PlatformAlertThresholds,
  RuleGroup,
  RunbookPage,
} from "./types";

/** Runbook page file name (without base URL) of a model's service or of the platform. */
export const runbookFileName = (page: RunbookPage) => (page.kind === "model" ? `${page.model}.md` : "platform.md");
/** Anchor of an alert's section in its runbook page (GitHub-style heading slug). */
export const runbookAnchor = (alertName: string) => alertName.toLowerCase();

export function runbookPageUrl(page: RunbookPage, options: AlertOptions = {}): string {
  const base = (options.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL).replace(/\/+$/, "");
  return `${base}/${runbookFileName(page)}`;
}

export function runbookUrl(page: RunbookPage, alertName: string, options: AlertOptions = {}): string {
  return `${runbookPageUrl(page, options)}#${runbookAnchor(alertName)}`;
}

export function modelThresholds(options: AlertOptions = {}): ModelAlertThresholds {
  const thresholds = { ...DEFAULT_MODEL_THRESHOLDS, ...options.thresholds };
  for (const [name, threshold] of Object.entries(thresholds)) {
    if (!Number.isFinite(threshold) || threshold < 0) {
      throw new Error(`alert threshold ${name} must be a finite number >= 0, got ${threshold}`);
    }
  }
  if (thresholds.hitRateRelativeDrop >= 1) {
    throw new Error(`alert threshold hitRateRelativeDrop is a fraction of the baseline (0.1 = 10%), got ${thresholds.hitRateRelativeDrop}`);
  }
  return thresholds;
}

export function platformThresholds(options: AlertOptions = {}): PlatformAlertThresholds {
  const thresholds = { ...DEFAULT_PLATFORM_THRESHOLDS, ...options.platformThresholds };
  if (!(thresholds.gpuMemoryUsedRatio > 0 && thresholds.gpuMemoryUsedRatio <= 1)) {
    throw new Error(`gpuMemoryUsedRatio must be in (0, 1], got ${thresholds.gpuMemoryUsedRatio}`);
  }
  if (!Number.isFinite(thresholds.gpuTemperatureCelsius)) {
    throw new Error(`gpuTemperatureCelsius must be a number of °C, got ${thresholds.gpuTemperatureCelsius}`);
  }
  return thresholds;
}

// Prometheus label values may hold anything, but the model name also becomes a rule-group name, a file name
// and a URL path segment: keep it to what Kubernetes and MLflow names allow in practice.
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$/;
export function checkModelName(model: string): void {
  if (!MODEL_NAME.test(model)) {
    throw new Error(`model name ${JSON.stringify(model)} must match ${MODEL_NAME} (letters, digits, '.', '_', '-')`);
  }
}

/** The model's task, checked: a task the contract does not know fails here rather than as a missing panel. */
export function modelTask(options: ModelMonitoringOptions = {}): Task {
  const task = options.task ?? DEFAULT_TASK;
  if (!isTask(task)) throw new Error(`model task ${JSON.stringify(task)} must be one of ${TASKS.join(", ")}`);
  return task;
}

/** One model's alerts grouped by concern, in the order the runbook lists them. */
export function modelAlertGroups(model: string, options: ModelMonitoringOptions = {}): { name: string; alerts: AlertDefinition[] }[] {
  checkModelName(model);
  const t = modelThresholds(options);
  const task = modelTask(options);
  return [
    { name: "service", alerts: serviceAlerts(model, t) },
    { name: "quality", alerts: qualityAlerts(model, task, t) },
    { name: "drift", alerts: driftAlerts(model, t, task) },
    { name: "canary", alerts: canaryAlerts(model, t) },
  ];
}

export function platformAlertGroups(options: AlertOptions = {}): { name: string; alerts: AlertDefinition[] }[] {
  const t = platformThresholds(options);
  return [
    { name: "prediction-log", alerts: predictionLogAlerts() },
    { name: "gpu", alerts: gpuAlerts(t) },
  ];
}

export function toAlertRule(alert: AlertDefinition, page: RunbookPage, options: AlertOptions): AlertRule {
  return {
    alert: alert.name,
    expr: alert.expr,
    for: alert.for,
    labels: { severity: alert.severity, ...alert.labels },
    annotations: {
      summary: alert.summary,
      description: alert.description,
      runbook_url: runbookUrl(page, alert.name, options),
    },
  };
}

/**
 * A model's recording rules and the alerts that read them share one group: Prometheus runs a group's rules in
 * order, so every alert sees this evaluation's recorded values (across groups it could see the previous one,
 * or none once the evaluation interval exceeds the 5-minute lookback). Drift alerts read pushed series only.
 * Every rule also carries the model as a static label (the value its expression already yields), so the rules
 * of many models in one Prometheus are distinct to promtool's duplicate-rules lint.
 */
export function buildModelRuleGroups(model: string, options: ModelMonitoringOptions = {}): RuleGroup[] {
  const page: RunbookPage = { kind: "model", model };
  const alertGroups = modelAlertGroups(model, options);
  const ofModel = { model };
  const alertsOf = (names: readonly string[]) =>
    alertGroups
      .filter((group) => names.includes(group.name))
      .flatMap((group) => group.alerts.map((alert) => toAlertRule({ ...alert, labels: { ...ofModel, ...alert.labels } }, page, options)));
  const recording = modelRecordingRules(model, modelTask(options)).map((rule) => ({ ...rule, labels: { ...ofModel, ...rule.labels } }));
  return [
    { name: `modelport-${model}`, rules: [...recording, ...alertsOf(["service", "quality", "canary"])] },
    { name: `modelport-${model}-drift`, rules: alertsOf(["drift"]) },
  ];
}

export function buildPlatformRuleGroups(options: AlertOptions = {}): RuleGroup[] {
  const page: RunbookPage = { kind: "platform" };
  return platformAlertGroups(options).map(({ name, alerts }) => ({
    name: `modelport-platform-${name}`,
    rules: alerts.map((alert) => toAlertRule(alert, page, options)),
  }));
}
