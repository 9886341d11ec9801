/** Rule groups as a prometheus-operator PrometheusRule (what kube-prometheus-stack loads) or a plain rules file. */
import type { AlertRule, RecordingRule, RuleGroup } from "./types";

/**
 * The prometheus-operator PrometheusRule this module emits (monitoring.coreos.com/v1, the fields we set). Tests
 * validate it against the CRD that the pinned kube-prometheus-stack chart installs (test/fixtures/crds).
 */
export interface PrometheusRuleManifest {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PrometheusRule";
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
  readonly spec: { readonly groups: { readonly name: string; readonly interval?: string; readonly rules: (AlertRule | RecordingRule)[] }[] };
}

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

export function prometheusRule(props: PrometheusRuleProps, groups: readonly RuleGroup[]): PrometheusRuleManifest {
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
