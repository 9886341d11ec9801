/**
 * Alert rules and Alertmanager configuration as code. STUB: signatures are the contract with constructs/;
 * the monitoring work fills in the bodies (keep the exported names and shapes).
 */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly (AlertRule | RecordingRule)[];
}
export interface AlertOptions {
  /** Base URL the runbook_url annotation points under. @default the runbooks folder of this repository */
  readonly runbookBaseUrl?: string;
}

/** Rules that concern the whole platform (GPU nodes, prediction log, drift job freshness). */
export function platformRuleGroups(_options: AlertOptions = {}): RuleGroup[] {
  return [];
}

/** Rules of one model's service (latency, errors, model not loaded, shift, hit rate, cost, drift, canary). */
export function modelRuleGroups(_model: string, _options: AlertOptions = {}): RuleGroup[] {
  return [];
}

export interface AlertReceiver {
  readonly name: string;
  /** Webhook URL read from a file mounted from a Kubernetes Secret (never inlined). */
  readonly webhookUrlFile?: string;
}
export interface AlertmanagerProps {
  /** Receives severity=page. */
  readonly page: AlertReceiver;
  /** Receives severity=ticket (and anything unrouted). */
  readonly ticket: AlertReceiver;
}
/** Alertmanager configuration (the YAML document as an object). */
export function alertmanagerConfig(props: AlertmanagerProps): Record<string, unknown> {
  return { route: { receiver: props.ticket.name }, receivers: [{ name: props.ticket.name }, { name: props.page.name }] };
}
