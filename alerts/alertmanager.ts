/**
 * Alertmanager configuration from typed props: routing by severity (page vs ticket), grouping per model and
 * alert, inhibition of symptoms by their cause. Secrets are referenced as files mounted from Kubernetes
 * Secrets (`*_file` fields), never inlined: the generated YAML can be committed and diffed.
 */
import { LABEL } from "./promql";

/** Receiver props. A receiver without any channel swallows notifications (useful in dev). */
export interface AlertReceiver {
  readonly name: string;
  /**
   * Webhook URL read from a mounted file (`webhook_configs[].url_file`). Alertmanager 0.25 (Debian 12) rejects
   * this field; newer releases accept it. On 0.25 use `webhook` with `bearerTokenFile` instead.
   */
  readonly webhookUrlFile?: string;
  /** Generic webhook (an in-cluster relay, a chat bridge): the URL is not secret, its token is. */
  readonly webhook?: { readonly url: string; readonly bearerTokenFile?: string };
  /** PagerDuty Events API v2: integration key read from a mounted file. */
  readonly pagerDuty?: { readonly routingKeyFile: string };
  /** Slack incoming webhook: the webhook URL (a secret) read from a mounted file. */
  readonly slack?: { readonly apiUrlFile: string; readonly channel: string };
  /** Opsgenie: API key read from a mounted file. */
  readonly opsgenie?: { readonly apiKeyFile: string };
}

export interface AlertmanagerProps {
  /** Receives severity=page. */
  readonly page: AlertReceiver;
  /** Receives severity=ticket (and anything unrouted). */
  readonly ticket: AlertReceiver;
  /** Labels a notification groups alerts by. @default ["alertname", "namespace", "model"] */
  readonly groupBy?: readonly string[];
  /** Wait before the first notification of a new group (collects its siblings). @default "30s" (pages: "10s") */
  readonly groupWait?: string;
  /** Wait before notifying about alerts added to a group already notified. @default "5m" */
  readonly groupInterval?: string;
  /** Re-notify a still-firing ticket after. @default "12h" */
  readonly ticketRepeatInterval?: string;
  /** Re-notify a still-firing page after. @default "1h" */
  readonly pageRepeatInterval?: string;
}

/** Alerts whose cause is "no model loaded": while ModelNotLoaded fires for a model, these stay quiet. */
export const INHIBITED_BY_MODEL_NOT_LOADED = [
  "HighLatency",
  "HighErrorRate",
  "NoTraffic",
  "CanaryWorseThanStable",
  "PredictionDistributionShift",
] as const;

const DURATION = /^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
const RECEIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function checkFile(receiver: string, field: string, path: string): string {
  if (!path.startsWith("/")) {
    throw new Error(`receiver "${receiver}": ${field} must be the absolute path of a file mounted from a Secret, got ${JSON.stringify(path)}`);
  }
  return path;
}

function checkDuration(field: string, value: string): string {
  if (value === "" || !DURATION.test(value)) throw new Error(`${field} must be a Prometheus duration such as "30s" or "12h", got ${JSON.stringify(value)}`);
  return value;
}

function receiverConfig(receiver: AlertReceiver): Record<string, unknown> {
  const { name } = receiver;
  if (!RECEIVER_NAME.test(name)) throw new Error(`receiver name ${JSON.stringify(name)} must match ${RECEIVER_NAME}`);
  const config: Record<string, unknown> = { name };
  const webhooks: Record<string, unknown>[] = [];
  if (receiver.webhookUrlFile) webhooks.push({ url_file: checkFile(name, "webhookUrlFile", receiver.webhookUrlFile), send_resolved: true });
  if (receiver.webhook) {
    let url: URL;
    try {
      url = new URL(receiver.webhook.url);
    } catch {
      throw new Error(`receiver "${name}": webhook.url is not a URL: ${JSON.stringify(receiver.webhook.url)}`);
    }
    if (!/^https?:$/.test(url.protocol)) throw new Error(`receiver "${name}": webhook.url must be http(s), got ${url.protocol}`);
    if (url.username || url.password || url.search) {
      throw new Error(`receiver "${name}": webhook.url must not carry credentials or a query string; put the token in bearerTokenFile`);
    }
    webhooks.push({
      url: receiver.webhook.url,
      send_resolved: true,
      ...(receiver.webhook.bearerTokenFile && {
        http_config: { authorization: { type: "Bearer", credentials_file: checkFile(name, "webhook.bearerTokenFile", receiver.webhook.bearerTokenFile) } },
      }),
    });
  }
  if (webhooks.length) config.webhook_configs = webhooks;
  if (receiver.pagerDuty) {
    config.pagerduty_configs = [{ routing_key_file: checkFile(name, "pagerDuty.routingKeyFile", receiver.pagerDuty.routingKeyFile), send_resolved: true }];
  }
  if (receiver.slack) {
    if (!receiver.slack.channel) throw new Error(`receiver "${name}": slack.channel is empty`);
    config.slack_configs = [
      {
        api_url_file: checkFile(name, "slack.apiUrlFile", receiver.slack.apiUrlFile),
        channel: receiver.slack.channel,
        send_resolved: true,
        title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.model }}',
        text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}",
      },
    ];
  }
  if (receiver.opsgenie) {
    config.opsgenie_configs = [{ api_key_file: checkFile(name, "opsgenie.apiKeyFile", receiver.opsgenie.apiKeyFile), send_resolved: true }];
  }
  return config;
}

/** Alertmanager configuration (the YAML document as an object). */
export function alertmanagerConfig(props: AlertmanagerProps): Record<string, unknown> {
  if (props.page.name === props.ticket.name) {
    throw new Error(`page and ticket receivers need different names (both are "${props.page.name}")`);
  }
  const groupWait = checkDuration("groupWait", props.groupWait ?? "30s");
  const groupInterval = checkDuration("groupInterval", props.groupInterval ?? "5m");
  return {
    route: {
      receiver: props.ticket.name,
      group_by: [...(props.groupBy ?? ["alertname", LABEL.namespace, LABEL.model])],
      group_wait: groupWait,
      group_interval: groupInterval,
      repeat_interval: checkDuration("ticketRepeatInterval", props.ticketRepeatInterval ?? "12h"),
      routes: [
        {
          receiver: props.page.name,
          matchers: ['severity="page"'],
          group_wait: props.groupWait ?? "10s",
          repeat_interval: checkDuration("pageRepeatInterval", props.pageRepeatInterval ?? "1h"),
        },
        { receiver: props.ticket.name, matchers: ['severity="ticket"'] },
      ],
    },
    inhibit_rules: [
      {
        source_matchers: ['alertname="ModelNotLoaded"'],
        target_matchers: [`alertname=~"${INHIBITED_BY_MODEL_NOT_LOADED.join("|")}"`],
        // Not namespace: ModelNotLoaded also fires from absent(), whose series has only the model label.
        equal: [LABEL.model],
      },
    ],
    receivers: [receiverConfig(props.page), receiverConfig(props.ticket)],
  };
}
