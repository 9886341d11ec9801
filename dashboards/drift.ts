/**
 * "<model> drift": what the drift CronJob found (pushed to the Pushgateway) and whether it still runs, and
 * between its runs what the service's online drift finds in live traffic (a row per model task with features). The
 * per-feature score is the test's statistic as pushed: a p-value for KS / chi-squared (drift below 0.05),
 * a distance for Wasserstein / Jensen-Shannon (drift at 0.1 and above); the method label says which.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { LABEL, METRICS, driftMatchers, eq, maxBy, minBy, oneOf, selector, sumBy } from "../alerts/promql";
import { DRIFT_COLUMNS } from "../service/src/contract";
import type { ModelDashboardContext } from "./context";
import { DashboardLayout, YES_NO_MAPPINGS, datasourceVariable, labelVariable, newDashboard, runbookLink } from "./panels";
import { MODEL_VARIABLE } from "./scope";

export function driftDashboard(ctx: ModelDashboardContext, uid: string): dashboard.Dashboard {
  const { model } = ctx;
  const t = ctx.thresholds;
  const runbookUrl = ctx.runbookPage;
  const [stale, dataset, feature] = [ctx.alert("DriftJobStale"), ctx.alert("DataDriftDetected"), ctx.alert("FeatureDrift")];
  const outputs = DRIFT_COLUMNS[ctx.task];
  const outputColumns = [outputs.prediction.name, ...(outputs.target ? [outputs.target.name] : [])];
  const pushed = driftMatchers([eq(LABEL.model, MODEL_VARIABLE)]);
  const of = (metric: string) => selector(metric, pushed);
  const builder = newDashboard({
    uid,
    title: `${model} drift`,
    description: `Data drift of ${model}: results of the drift CronJob (recent requests vs training reference), and online drift in the service. Runbook: ${runbookUrl}`,
    tags: ["modelport", "drift", model],
  })
    .time({ from: "now-7d", to: "now" })
    .refresh("5m")
    .withVariable(datasourceVariable())
    .withVariable(
      labelVariable({
        name: "model",
        label: "Model",
        query: `label_values(${selector(METRICS.driftLastRunTimestampSeconds, driftMatchers([]))}, ${LABEL.model})`,
        description: "Model whose drift results to show.",
        preselect: model,
      }),
    )
    .link(runbookLink("Runbook", runbookUrl))
    .link(new dashboard.DashboardLinkBuilder("Modelport dashboards").type(dashboard.DashboardLinkType.Dashboards).tags(["modelport"]).asDropdown(true).includeVars(true).keepTime(true));
  const layout = new DashboardLayout(builder);
  const byModel = [LABEL.model];

  layout
    .row("Last run")
    .stat({
      title: "Since last run",
      description: `Time since the drift job last pushed a result. ${stale.name} fires after ${t.driftStaleHours} h.`,
      queries: [{ expr: `time() - ${maxBy(byModel, of(METRICS.driftLastRunTimestampSeconds))}`, legend: "since last run", instant: true }],
      unit: "s",
      steps: [{ value: Math.max(t.driftStaleHours - 1, 0) * 3600, color: "yellow" }, { value: t.driftStaleHours * 3600, color: "red" }],
      graph: false,
      alert: stale,
    })
    .stat({
      title: "Dataset drifted",
      description: `Whether the last run called the whole dataset drifted (at least the job's drift share of the features drifted, half by default). ${dataset.name} fires on it.`,
      queries: [{ expr: maxBy(byModel, of(METRICS.driftDatasetDrifted)), legend: "dataset drifted", instant: true }],
      mappings: YES_NO_MAPPINGS,
      steps: [{ value: 1, color: "red" }],
      graph: false,
      alert: dataset,
    })
    .stat({
      title: "Share of features drifted",
      description: "Drifted features / all features in the last run. 50% and above = dataset drift.",
      queries: [{ expr: maxBy(byModel, of(METRICS.driftShare)), legend: "share", instant: true }],
      unit: "percentunit",
      steps: [{ value: 0.25, color: "yellow" }, { value: 0.5, color: "red" }],
      graph: false,
    })
    .stat({
      title: "Features drifting",
      description: "Number of features the last run found drifted.",
      queries: [{ expr: sumBy(byModel, of(METRICS.driftColumnDrifted)), legend: "features", instant: true }],
      steps: [{ value: 1, color: "orange" }],
      graph: false,
    })
    .stat({
      title: "Rows compared",
      description: "Rows in the reference (training) and current (recent requests from the prediction log) datasets of the last run. Few current rows make the tests weak.",
      queries: [{ expr: maxBy([LABEL.dataset], of(METRICS.driftRows)), legend: "{{dataset}}", instant: true }],
      textMode: common.BigValueTextMode.ValueAndName,
      graph: false,
      steps: [],
      width: 8,
    });

  layout
    .row("Per feature")
    .table({
      title: "Features in the last run",
      description: `Score per column and test (p-value for ks: drift at 0.05 and below, chisquare / z: below 0.05; distance for wasserstein / jensenshannon / psi: drift from 0.1) and whether it drifted (1); the ${outputColumns.join(" and ")} rows are the model's ${outputColumns.length > 1 ? "prediction and target" : "prediction"}. ${feature.name} fires for each drifted one.`,
      queries: [
        { expr: maxBy([LABEL.column, LABEL.driftMethod], of(METRICS.driftColumnScore)), legend: "score", instant: true, format: prometheus.PromQueryFormat.Table },
        { expr: maxBy([LABEL.column], of(METRICS.driftColumnDrifted)), legend: "drifted", instant: true, format: prometheus.PromQueryFormat.Table },
      ],
      sortBy: "Value #B",
      alert: feature,
    })
    .timeseries({
      title: ctx.task === "tensor" ? "Prediction drift (output norm)" : "Prediction and target drift",
      description: `Drift score of the model's ${outputs.prediction.description}${outputs.target ? ` and of the ground truth (${outputs.target.description})` : ""} against the reference, run after run.`,
      queries: [{ expr: maxBy([LABEL.column, LABEL.driftMethod], selector(METRICS.driftColumnScore, [...pushed, oneOf(LABEL.column, outputColumns)])), legend: "{{column}} ({{method}})" }],
      unit: "short",
    })
    .timeseries({
      title: "Feature score history",
      description: "Each feature's drift score run after run: a step is an upstream change, a slope is the world changing.",
      queries: [{ expr: maxBy([LABEL.column, LABEL.driftMethod], of(METRICS.driftColumnScore)), legend: "{{column}} ({{method}})" }],
      unit: "short",
    });

  if (ctx.task !== "tensor") onlineDriftRow(ctx, layout);

  layout
    .row("History")
    .timeseries({
      title: "Share of features drifted",
      description: "Drift share per run over time; dashed line: the 50% dataset-drift threshold.",
      queries: [{ expr: maxBy(byModel, of(METRICS.driftShare)), legend: "share" }],
      unit: "percentunit",
      min: 0,
      max: 1,
      steps: [{ value: 0.5, color: "red" }],
    })
    .timeseries({
      title: "Drifted features",
      description: "Which features were flagged drifted (1) over time.",
      queries: [{ expr: maxBy([LABEL.column], of(METRICS.driftColumnDrifted)), legend: "{{column}}" }],
      unit: "short",
      stack: true,
    });
  return builder.build();
}

/** The service's online drift: exported by every replica, per variant, version and feature (tensor models have none). */
function onlineDriftRow(ctx: ModelDashboardContext, layout: DashboardLayout): void {
  const online = ctx.alert("OnlineFeatureDrift");
  const live = (metric: string) => selector(metric, [eq(LABEL.model, MODEL_VARIABLE)]);
  const liveFeature = [LABEL.variant, LABEL.version, LABEL.column];
  layout
    .row("Online drift (in the service)")
    .table({
      title: "Features in the last tested window",
      description:
        "Each replica tests every full window of recent requests (ONLINE_DRIFT_WINDOW values per feature) against the serving version's reference sample: " +
        "KS for numeric features, chi-squared for categorical ones. A feature drifts when its p-value is under its threshold, 1 / (ONLINE_DRIFT_FALSE_ALARM_WINDOWS x features), " +
        `so traffic like the reference alarms about once in ONLINE_DRIFT_FALSE_ALARM_WINDOWS windows per replica. ${online.name} fires for each drifted one (lowest p-value over the replicas).`,
      queries: [
        { expr: minBy([...liveFeature, LABEL.driftMethod], live(METRICS.onlineDriftPValue)), legend: "p-value", instant: true, format: prometheus.PromQueryFormat.Table },
        { expr: maxBy([...liveFeature, LABEL.driftMethod], live(METRICS.onlineDriftThreshold)), legend: "threshold", instant: true, format: prometheus.PromQueryFormat.Table },
        { expr: maxBy(liveFeature, live(METRICS.onlineDriftDrifted)), legend: "drifted", instant: true, format: prometheus.PromQueryFormat.Table },
      ],
      sortBy: "Value #C",
      alert: online,
    })
    .timeseries({
      title: "p-value per feature, and its threshold",
      description: "The last tested window's p-value per feature (lowest over the replicas), dashed: the threshold it drifts under. Log scale: healthy traffic moves between 1 and ~0.01; drift plunges by orders of magnitude.",
      queries: [
        { expr: minBy(liveFeature, live(METRICS.onlineDriftPValue)), legend: "{{column}} ({{variant}} v{{version}})" },
        { expr: maxBy([LABEL.variant, LABEL.version], live(METRICS.onlineDriftThreshold)), legend: "threshold ({{variant}} v{{version}})" },
      ],
      unit: "short",
      alert: online,
    })
    .stat({
      title: "Windows tested (1 h)",
      description: "Windows of recent requests tested in the last hour, over the replicas. None: no traffic, ONLINE_DRIFT_WINDOW=0, or a version without reference.csv.",
      queries: [{ expr: maxBy([LABEL.model], sumBy([LABEL.model, LABEL.column], `increase(${live(METRICS.onlineDriftWindowsTotal)}[1h])`)), legend: "windows", instant: true }],
      steps: [],
      graph: false,
    })
    .stat({
      title: "Features drifting now",
      description: `Features whose last tested window drifted, on any replica. ${online.name} fires for each.`,
      queries: [{ expr: `count(${maxBy(liveFeature, live(METRICS.onlineDriftDrifted))} == 1) or vector(0)`, legend: "features", instant: true }],
      steps: [{ value: 1, color: "red" }],
      graph: false,
      alert: online,
    })
    .stat({
      title: "Last online drift",
      description: "When a feature last drifted in live traffic (any replica, the versions serving now). Never: no drift since these versions loaded.",
      queries: [{ expr: `${maxBy([LABEL.model], live(METRICS.onlineDriftLastDriftTimestampSeconds))} * 1000`, legend: "last drift", instant: true }],
      unit: "dateTimeFromNow",
      mappings: [{ type: dashboard.MappingType.ValueToText, options: { "0": { text: "Never", color: "green", index: 0 } } }],
      steps: [],
      graph: false,
    })
    .timeseries({
      title: "Drifted windows per feature (1 h)",
      description: "Windows in which each feature drifted, per hour: isolated ones at the expected false-alarm rate are noise; a run of them is a shift.",
      queries: [{ expr: sumBy([LABEL.column], `increase(${live(METRICS.onlineDriftDriftedWindowsTotal)}[1h])`), legend: "{{column}}" }],
      unit: "short",
      stack: true,
    });
}
