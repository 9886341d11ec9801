/** "Modelport GPUs": NVIDIA DCGM exporter metrics of every GPU node, templated by node and GPU. */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { DCGM_METRICS, LABEL, matches, maxBy, selector } from "../alerts/promql";
import { percent } from "../alerts/rules/templates";
import type { PlatformDashboardContext } from "./context";
import { DashboardLayout, datasourceVariable, labelVariable, newDashboard, runbookLink } from "./panels";

export function gpuDashboard(ctx: PlatformDashboardContext, uid: string): dashboard.Dashboard {
  const t = ctx.thresholds;
  const runbookUrl = ctx.runbookPage;
  const [temperature, memory, xid] = [ctx.alert("GpuTemperatureHigh"), ctx.alert("GpuMemoryNearlyFull"), ctx.alert("GpuXidError")];
  const gpus = [matches(LABEL.hostname, "$node"), matches(LABEL.gpu, "$gpu")];
  const of = (metric: string) => selector(metric, gpus);
  const perGpu = [LABEL.hostname, LABEL.gpu];
  const legend = "{{Hostname}} GPU {{gpu}}";
  const builder = newDashboard({
    uid,
    title: "Modelport GPUs",
    description: `GPU nodes (DCGM exporter): utilisation, memory, temperature, power, XID errors. Runbook: ${runbookUrl}`,
    tags: ["modelport", "gpu"],
  })
    .withVariable(datasourceVariable())
    .withVariable(labelVariable({ name: "node", label: "Node", query: `label_values(${DCGM_METRICS.gpuUtil}, ${LABEL.hostname})`, description: "GPU node (DCGM Hostname label).", multi: true }))
    .withVariable(labelVariable({ name: "gpu", label: "GPU", query: `label_values(${selector(DCGM_METRICS.gpuUtil, [matches(LABEL.hostname, "$node")])}, ${LABEL.gpu})`, description: "GPU index on the node.", multi: true }))
    .link(runbookLink("Runbook", runbookUrl));
  const layout = new DashboardLayout(builder);
  const usedRatio = `${of(DCGM_METRICS.fbUsed)} / (${of(DCGM_METRICS.fbUsed)} + ${of(DCGM_METRICS.fbFree)})`;

  layout
    .row("Now")
    .stat({ title: "GPUs reporting", description: "GPUs the DCGM exporter reports for the selection.", queries: [{ expr: `count(${of(DCGM_METRICS.gpuUtil)})`, legend: "GPUs", instant: true }], steps: [], graph: false })
    .stat({ title: "Mean utilisation", description: "Mean GPU utilisation over the selected GPUs. Low with high latency = the model is not GPU-bound.", queries: [{ expr: `avg(${of(DCGM_METRICS.gpuUtil)})`, legend: "util" }], unit: "percent", steps: [] })
    .stat({ title: "Hottest GPU", description: `Highest GPU temperature. GpuTemperatureHigh fires above ${t.gpuTemperatureCelsius}°C for 5 minutes.`, queries: [{ expr: `max(${of(DCGM_METRICS.gpuTemp)})`, legend: "max" }], unit: "celsius", steps: [{ value: t.gpuTemperatureCelsius - 5, color: "yellow" }, { value: t.gpuTemperatureCelsius, color: "red" }], alert: temperature })
    .stat({ title: "Fullest GPU memory", description: `Highest framebuffer use. GpuMemoryNearlyFull fires above ${percent(t.gpuMemoryUsedRatio)} for 10 minutes.`, queries: [{ expr: `max(${usedRatio})`, legend: "max" }], unit: "percentunit", steps: [{ value: t.gpuMemoryUsedRatio - 0.1, color: "yellow" }, { value: t.gpuMemoryUsedRatio, color: "red" }], alert: memory })
    .stat({ title: "GPUs with XID errors", description: "GPUs whose last XID code is non-zero (see GpuXidError in the runbook for which codes need a drain).", queries: [{ expr: `count(${of(DCGM_METRICS.xidErrors)} > 0) or vector(0)`, legend: "GPUs", instant: true }], steps: [{ value: 1, color: "red" }], graph: false, alert: xid })
    .stat({ title: "Total power", description: "Power drawn by the selected GPUs.", queries: [{ expr: `sum(${of(DCGM_METRICS.powerUsage)})`, legend: "W" }], unit: "watt", steps: [] });

  layout
    .row("Per GPU")
    .timeseries({ title: "Utilisation", description: "Share of time a kernel was running, per GPU.", queries: [{ expr: maxBy(perGpu, of(DCGM_METRICS.gpuUtil)), legend }], unit: "percent", min: 0, max: 100 })
    .timeseries({ title: "Memory used", description: `Framebuffer used / total per GPU; dashed line: the ${percent(t.gpuMemoryUsedRatio)} GpuMemoryNearlyFull fires above.`, queries: [{ expr: maxBy(perGpu, usedRatio), legend }], unit: "percentunit", min: 0, max: 1, steps: [{ value: t.gpuMemoryUsedRatio, color: "red" }], alert: memory })
    .timeseries({ title: "Temperature", description: `GPU core temperature; dashed line: the ${t.gpuTemperatureCelsius}°C GpuTemperatureHigh fires above.`, queries: [{ expr: maxBy(perGpu, of(DCGM_METRICS.gpuTemp)), legend }], unit: "celsius", steps: [{ value: t.gpuTemperatureCelsius, color: "red" }], alert: temperature })
    .timeseries({ title: "Power", description: "Power draw per GPU.", queries: [{ expr: maxBy(perGpu, of(DCGM_METRICS.powerUsage)), legend }], unit: "watt" })
    .timeseries({ title: "Memory used (MiB)", description: "Framebuffer memory used per GPU (DCGM reports MiB).", queries: [{ expr: maxBy(perGpu, of(DCGM_METRICS.fbUsed)), legend }], unit: "decmbytes" })
    .stateTimeline({ title: "Last XID error", description: "Last XID code per GPU (0 = none). 48, 63, 64, 79, 94, 95 mean hardware trouble: drain the node.", queries: [{ expr: maxBy(perGpu, of(DCGM_METRICS.xidErrors)), legend }], steps: [{ value: 1, color: "red" }], alert: xid });
  return builder.build();
}
