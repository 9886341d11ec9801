/** Rule groups as a prometheus-operator PrometheusRule (what kube-prometheus-stack loads) or a plain rules file. */
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { RuleGroup } from "./types";

/** The document `promtool check rules` and Prometheus' rule_files read. */
export function rulesFile(groups: readonly RuleGroup[]): { groups: RuleGroup[] } {
  const names = new Set<string>();
  for (const group of groups) {
    if (names.has(group.name)) throw new Error(`rule group "${group.name}" appears twice: Prometheus refuses duplicate group names in a file`);
    names.add(group.name);
  }
  return { groups: [...groups] };
}

export interface PrometheusRuleProps {
  readonly name: string;
  readonly namespace: string;
  /**
   * Labels the Prometheus' ruleSelector matches. kube-prometheus-stack selects `release: <helm release>` by
   * default: without it the rules are silently ignored.
   */
  readonly labels: Readonly<Record<string, string>>;
}

export function prometheusRule(props: PrometheusRuleProps, groups: readonly RuleGroup[]): IPrometheusRule {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
    spec: {
      groups: rulesFile(groups).groups.map((group) => ({
        name: group.name,
        ...(group.interval && { interval: group.interval }),
        rules: group.rules.map((rule) => ({ ...rule })),
      })),
    },
  };
}
