/**
 * What the drift job found (pushed to the Pushgateway by the CronJob) and whether it still runs, and what the
 * service's online drift finds in live traffic between two runs.
 */
import { LABEL, METRICS, driftMatchers, eq, maxBy, minBy, selector } from "../promql";
import type { Task } from "../../service/src/contract";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { label, value } from "./templates";

/** `task`: a tensor model has no features (its inputs are tensors), so no online drift alert. */
export function driftAlerts(model: string, t: ModelAlertThresholds, task: Task = "binary"): AlertDefinition[] {
  // Pushed series carry the Pushgateway's namespace/pod when scraped in Kubernetes: keep only model (and column).
  const pushed = driftMatchers([eq(LABEL.model, model)]);
  const byModel = [LABEL.model];
  const byColumn = [LABEL.model, LABEL.column];
  const lastRun = selector(METRICS.driftLastRunTimestampSeconds, pushed);
  const staleSeconds = t.driftStaleHours * 3600;
  // Online drift is exported by each replica: per environment, variant, version and feature.
  const live = [eq(LABEL.model, model)];
  const byLiveFeature = [LABEL.namespace, LABEL.model, LABEL.variant, LABEL.version, LABEL.column];
  const alerts: AlertDefinition[] = [
    {
      name: "DataDriftDetected",
      severity: "ticket",
      expr:
        `${maxBy(byModel, selector(METRICS.driftShare, pushed))}\n` +
        `and on (${LABEL.model})\n${maxBy(byModel, selector(METRICS.driftDatasetDrifted, pushed))} == 1`,
      for: "0m",
      summary: `${label(LABEL.model)}: data drift, ${value.percent} of features drifted in the last drift run`,
      description:
        `The last drift run compared recent requests of ${label(LABEL.model)} with the training reference and found ` +
        `${value.percent} of the features drifted, enough to call the dataset drifted.`,
      meaning:
        "The inputs the model sees no longer look like its training data. The model may still be right (check hit rate), " +
        "but its accuracy on the new distribution is unknown: plan a retrain on recent data.",
      firstSteps: [
        "Drift dashboard: which features, how strongly, since which run.",
        "Open the drift job's HTML report (the job's output) for per-feature distributions.",
        "Service dashboard: is 'Hit rate vs baseline' dropping too? Then retrain with recent data.",
      ],
    },
    {
      name: "FeatureDrift",
      severity: "ticket",
      expr:
        `${maxBy([...byColumn, LABEL.driftMethod], selector(METRICS.driftColumnScore, pushed))}\n` +
        `and on (${byColumn.join(", ")})\n${maxBy(byColumn, selector(METRICS.driftColumnDrifted, pushed))} == 1`,
      for: "0m",
      summary: `${label(LABEL.model)}: feature ${label(LABEL.column)} drifted (${label(LABEL.driftMethod)} ${value.precise})`,
      description:
        `In the last drift run, feature ${label(LABEL.column)} of ${label(LABEL.model)} drifted from the reference: ` +
        `${label(LABEL.driftMethod)} score ${value.precise}.`,
      meaning:
        "One column's distribution moved past its test's threshold, as Evidently judges it (p-value at or below 0.05 for KS, below " +
        "0.05 for chi-squared / z; distance 0.1 or more for Wasserstein / Jensen-Shannon / PSI). The model's prediction and target " +
        "columns drift the same way. A single feature drifting is often an upstream change (units, encoding, a new category).",
      firstSteps: [
        "Drift dashboard: score history of this feature: sudden step (pipeline change) or slow trend (world change)?",
        "Ask the owner of the upstream feature whether its definition changed.",
      ],
    },
    {
      name: "OnlineFeatureDrift",
      severity: "ticket",
      expr:
        `${minBy([...byLiveFeature, LABEL.driftMethod], selector(METRICS.onlineDriftPValue, live))}\n` +
        `and on (${byLiveFeature.join(", ")})\n${maxBy(byLiveFeature, selector(METRICS.onlineDriftDrifted, live))} == 1`,
      for: "0m",
      summary: `${label(LABEL.model)} (${label(LABEL.variant)}): feature ${label(LABEL.column)} drifted in live traffic (${label(LABEL.driftMethod)} p-value ${value.precise})`,
      description:
        `The last window of recent requests to version ${label(LABEL.version)} of ${label(LABEL.model)} (${label(LABEL.variant)}) tested against the version's ` +
        `reference sample: feature ${label(LABEL.column)} has ${label(LABEL.driftMethod)} p-value ${value.precise}, under its calibrated threshold.`,
      meaning:
        "The service tests each full window of recent requests (ONLINE_DRIFT_WINDOW values per feature) against the reference sample shipped " +
        "with the version: KS for numeric features, chi-squared for categorical ones, each at 1 / (ONLINE_DRIFT_FALSE_ALARM_WINDOWS x features), " +
        "so traffic like the reference alarms about once per ONLINE_DRIFT_FALSE_ALARM_WINDOWS windows per replica. A real alarm means the inputs " +
        "of the last window did not come from the training distribution: an upstream change (units, encoding, a broken feature) shows as a " +
        "sudden very small p-value on one feature; a seasonal move as p-values sinking over many windows on several. It clears when a later " +
        "window no longer drifts.",
      firstSteps: [
        "Drift dashboard, row 'Online drift': which feature, since when (last drift time), how small the p-value is against its threshold line.",
        "One feature, sudden: ask its upstream owner what changed (deploy, unit, encoding); compare the service's logged features with the reference.",
        "Several features, gradual: confirm with the drift job's next run (FeatureDrift, report.html), then plan a retrain on recent data.",
      ],
    },
    {
      name: "DriftJobStale",
      severity: "ticket",
      expr:
        `time() - ${maxBy(byModel, lastRun)} > ${staleSeconds}\n` +
        `or\n${maxBy(byModel, `absent_over_time(${lastRun}[${t.driftStaleHours}h])`)}`,
      for: "5m",
      summary: `${label(LABEL.model)}: no drift run in ${t.driftStaleHours}h`,
      description:
        `{{ if gt $value 1.0 }}The last drift run of ${label(LABEL.model)} finished ${value.duration} ago{{ else }}` +
        `No drift run of ${label(LABEL.model)} was recorded in the last ${t.driftStaleHours}h{{ end }}: drift is not being watched.`,
      meaning:
        "The drift CronJob did not push a result: it failed, was suspended, cannot reach the prediction log or the Pushgateway, or " +
        "the Pushgateway restarted without persistence.",
      firstSteps: [
        "kubectl -n $NS get cronjob $DRIFT_CRONJOB   # SUSPEND? LAST SCHEDULE?",
        "kubectl -n $NS get jobs --sort-by=.status.startTime | grep $DRIFT_CRONJOB | tail -3",
        "kubectl -n $NS logs job/<latest job from above>",
        "Run it now: kubectl -n $NS create job --from=cronjob/$DRIFT_CRONJOB $DRIFT_CRONJOB-manual-$(date +%s)",
      ],
    },
  ];
  return task === "tensor" ? alerts.filter((a) => a.name !== "OnlineFeatureDrift") : alerts;
}
