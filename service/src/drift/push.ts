/**
 * Pushes a run's drift metrics to the Prometheus Pushgateway: one group per model (job DRIFT_JOB_NAME, label
 * model), replaced on every run (PUT), so a column that disappears from the model disappears from the gateway.
 */
import { Gauge, Registry } from "prom-client";
import { DRIFT_JOB_NAME, METRICS } from "../contract";
import type { DriftReport } from "./report";

/** The report as Prometheus text exposition. */
export async function driftMetricsText(report: DriftReport): Promise<string> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  gauge(METRICS.driftDatasetDrifted, "1 when the share of drifted features reached the dataset drift threshold").set(report.dataset.drifted ? 1 : 0);
  gauge(METRICS.driftShare, "Share of features whose drift test fired").set(report.dataset.driftShare);
  const score = gauge(METRICS.driftColumnScore, "Drift score per column: p-value (ks, chisquare, z) or distance (wasserstein, jensenshannon, psi)", ["column", "method"]);
  const drifted = gauge(METRICS.driftColumnDrifted, "1 when the column's drift test fired", ["column"]);
  for (const column of allColumns(report)) {
    score.set({ column: column.column, method: column.method }, column.score);
    drifted.set({ column: column.column }, column.drifted ? 1 : 0);
  }
  const rows = gauge(METRICS.driftRows, "Rows read per data set", ["dataset"]);
  rows.set({ dataset: "reference" }, report.reference.rows);
  rows.set({ dataset: "current" }, report.current.rows);
  gauge(METRICS.driftLastRunTimestampSeconds, "Unix time the drift run finished").set(Date.parse(report.generatedAt) / 1000);
  return registry.metrics();
}

export function allColumns(report: DriftReport) {
  return [...report.columns, ...(report.prediction ? [report.prediction] : []), ...(report.target ? [report.target] : [])];
}

/** Pushgateway group path; a value containing "/" uses the gateway's base64 form. */
export function groupPath(job: string, model: string): string {
  const segment = (name: string, value: string) =>
    value === "" || value.includes("/") ? `${name}@base64/${Buffer.from(value).toString("base64url") || "="}` : `${name}/${encodeURIComponent(value)}`;
  return `/metrics/${segment("job", job)}/${segment("model", model)}`;
}

export async function pushDriftMetrics(gatewayUrl: string, report: DriftReport, timeoutMs = 10_000): Promise<void> {
  const url = gatewayUrl.replace(/\/+$/, "") + groupPath(DRIFT_JOB_NAME, report.model);
  const response = await fetch(url, {
    method: "PUT",
    body: await driftMetricsText(report),
    headers: { "content-type": "text/plain; version=0.0.4" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`Pushgateway answered PUT ${url} with ${response.status}: ${(await response.text()).slice(0, 300)}`);
}
