/**
 * Every Helm chart and container image the platform installs, pinned to an exact version in one place so an
 * upgrade is a one-line, reviewable diff. Versions were checked against upstream release notes and Renovate
 * update PRs when this file was last edited; the Policies aspect rejects any chart without an exact version.
 */
export interface ChartRef {
  readonly repository: string;
  readonly chart: string;
  /** Exact chart version (never a range). */
  readonly version: string;
}

export const CHARTS = {
  kubePrometheusStack: {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "kube-prometheus-stack",
    version: "79.7.1",
  },
  pushgateway: {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "prometheus-pushgateway",
    version: "3.6.1",
  },
  nvidiaDevicePlugin: {
    repository: "https://nvidia.github.io/k8s-device-plugin",
    chart: "nvidia-device-plugin",
    version: "0.18.2",
  },
  dcgmExporter: {
    repository: "https://nvidia.github.io/dcgm-exporter/helm-charts",
    chart: "dcgm-exporter",
    version: "4.8.1",
  },
  istioBase: { repository: "https://istio-release.storage.googleapis.com/charts", chart: "base", version: "1.29.2" },
  istiod: { repository: "https://istio-release.storage.googleapis.com/charts", chart: "istiod", version: "1.29.2" },
  istioGateway: {
    repository: "https://istio-release.storage.googleapis.com/charts",
    chart: "gateway",
    version: "1.29.2",
  },
  cloudnativePg: { repository: "https://cloudnative-pg.github.io/charts", chart: "cloudnative-pg", version: "0.26.1" },
} as const satisfies Record<string, ChartRef>;

export const IMAGES = {
  /**
   * MLflow with the Postgres driver and boto3: built from constructs/mlflow-image/Dockerfile (the upstream
   * ghcr.io/mlflow/mlflow image has neither). The tag follows the upstream MLflow version it is built from.
   */
  mlflow: "ghcr.io/modelport/mlflow:3.16.1",
  /** SeaweedFS: maintained, Apache-2.0 S3-compatible server for clusters without a cloud object store. */
  seaweedfs: "chrislusf/seaweedfs:4.48",
  /** CloudNativePG operand image (Postgres 17). */
  postgres: "ghcr.io/cloudnative-pg/postgresql:17.6",
} as const;

/** Exact `MAJOR.MINOR.PATCH[-pre]` versions only: ranges (`^1.2`, `~1`, `1.x`, `*`, `>=`) are not pins. */
export const EXACT_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
