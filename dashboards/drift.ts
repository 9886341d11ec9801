/**
 * "<model> drift": what the drift CronJob found (pushed to the Pushgateway) and whether it still runs. The
 * per-feature score is the test's statistic as pushed: a p-value for KS / chi-squared (drift below 0.05),
 * a distance for Wasserstein / Jensen-Shannon (drift at 0.1 and above); the method label says which.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { DEFAULT_MODEL_THRESHOLDS } from "../alerts/types";
import { LABEL, METRICS, driftMatchers, eq, maxBy, selector, sumBy } from "../alerts/promql";
import { DashboardLayout, YES_NO_MAPPINGS, datasourceVariable, labelVariable, newDashboard } from "./panels";
import { MODEL_VARIABLE } from "./service";

export function driftDashboard(model: string, uid: string, runbookUrl: string): dashboard.Dashboard {
  const t = DEFAULT_MODEL_THRESHOLDS;
  const pushed = driftMatchers([eq(LABEL.model, MODEL_VARIABLE)]);
  const of = (metric: string) => selector(metric, pushed);
  const builder = newDashboard({
    uid,
    title: `${model} drift`,
    description: `Data drift of ${model}: results of the drift CronJob (recent requests vs training reference). Runbook: ${runbookUrl}`,
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
    .link(new dashboard.DashboardLinkBuilder("Runbook").type(dashboard.DashboardLinkType.Link).url(runbookUrl).targetBlank(true).icon("doc"))
    .link(new dashboard.DashboardLinkBuilder("Modelport dashboards").type(dashboard.DashboardLinkType.Dashboards).tags(["modelport"]).asDropdown(true).includeVars(true).keepTime(true));
  const layout = new DashboardLayout(builder);
  const byModel = [LABEL.model];

  layout
    .row("Last run")
    .stat({
      title: "Since last run",
      description: `Time since the drift job last pushed a result. DriftJobStale fires after ${t.driftStaleHours} h.`,
      queries: [{ expr: `time() - ${maxBy(byModel, of(METRICS.driftLastRunTimestampSeconds))}`, legend: "since last run", instant: true }],
      unit: "s",
      steps: [{ value: 25 * 3600, color: "yellow" }, { value: t.driftStaleHours * 3600, color: "red" }],
      graph: false,
    })
    .stat({
      title: "Dataset drifted",
      description: "Whether the last run called the whole dataset drifted (at least half of the features drifted).",
      queries: [{ expr: maxBy(byModel, of(METRICS.driftDatasetDrifted)), legend: "dataset drifted", instant: true }],
      mappings: YES_NO_MAPPINGS,
      steps: [{ value: 1, color: "red" }],
      graph: false,
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
      description: "Score per feature and test (p-value for ks / chi2 / z: drift below 0.05; distance for wasserstein / jensenshannon: drift from 0.1) and whether it drifted (1).",
      queries: [
        { expr: maxBy([LABEL.column, LABEL.driftMethod], of(METRICS.driftColumnScore)), legend: "score", instant: true, format: prometheus.PromQueryFormat.Table },
        { expr: maxBy([LABEL.column], of(METRICS.driftColumnDrifted)), legend: "drifted", instant: true, format: prometheus.PromQueryFormat.Table },
      ],
      sortBy: "Value #B",
    })
    .timeseries({
      title: "Feature score history",
      description: "Each feature's drift score run after run: a step is an upstream change, a slope is the world changing.",
      queries: [{ expr: maxBy([LABEL.column, LABEL.driftMethod], of(METRICS.driftColumnScore)), legend: "{{column}} ({{method}})" }],
      unit: "short",
    });

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
