/** Is every prediction being logged (the drift job and the feedback join read the log): drops and spill growth. */
import { LABEL, METRICS, counterEvents, maxBy, selector } from "../promql";
import type { AlertDefinition } from "../types";
import { label } from "./templates";

export function predictionLogAlerts(): AlertDefinition[] {
  // Prediction-log metrics are per process (no model label): keep the replica's identity.
  const replica = [LABEL.namespace, LABEL.job, LABEL.pod, LABEL.instance];
  const because = (why: string, expr: string) => `label_replace(${expr}, "${LABEL.reason}", "${why}", "", "")`;
  const spill = selector(METRICS.predictionLogSpillDepth);
  return [
    {
      name: "PredictionLogLoss",
      severity: "ticket",
      expr:
        because("dropped", `(${counterEvents(selector(METRICS.predictionLogDroppedTotal), "5m", replica)})`) +
        "\nor\n" +
        because("spill_growing", `${maxBy(replica, `delta(${spill}[15m])`)} > 0 and ${maxBy(replica, spill)} > 0`),
      for: "1m",
      summary: `Prediction log on {{ $labels.${LABEL.instance} }}: {{ if eq $labels.${LABEL.reason} "dropped" }}{{ $value | humanize }} records dropped{{ else }}spill file growing{{ end }}`,
      description:
        `{{ if eq $labels.${LABEL.reason} "dropped" }}{{ $value | humanize }} prediction-log records were dropped in 5 minutes on ` +
        `${label(LABEL.instance)}{{ with $labels.${LABEL.pod} }} (pod {{ . }}){{ end }}: they are lost for drift and feedback.` +
        `{{ else }}The local spill file on ${label(LABEL.instance)} grew by {{ $value | humanize }} records in 15 minutes: the ` +
        `database is not accepting writes and the spill disk will fill, after which records are dropped.{{ end }}`,
      meaning:
        "Records that could not be written to Postgres go to a local spill file and are replayed later; only a full spill disk " +
        "drops them. Growing spill = the database is down, slow or refusing writes; drops = data is already lost.",
      firstSteps: [
        "Service dashboard, 'Prediction log' row: written vs spilled vs replayed, write duration.",
        "kubectl -n $NS logs $POD --tail=200 | grep -i 'prediction.log\\|postgres'",
        "Check the database: kubectl -n $DB_NS get cluster,pods (CloudNativePG) and its connection count / disk.",
      ],
    },
    {
      // Early warning before PredictionLogLoss: the journal nears its cap, after which entries are dropped
      // (reason="spill_full") instead of the pod being evicted for its emptyDir.
      name: "PredictionLogSpillNearlyFull",
      severity: "ticket",
      expr: `${maxBy(replica, `${selector(METRICS.predictionLogSpillBytes)} / ${selector(METRICS.predictionLogSpillLimitBytes)}`)} > ${SPILL_NEARLY_FULL}`,
      for: "5m",
      summary: `Prediction log on {{ $labels.${LABEL.instance} }}: spill {{ $value | humanizePercentage }} full`,
      description:
        `The local prediction-log journal on ${label(LABEL.instance)}{{ with $labels.${LABEL.pod} }} (pod {{ . }}){{ end }} holds ` +
        `{{ $value | humanizePercentage }} of its cap (PREDICTION_LOG_SPILL_MAX_BYTES, set from the spill volume): past it new ` +
        `predictions are served but not logged, counted in ${METRICS.predictionLogDroppedTotal}{reason="spill_full"}.`,
      meaning:
        "Every prediction is written to a local journal first; the sink (PostgreSQL or S3) drains it. A journal near its cap means " +
        "the sink has been down or too slow for long; at the cap new entries are dropped (counted) so the pod is never evicted.",
      firstSteps: [
        "Is the sink up? /readyz shows prediction_log.healthy and the reason; PredictionLogLoss shows drops.",
        "kubectl -n $NS logs $POD --tail=200 | grep -i 'prediction.log'",
        "Buy time: scale the Deployment out (each pod has its own journal), or raise spillVolumeSize on the InferenceService.",
      ],
    },
  ];
}

/** Share of the spill cap at which PredictionLogSpillNearlyFull fires. */
export const SPILL_NEARLY_FULL = 0.8;
