/**
 * "<model> service": the dashboard on-call opens first. Top row answers "is it broken, since when, which
 * version"; the rows below go from traffic and latency to what the model answers and how right it is (per
 * task), canary comparison, batching, the prediction log and the runtime. Queries come from the same builders as
 * the alerts and thresholds and runbook links from the model's own rules, so a red panel and a firing alert mean
 * the same thing.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import {
  LABEL,
  METRICS,
  PROMETHEUS_ALERTS,
  SHADOW,
  attributedToServingProcess,
  eq,
  http5xxRatio,
  httpRequestRate,
  latencyQuantile,
  maxBy,
  ne,
  predictionErrorRatio,
  predictionRate,
  selector,
  sumBy,
} from "../alerts/promql";
import { percent, seconds } from "../alerts/rules/templates";
import type { ModelDashboardContext } from "./context";
import { canaryOutputPanel, groundTruthRow, predictionRow } from "./model-outputs";
import { DashboardLayout, LOADED_MAPPINGS, RATE_WINDOW, datasourceVariable, labelVariable, newDashboard, runbookLink } from "./panels";
import { modelMatcher, scope, served, stableVsCanary } from "./scope";
import { runtimeRows } from "./service-runtime";

export { MODEL_VARIABLE, VARIANT_VARIABLE } from "./scope";

export function serviceDashboard(ctx: ModelDashboardContext, uid: string): dashboard.Dashboard {
  const { model } = ctx;
  const t = ctx.thresholds;
  const builder = newDashboard({
    uid,
    title: `${model} service`,
    description: `Inference service of ${model} (${ctx.task} model): health, traffic, latency, model quality, canary and prediction log. Runbook: ${ctx.runbookPage}`,
    tags: ["modelport", "model", model],
  })
    .withVariable(datasourceVariable())
    .withVariable(
      labelVariable({
        name: "model",
        label: "Model",
        query: `label_values(${METRICS.modelInfo}, ${LABEL.model})`,
        description: "Model served (the model label of model_info).",
        preselect: model,
      }),
    )
    .withVariable(
      labelVariable({
        name: "variant",
        label: "Variant",
        query: `label_values(${selector(METRICS.modelInfo, [modelMatcher])}, ${LABEL.variant})`,
        description: "stable, canary or shadow.",
        multi: true,
      }),
    )
    .link(runbookLink("Runbook", ctx.runbookPage))
    .link(new dashboard.DashboardLinkBuilder("Modelport dashboards").type(dashboard.DashboardLinkType.Dashboards).tags(["modelport"]).asDropdown(true).includeVars(true).keepTime(true));
  const layout = new DashboardLayout(builder);
  const all = scope([]);
  const byVariant = scope([LABEL.variant]);

  layout
    .row("Is it broken? Since when? Which version?")
    .stat({
      title: "Model loaded",
      description: "Lowest model_loaded over the replicas of each variant: NOT LOADED means at least one replica serves nothing (ModelNotLoaded pages when no replica has it).",
      queries: [{ expr: `min by (${LABEL.variant}) (${selector(METRICS.modelLoaded, [...served, ne(LABEL.variant, SHADOW)])})`, legend: "{{variant}}", instant: true }],
      mappings: LOADED_MAPPINGS,
      steps: [],
      graph: false,
      textMode: common.BigValueTextMode.ValueAndName,
      width: 4,
      alert: ctx.alert("ModelNotLoaded"),
    })
    .stat({
      title: "Firing alerts",
      description: "Alerts firing for this model right now (Prometheus ALERTS). Details and runbook links in Alertmanager.",
      queries: [{ expr: `sum(${selector(PROMETHEUS_ALERTS, [eq("alertstate", "firing"), modelMatcher])}) or vector(0)`, legend: "firing", instant: true }],
      steps: [{ value: 1, color: "red" }],
      graph: false,
      width: 3,
    })
    .stat({
      title: "Requests/s",
      description: "Inference requests per second over the selected variants (probes and /metrics excluded).",
      queries: [{ expr: httpRequestRate(all, RATE_WINDOW), legend: "req/s" }],
      unit: "reqps",
      width: 4,
    })
    .stat({
      title: "5xx ratio",
      description: `Share of inference requests answered 5xx. HighErrorRate fires above ${percent(t.errorRatio)} for 5 minutes.`,
      queries: [{ expr: http5xxRatio(all, RATE_WINDOW), legend: "5xx" }],
      unit: "percentunit",
      steps: [{ value: t.errorRatio / 2, color: "yellow" }, { value: t.errorRatio, color: "red" }],
      decimals: 2,
      width: 4,
      alert: ctx.alert("HighErrorRate"),
    })
    .stat({
      title: "p99 latency",
      description: `p99 time to score a record, batch queueing included. HighLatency fires above ${seconds(t.latencyP99Seconds)} for 5 minutes.`,
      queries: [{ expr: latencyQuantile(0.99, all, RATE_WINDOW), legend: "p99" }],
      unit: "s",
      steps: [{ value: t.latencyP99Seconds / 2, color: "yellow" }, { value: t.latencyP99Seconds, color: "red" }],
      width: 4,
      alert: ctx.alert("HighLatency"),
    })
    .stat({
      title: "Served version",
      description: "Registry version each variant serves now (model_info), with the alias it follows.",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.version, LABEL.alias], selector(METRICS.modelInfo, served)), legend: "{{variant}}: v{{version}} @{{alias}}", instant: true }],
      textMode: common.BigValueTextMode.Name,
      graph: false,
      steps: [],
      width: 5,
    })
    .stateTimeline({
      title: "Served version over time",
      description: "Which version each variant served when: a colour change is a deploy or an alias move (the 'since when').",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.version], selector(METRICS.modelInfo, served)), legend: "{{variant}} v{{version}}" }],
      steps: [],
    })
    .stateTimeline({
      title: "Model loaded per replica",
      description: "model_loaded per replica: red stretches are replicas without a model (loading, failed reload, crash). ReadinessFlapping fires when a replica flips more than twice in 15 minutes.",
      queries: [{ expr: maxBy([LABEL.variant, LABEL.instance], selector(METRICS.modelLoaded, served)), legend: "{{variant}} {{instance}}" }],
      mappings: LOADED_MAPPINGS,
      steps: [],
      alert: ctx.alert("ReadinessFlapping"),
    });

  layout
    .row("Traffic and latency")
    .timeseries({
      title: "Requests/s by route and status",
      description: "Inference requests per second by route template and HTTP status. 4xx are callers' bad input; 5xx are ours. NoTraffic fires when stable answers nothing for 15 minutes at an hour it answered yesterday.",
      queries: [{ expr: httpRequestRate(scope([LABEL.route, LABEL.statusCode]), RATE_WINDOW), legend: "{{route}} {{status_code}}" }],
      unit: "reqps",
      stack: true,
      alert: ctx.alert("NoTraffic"),
    })
    .timeseries({
      title: "Prediction latency p50 / p99",
      description: `Time to score one record, queueing included, per variant. Dashed line: the ${seconds(t.latencyP99Seconds)} p99 SLO (HighLatency).`,
      queries: [
        { expr: latencyQuantile(0.5, byVariant, RATE_WINDOW), legend: "{{variant}} p50" },
        { expr: latencyQuantile(0.99, byVariant, RATE_WINDOW), legend: "{{variant}} p99" },
      ],
      unit: "s",
      steps: [{ value: t.latencyP99Seconds, color: "red" }],
      alert: ctx.alert("HighLatency"),
    })
    .timeseries({
      title: "Error ratios",
      description: `5xx share of inference requests, and share of predictions that ended in a model error, per variant. Dashed line: the ${percent(t.errorRatio)} 5xx ratio HighErrorRate fires above.`,
      queries: [
        { expr: http5xxRatio(byVariant, RATE_WINDOW), legend: "{{variant}} 5xx" },
        { expr: predictionErrorRatio(byVariant, RATE_WINDOW), legend: "{{variant}} model errors" },
      ],
      unit: "percentunit",
      min: 0,
      steps: [{ value: t.errorRatio, color: "red" }],
      alert: ctx.alert("HighErrorRate"),
    })
    .timeseries({
      title: "Fallbacks and rejections",
      description: "Answers given by the fallback instead of the model, and requests refused with 503, per reason. Both mean the model could not answer in time.",
      queries: [
        // Fallback and rejection counters appear at their first event: a zero line per variant until then.
        { expr: `${sumBy([LABEL.variant, LABEL.reason], `rate(${selector(METRICS.predictionsFallbackTotal, served)}[${RATE_WINDOW}])`)}\nor\n0 * ${predictionRate(byVariant, RATE_WINDOW)}`, legend: "fallback {{variant}} {{reason}}" },
        { expr: `${sumBy([LABEL.variant, LABEL.reason], `rate(${selector(METRICS.predictionsRejectedTotal, served)}[${RATE_WINDOW}])`)}\nor\n0 * ${predictionRate(byVariant, RATE_WINDOW)}`, legend: "rejected {{variant}} {{reason}}" },
      ],
      unit: "reqps",
        })
    .timeseries({
      title: "Connections dropped",
      description:
        `Connections the HTTP layer closed to protect the service, per replica and reason, in 15 minutes (max_connections, pipelining, request_timeout, connection_timeout, malformed). ` +
        `Dashed line: the ${t.connectionDrops15m} in 15 minutes ConnectionsDropped fires above.`,
      queries: [{ expr: sumBy([LABEL.instance, LABEL.reason], attributedToServingProcess(`increase(${METRICS.httpConnectionsDroppedTotal}[15m])`, { matchers: served, by: [] })), legend: "{{instance}} {{reason}}" }],
      unit: "short",
      min: 0,
      steps: [{ value: t.connectionDrops15m, color: "red" }],
      alert: ctx.alert("ConnectionsDropped"),
    });

  predictionRow(layout, ctx);
  groundTruthRow(layout, ctx);

  const canary = ctx.alert("CanaryWorseThanStable");
  layout
    .row("Stable vs canary")
    .timeseries({
      title: "5xx ratio: stable vs canary",
      description: `${canary.name} fires when the canary's 5xx ratio exceeds stable's by ${percent(t.canaryErrorRatioMargin)} for 5 minutes, with at least ${t.canaryMinPredictions} predictions on each in 5 minutes.`,
      queries: [{ expr: http5xxRatio(stableVsCanary([LABEL.variant]), RATE_WINDOW), legend: "{{variant}}" }],
      unit: "percentunit",
      width: 8,
      alert: canary,
    })
    .timeseries({
      title: "p99 latency: stable vs canary",
      description: `${canary.name} fires when the canary's p99 exceeds ${t.canaryLatencyFactor}x stable's for 5 minutes, with at least ${t.canaryMinPredictions} predictions on each in 5 minutes.`,
      queries: [{ expr: latencyQuantile(0.99, stableVsCanary([LABEL.variant]), RATE_WINDOW), legend: "{{variant}}" }],
      unit: "s",
      width: 8,
      alert: canary,
    });
  canaryOutputPanel(layout, ctx);

  runtimeRows(layout, ctx);
  return builder.build();
}
