/**
 * Grafana dashboards as code. STUB: signatures are the contract with constructs/; the monitoring work fills
 * in the bodies with @grafana/grafana-foundation-sdk builders (keep the exported names and shapes).
 */
export interface DashboardFile {
  readonly uid: string;
  readonly title: string;
  /** File name under which Grafana's sidecar or an operator loads it, e.g. "modelport-service.json". */
  readonly fileName: string;
  readonly json: Record<string, unknown>;
}

/** Dashboards shared by every model: GPU nodes. */
export function platformDashboards(): DashboardFile[] {
  return [];
}

/** One model's Service and Drift dashboards, templated by model and variant with this model preselected. */
export function modelDashboards(_model: string): DashboardFile[] {
  return [];
}
