/** Is the canary worse than stable: the signal to stop a rollout (and what the rollout analysis can query). */
import { CANARY, LABEL, STABLE, eq, maxBy, oneOf, selector } from "../promql";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { RECORDED } from "./recording";
import { inNamespace, label, percent } from "./templates";

export function canaryAlerts(model: string, t: ModelAlertThresholds): AlertDefinition[] {
  const of = (record: string, variant: string) => selector(record, [eq(LABEL.model, model), eq(LABEL.variant, variant)]);
  const service = [LABEL.namespace, LABEL.model];
  // Each branch names its reason, so one alert says whether errors or latency tripped it.
  const because = (why: string, expr: string) => `label_replace(${maxBy(service, expr)}, "${LABEL.reason}", "${why}", "", "")`;
  const errors = because(
    "errors",
    `${of(RECORDED.http5xxRatio, CANARY)} - ignoring (${LABEL.variant}) ${of(RECORDED.http5xxRatio, STABLE)} > ${t.canaryErrorRatioMargin}`,
  );
  const latency = because(
    "latency",
    `${of(RECORDED.latencyP99, CANARY)} / ignoring (${LABEL.variant}) ${of(RECORDED.latencyP99, STABLE)} > ${t.canaryLatencyFactor}`,
  );
  // A 1% canary sees few requests: compare only once both variants answered enough to mean something.
  const bothVariants = selector(RECORDED.predictionRate5m, [eq(LABEL.model, model), oneOf(LABEL.variant, [STABLE, CANARY])]);
  const enoughTraffic = `min by (${service.join(", ")}) (${bothVariants}) >= ${+(t.canaryMinPredictions / 300).toFixed(6)}`;
  return [
    {
      name: "CanaryWorseThanStable",
      severity: "ticket",
      expr: `(\n${errors}\nor\n${latency}\n)\nand on (${service.join(", ")})\n${enoughTraffic}`,
      for: "5m",
      summary: `${label(LABEL.model)}${inNamespace()}: canary is worse than stable ({{ $labels.${LABEL.reason} }})`,
      description:
        `{{ if eq $labels.${LABEL.reason} "errors" }}The canary's 5xx ratio is {{ $value | humanizePercentage }} above stable's ` +
        `(margin ${percent(t.canaryErrorRatioMargin)}){{ else }}The canary's p99 latency is {{ $value | humanize }}x stable's ` +
        `(limit ${t.canaryLatencyFactor}x){{ end }} over the last 5 minutes, with at least ${t.canaryMinPredictions} predictions on each.`,
      meaning:
        "The version under canary serves the same traffic mix worse than the stable one. A progressive rollout should stop " +
        "and shift weight back to stable.",
      firstSteps: [
        "Service dashboard, 'Stable vs canary' row: errors and latency side by side.",
        "Abort the rollout: set the canary weight to 0 (kubectl -n $NS edit virtualservice $SVC, or the rollout controller's abort).",
        "kubectl -n $NS logs -l $SELECTOR --tail=200 | grep canary",
      ],
      labels: { [LABEL.variant]: CANARY },
    },
  ];
}
