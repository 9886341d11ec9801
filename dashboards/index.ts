/**
 * Grafana dashboards as code (built with @grafana/grafana-foundation-sdk): the public surface consumed by
 * constructs/ (Grafana sidecar ConfigMaps) and by `npm run monitoring` (JSON files).
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import type { AlertOptions, ModelMonitoringOptions } from "../alerts/types";
import { modelDashboardContext, platformDashboardContext } from "./context";
import { driftDashboard } from "./drift";
import { gpuDashboard } from "./gpu";
import { serviceDashboard } from "./service";

export interface DashboardFile {
  readonly uid: string;
  readonly title: string;
  /** File name under which Grafana's sidecar or an operator loads it, e.g. "modelport-service.json". */
  readonly fileName: string;
  readonly json: Record<string, unknown>;
}

/** Grafana uids are at most 40 characters. */
function uidFor(...parts: string[]): string {
  const uid = ["modelport", ...parts].join("-").replace(/[^A-Za-z0-9_-]/g, "-");
  if (uid.length <= 40) return uid;
  // Keep it unique and stable: a short hash of the full name replaces the tail.
  let hash = 0;
  for (const char of uid) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) >>> 0;
  return `${uid.slice(0, 31)}-${hash.toString(36).padStart(7, "0").slice(0, 8)}`;
}

/**
 * The SDK writes the interval-variable fields (auto, auto_min, auto_count) on every variable; Grafana's
 * Dashboard schema has them on none of the kinds used here, so they are dropped from the file.
 */
function withoutIntervalDefaults(json: Dashboard): Dashboard {
  const list = json.templating?.list?.map((variable) => {
    if (variable.type === "interval") return variable;
    const { auto: _auto, auto_min: _autoMin, auto_count: _autoCount, ...rest } = variable as typeof variable & Record<string, unknown>;
    return rest as typeof variable;
  });
  return list ? { ...json, templating: { ...json.templating, list } } : json;
}

const file = (uid: string, json: Dashboard): DashboardFile => ({
  uid,
  title: json.title ?? uid,
  fileName: `${uid}.json`,
  json: withoutIntervalDefaults(json) as unknown as Record<string, unknown>,
});

/** Dashboards shared by every model: GPU nodes, with the platform rules' thresholds and runbook links. */
export function platformDashboards(options: AlertOptions = {}): DashboardFile[] {
  const uid = uidFor("gpu");
  return [file(uid, gpuDashboard(platformDashboardContext(options), uid))];
}

/**
 * One model's Service and Drift dashboards, templated by model and variant with this model preselected, built
 * for its task from the same options as its rules (thresholds, runbook base), so the two agree.
 */
export function modelDashboards(model: string, options: ModelMonitoringOptions = {}): DashboardFile[] {
  const ctx = modelDashboardContext(model, options);
  const serviceUid = uidFor(model, "service");
  const driftUid = uidFor(model, "drift");
  return [file(serviceUid, serviceDashboard(ctx, serviceUid)), file(driftUid, driftDashboard(ctx, driftUid))];
}
