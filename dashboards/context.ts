/**
 * What a model's dashboards are built from: its task, the thresholds its rules use and the runbook links its
 * rules carry, read from the generated rules themselves, so a panel's threshold line, its text and its runbook
 * link are those of the alert it follows, whatever the alert options say.
 */
import { modelRuleGroups, platformRuleGroups } from "../alerts";
import { modelTask, modelThresholds, platformThresholds, runbookPageUrl } from "../alerts/rule-groups";
import { type AlertOptions, type ModelAlertThresholds, type ModelMonitoringOptions, type PlatformAlertThresholds, type RuleGroup, isAlertRule } from "../alerts/types";
import type { Task } from "../service/src/contract";

/** An alert a panel follows: the panel links to its runbook section. */
export interface AlertLink {
  readonly name: string;
  readonly url: string;
}

export interface ModelDashboardContext {
  readonly model: string;
  readonly task: Task;
  readonly thresholds: ModelAlertThresholds;
  /** The model's runbook page. */
  readonly runbookPage: string;
  /** The runbook link of one of the model's alerts, as its rule's runbook_url annotation has it. */
  alert(name: string): AlertLink;
}

export interface PlatformDashboardContext {
  readonly thresholds: PlatformAlertThresholds;
  readonly runbookPage: string;
  alert(name: string): AlertLink;
}

function alertLinks(groups: readonly RuleGroup[], owner: string): (name: string) => AlertLink {
  const urls = new Map(groups.flatMap((group) => group.rules.filter(isAlertRule).map((rule) => [rule.alert, rule.annotations.runbook_url] as const)));
  return (name) => {
    const url = urls.get(name);
    if (!url) throw new Error(`a dashboard panel follows alert ${name}, which the rules of ${owner} do not have`);
    return { name, url };
  };
}

export function modelDashboardContext(model: string, options: ModelMonitoringOptions = {}): ModelDashboardContext {
  return {
    model,
    task: modelTask(options),
    thresholds: modelThresholds(options),
    runbookPage: runbookPageUrl({ kind: "model", model }, options),
    alert: alertLinks(modelRuleGroups(model, options), model),
  };
}

export function platformDashboardContext(options: AlertOptions = {}): PlatformDashboardContext {
  return {
    thresholds: platformThresholds(options),
    runbookPage: runbookPageUrl({ kind: "platform" }, options),
    alert: alertLinks(platformRuleGroups(options), "the platform"),
  };
}
