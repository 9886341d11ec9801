/** Are the GPU nodes healthy (NVIDIA DCGM exporter): XID errors, temperature, framebuffer memory. */
import { DCGM_METRICS, LABEL, maxBy, selector } from "../promql";
import type { AlertDefinition, PlatformAlertThresholds } from "../types";
import { label, percent } from "./templates";

export function gpuAlerts(t: PlatformAlertThresholds): AlertDefinition[] {
  const gpu = [LABEL.hostname, LABEL.gpu, LABEL.gpuUuid];
  const where = `GPU ${label(LABEL.gpu)} on ${label(LABEL.hostname)}`;
  const used = selector(DCGM_METRICS.fbUsed);
  return [
    {
      name: "GpuXidError",
      severity: "ticket",
      expr: `${maxBy(gpu, selector(DCGM_METRICS.xidErrors))} > 0`,
      for: "0m",
      summary: `${where} reported XID error {{ $value }}`,
      description: `${where} (UUID ${label(LABEL.gpuUuid)}) reported XID {{ $value }} (the last XID code DCGM saw).`,
      meaning:
        "The driver logged a GPU error. Some XIDs are the application's (13, 31, 43: bad kernel or memory access), others mean " +
        "the hardware needs attention (48 double-bit ECC, 63/64 row remapping, 79 fell off the bus, 92/94/95 ECC).",
      firstSteps: [
        "kubectl debug node/$NODE -it --image=busybox -- chroot /host dmesg | grep -i xid",
        "Hardware XID (48, 63, 64, 79, 94, 95): kubectl cordon $NODE && kubectl drain $NODE --ignore-daemonsets --delete-emptydir-data",
        "Application XID: look at the pods on that GPU (GPU dashboard) and their logs.",
      ],
    },
    {
      name: "GpuTemperatureHigh",
      severity: "ticket",
      expr: `${maxBy(gpu, selector(DCGM_METRICS.gpuTemp))} > ${t.gpuTemperatureCelsius}`,
      for: "5m",
      summary: `${where} at {{ $value }}°C`,
      description: `${where} has been above ${t.gpuTemperatureCelsius}°C for 5 minutes (now {{ $value }}°C); it will throttle clocks.`,
      meaning: "Sustained high temperature throttles the GPU (latency rises) and shortens its life: cooling or airflow problem, or a stuck fan.",
      firstSteps: [
        "GPU dashboard: temperature and power of this GPU vs its neighbours (one hot GPU = hardware; all hot = node/rack cooling).",
        "If it keeps climbing: kubectl cordon $NODE and move the work elsewhere.",
      ],
    },
    {
      name: "GpuMemoryNearlyFull",
      severity: "ticket",
      expr: `${maxBy(gpu, `${used} / (${used} + ${selector(DCGM_METRICS.fbFree)})`)} > ${t.gpuMemoryUsedRatio}`,
      for: "10m",
      summary: `${where} framebuffer {{ $value | humanizePercentage }} used`,
      description: `${where} has used over ${percent(t.gpuMemoryUsedRatio)} of its memory for 10 minutes (now {{ $value | humanizePercentage }}): the next allocation fails with out-of-memory.`,
      meaning: "A model or batch no longer fits beside the others on the GPU: too many replicas per GPU, a larger model version, or a leak.",
      firstSteps: [
        "GPU dashboard: memory per GPU over time (step = new version, ramp = leak).",
        "Reduce BATCH_MAX_SIZE or replicas per GPU, or give the model a GPU of its own.",
      ],
    },
  ];
}
