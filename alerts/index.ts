/**
 * Alert rules, Alertmanager configuration and runbooks as code: the public surface consumed by constructs/
 * (PrometheusRule resources, Alertmanager values) and by `npm run monitoring` (files for operators without cdktf).
 */
import { buildModelRuleGroups, buildPlatformRuleGroups } from "./rule-groups";
import type { AlertOptions, ModelMonitoringOptions, RuleGroup } from "./types";

export type {
  AlertDefinition,
  AlertOptions,
  AlertRule,
  ModelAlertThresholds,
  ModelMonitoringOptions,
  PlatformAlertThresholds,
  RecordingRule,
  RuleGroup,
  RunbookPage,
  Severity,
} from "./types";
export { DEFAULT_MODEL_THRESHOLDS, DEFAULT_PLATFORM_THRESHOLDS, DEFAULT_RUNBOOK_BASE_URL, DEFAULT_TASK, SEVERITIES, isAlertRule } from "./types";
export type { AlertReceiver, AlertmanagerProps } from "./alertmanager";
export { INHIBITED_BY_MODEL_NOT_LOADED, alertmanagerConfig } from "./alertmanager";
export type { PrometheusRuleManifest, PrometheusRuleProps } from "./prometheus-rule";
export { prometheusRule, rulesFile } from "./prometheus-rule";
export type { RunbookOptions } from "./runbooks";
export { modelRunbook, platformRunbook } from "./runbooks";
export { modelAlertGroups, modelTask, modelThresholds, platformAlertGroups, runbookAnchor, runbookFileName, runbookPageUrl, runbookUrl } from "./rule-groups";
export { RECORDED } from "./rules/recording";

/** Rules that concern the whole platform: GPU nodes (DCGM) and the prediction log of every replica. */
export function platformRuleGroups(options: AlertOptions = {}): RuleGroup[] {
  return buildPlatformRuleGroups(options);
}

/**
 * Rules of one model's service: recording rules, then alerts on the service (latency, errors, model not
 * loaded, traffic, reloads), quality for its task (the answers' distribution; hit rate or MAE against the
 * baseline and business cost where ground truth arrives), drift (job results and freshness) and canary vs
 * stable. Every expression is filtered to `model`, so one Prometheus holds many models.
 */
export function modelRuleGroups(model: string, options: ModelMonitoringOptions = {}): RuleGroup[] {
  return buildModelRuleGroups(model, options);
}
