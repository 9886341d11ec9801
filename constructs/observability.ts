import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { alertmanagerConfig, platformRuleGroups, prometheusRule, RuleGroup } from "../alerts";
import { DashboardFile, platformDashboards } from "../dashboards";
import { HelmChart } from "./helm-chart";
import { withChartDefaults } from "./kube-prometheus-defaults";
import { ManifestBundle } from "./manifest-bundle";
import { CHARTS } from "./versions";
import { validateDnsLabel } from "./kube";

/** An Alertmanager receiver whose webhook URL lives in a Kubernetes Secret (created out of band, never here). */
export interface ReceiverRef {
  /** Receiver name in the Alertmanager configuration. */
  readonly name: string;
  /** Secret in the monitoring namespace holding the webhook URL. */
  readonly secretName: string;
  /** Key of the URL inside the Secret. @default "url" */
  readonly key?: string;
}

export interface ObservabilityProps {
  /** @default "monitoring" */
  readonly namespace?: string;
  /**
   * kube-prometheus-stack release name. Prometheus selects ServiceMonitors and PrometheusRules carrying
   * `release: <this>`, so every construct that adds one must use the same value. @default "kps"
   */
  readonly releaseName?: string;
  /** Prometheus retention time. @default "15d" */
  readonly retention?: string;
  /** Prometheus retention size (oldest blocks go first). @default "45GB" */
  readonly retentionSize?: string;
  /** Prometheus volume size; must exceed retentionSize. @default "50Gi" */
  readonly storageSize?: string;
  /** Receivers for severity=page and severity=ticket. */
  readonly receivers: { readonly page: ReceiverRef; readonly ticket: ReceiverRef };
  /** Grafana admin login (the password is generated). @default "admin" */
  readonly grafanaAdminUser?: string;
  /** Platform dashboards to ship as sidecar ConfigMaps. @default platformDashboards() */
  readonly dashboards?: readonly DashboardFile[];
  /** Platform rule groups to ship as a PrometheusRule. @default platformRuleGroups() */
  readonly ruleGroups?: readonly RuleGroup[];
  /** Prometheus replicas. @default 1 */
  readonly prometheusReplicas?: number;
  /** What the charts that claim volumes wait for (the cluster's default StorageClass). @default none */
  readonly storageReady?: ITerraformDependable[];
}

/** Where the Pushgateway chart mounts its volume (chart default persistentVolume.mountPath). */
const PUSHGATEWAY_DATA_DIR = "/data";

/** Label Grafana's dashboard sidecar watches. */
export const GRAFANA_DASHBOARD_LABEL = "grafana_dashboard";

/**
 * kube-prometheus-stack (Prometheus with retention, Alertmanager with receivers from Secrets, Grafana with a
 * generated admin password and the dashboard sidecar) and a Pushgateway for the drift job. Platform dashboards
 * become ConfigMaps labelled for the sidecar; platform alert rules become a PrometheusRule with the release label.
 */
export class Observability extends Construct {
  readonly namespace: string;
  readonly releaseName: string;
  /** In-cluster URL the drift job pushes to. */
  readonly pushgatewayUrl: string;
  /** Labels a ServiceMonitor or PrometheusRule needs to be picked up. */
  readonly selectorLabels: Record<string, string>;
  readonly stack: HelmChart;
  readonly rules: ManifestBundle;
  private readonly namespaceResource: NamespaceV1;

  /** The Pushgateway's in-cluster URL for a monitoring namespace. */
  static pushgatewayUrl(namespace = "monitoring"): string {
    return `http://pushgateway.${namespace}.svc.cluster.local:9091`;
  }

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.namespace = props.namespace ?? "monitoring";
    this.releaseName = props.releaseName ?? "kps";
    validateDnsLabel("Observability namespace", this.namespace);
    validateDnsLabel("Observability releaseName", this.releaseName, 20);
    const retention = props.retention ?? "15d";
    if (!/^\d+(ms|s|m|h|d|w|y)$/.test(retention)) {
      throw new Error(`Observability retention "${retention}" must be a Prometheus duration such as "15d"`);
    }
    const replicas = props.prometheusReplicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`Observability prometheusReplicas must be a positive integer, got ${replicas}`);
    }
    const receiverNames = [props.receivers.page.name, props.receivers.ticket.name];
    if (receiverNames[0] === receiverNames[1]) {
      throw new Error(`Observability receivers: page and ticket need distinct names, both are "${receiverNames[0]}"`);
    }
    this.selectorLabels = { release: this.releaseName };
    this.pushgatewayUrl = Observability.pushgatewayUrl(this.namespace);

    const ns = new NamespaceV1(this, "Namespace", { metadata: { name: this.namespace } });
    this.namespaceResource = ns;

    const adminPassword = new Password(this, "GrafanaAdminPassword", { length: 32, special: false });
    const grafanaSecret = new SecretV1(this, "GrafanaAdmin", {
      metadata: { name: "grafana-admin", namespace: this.namespace },
      data: { "admin-user": props.grafanaAdminUser ?? "admin", "admin-password": adminPassword.result },
      dependsOn: [ns],
    });

    const secretsDir = "/etc/alertmanager/secrets";
    const receiverFile = (r: ReceiverRef) => `${secretsDir}/${r.secretName}/${r.key ?? "url"}`;
    const amConfig = withChartDefaults(
      alertmanagerConfig({
        page: { name: props.receivers.page.name, webhookUrlFile: receiverFile(props.receivers.page) },
        ticket: { name: props.receivers.ticket.name, webhookUrlFile: receiverFile(props.receivers.ticket) },
      }),
    );
    const storageReady = props.storageReady ?? [];

    this.stack = new HelmChart(this, "KubePrometheusStack", {
      chart: CHARTS.kubePrometheusStack,
      name: this.releaseName,
      namespace: this.namespace,
      dependsOn: [ns, grafanaSecret, ...storageReady],
      values: {
        fullnameOverride: this.releaseName,
        prometheus: {
          prometheusSpec: {
            replicas,
            retention,
            retentionSize: props.retentionSize ?? "45GB",
            // Chart defaults, stated because the release label contract depends on them.
            serviceMonitorSelectorNilUsesHelmValues: true,
            podMonitorSelectorNilUsesHelmValues: true,
            ruleSelectorNilUsesHelmValues: true,
            storageSpec: {
              volumeClaimTemplate: {
                spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: props.storageSize ?? "50Gi" } } },
              },
            },
            resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
          },
        },
        alertmanager: {
          config: amConfig,
          alertmanagerSpec: {
            // Mounted at /etc/alertmanager/secrets/<name>/; the config reads URLs from there (url_file).
            secrets: [...new Set([props.receivers.page.secretName, props.receivers.ticket.secretName])],
            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
          },
        },
        grafana: {
          admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
          sidecar: {
            dashboards: { enabled: true, label: GRAFANA_DASHBOARD_LABEL, labelValue: "1", searchNamespace: "ALL" },
          },
        },
      },
    });

    new HelmChart(this, "Pushgateway", {
      chart: CHARTS.pushgateway,
      name: "pushgateway",
      namespace: this.namespace,
      dependsOn: [this.stack.release, ...storageReady],
      values: {
        fullnameOverride: "pushgateway",
        // Keeps the last drift run across restarts (the staleness alert reads its timestamp): the chart mounts the
        // volume, but the Pushgateway keeps metrics in memory unless told to persist them to a file on it.
        persistentVolume: { enabled: true, size: "2Gi", mountPath: PUSHGATEWAY_DATA_DIR },
        extraArgs: [`--persistence.file=${PUSHGATEWAY_DATA_DIR}/pushgateway.db`],
        serviceMonitor: { enabled: true, additionalLabels: this.selectorLabels, honorLabels: true },
        resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
      },
    });

    (props.dashboards ?? platformDashboards()).forEach((d) => this.addDashboard(d));
    this.rules = new ManifestBundle(this, "PlatformRules", {
      name: "platform-rules",
      namespace: this.namespace,
      dependsOn: [this.stack.release],
    });
    const groups = props.ruleGroups ?? platformRuleGroups();
    if (groups.length > 0) {
      this.rules.add(prometheusRule({ name: "modelport-platform", namespace: this.namespace, labels: this.selectorLabels }, groups));
    }
  }

  /** Ships a dashboard as a ConfigMap the Grafana sidecar loads. */
  addDashboard(dashboard: DashboardFile): ConfigMapV1 {
    return dashboardConfigMap(this, `Dashboard-${dashboard.uid}`, this.namespace, dashboard, [this.namespaceResource]);
  }
}

/** A ConfigMap holding one dashboard, labelled for Grafana's sidecar. */
export function dashboardConfigMap(
  scope: Construct,
  id: string,
  namespace: string,
  d: DashboardFile,
  dependsOn: ITerraformDependable[] = [],
): ConfigMapV1 {
  validateDnsLabel(`Dashboard uid`, d.uid.toLowerCase(), 40);
  return new ConfigMapV1(scope, id, {
    metadata: {
      name: `dashboard-${d.uid.toLowerCase()}`,
      namespace,
      labels: { [GRAFANA_DASHBOARD_LABEL]: "1", "app.kubernetes.io/part-of": "modelport" },
    },
    data: { [d.fileName]: JSON.stringify(d.json) },
    dependsOn,
  });
}
