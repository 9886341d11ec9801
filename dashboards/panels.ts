/**
 * The few panel shapes every Modelport dashboard uses, on top of the Grafana foundation SDK builders: each
 * panel gets a unique id, a description (what it shows and what "bad" looks like), a unit, and queries bound
 * to the dashboard's Prometheus datasource variable.
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as heatmap from "@grafana/grafana-foundation-sdk/heatmap";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as statetimeline from "@grafana/grafana-foundation-sdk/statetimeline";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import type { AlertLink } from "./context";

/** Name of the datasource variable; every query runs against `${datasource}`. */
export const DATASOURCE_VARIABLE = "datasource";
export const DATASOURCE: common.DataSourceRef = { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` };
/** Grafana's rate window for the current zoom (at least 4 scrape intervals). */
export const RATE_WINDOW = "$__rate_interval";

export interface Query {
  readonly expr: string;
  /** Series name in the legend, e.g. "{{variant}} p99". */
  readonly legend?: string;
  /** Evaluate once at the end of the range (stats, tables) instead of over the range. */
  readonly instant?: boolean;
  readonly format?: prometheus.PromQueryFormat;
}

/** A value where the colour changes: green below the first step, then each step's colour from its value on. */
export interface Step {
  readonly value: number;
  readonly color: "green" | "yellow" | "orange" | "red" | "blue";
}

interface PanelCommon {
  readonly title: string;
  readonly description: string;
  readonly queries: readonly Query[];
  readonly unit?: string;
  readonly width?: number;
  readonly height?: number;
  readonly steps?: readonly Step[];
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  readonly mappings?: readonly dashboard.ValueMapping[];
  /** The alert this panel shows the condition of: linked as "Runbook: <alert>" from the panel. */
  readonly alert?: AlertLink;
}

function targets(queries: readonly Query[]): cog.Builder<cog.Dataquery>[] {
  return queries.map((query, index) => {
    const target = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + index))
      .expr(query.expr)
      .legendFormat(query.legend ?? "__auto");
    if (query.instant) target.instant();
    else target.range();
    if (query.format) target.format(query.format);
    return target;
  });
}

function thresholds(steps: readonly Step[] = []): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: "green" }, ...steps.map((step) => ({ value: step.value, color: step.color }))]);
}

type AnyPanelBuilder = timeseries.PanelBuilder | stat.PanelBuilder | heatmap.PanelBuilder | statetimeline.PanelBuilder | table.PanelBuilder;

/** Collects panels in rows and numbers them: Grafana needs a unique id per panel. */
export class DashboardLayout {
  private nextId = 1;
  constructor(private readonly builder: dashboard.DashboardBuilder) {}

  row(title: string): this {
    this.builder.withRow(new dashboard.RowBuilder(title).id(this.nextId++));
    return this;
  }

  private add<T extends AnyPanelBuilder>(panel: T, spec: PanelCommon, defaults: { width: number; height: number }): T {
    panel
      .id(this.nextId++)
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .targets(targets(spec.queries))
      .span(spec.width ?? defaults.width)
      .height(spec.height ?? defaults.height)
      .thresholds(thresholds(spec.steps));
    if (spec.unit) panel.unit(spec.unit);
    if (spec.min !== undefined) panel.min(spec.min);
    if (spec.max !== undefined) panel.max(spec.max);
    if (spec.decimals !== undefined) panel.decimals(spec.decimals);
    if (spec.mappings) panel.mappings([...spec.mappings]);
    if (spec.alert) panel.links([runbookLink(`Runbook: ${spec.alert.name}`, spec.alert.url)]);
    this.builder.withPanel(panel);
    return panel;
  }

  /** Big number: the latest value, coloured by the thresholds. */
  stat(spec: PanelCommon & { readonly textMode?: common.BigValueTextMode; readonly graph?: boolean }): this {
    const panel = new stat.PanelBuilder()
      .colorMode(common.BigValueColorMode.Background)
      .graphMode(spec.graph === false ? common.BigValueGraphMode.None : common.BigValueGraphMode.Area)
      .textMode(spec.textMode ?? common.BigValueTextMode.Auto)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
    this.add(panel, spec, { width: 4, height: 4 });
    return this;
  }

  /** Lines over time; thresholds drawn as dashed lines so "bad" is visible without reading the axis. */
  timeseries(spec: PanelCommon & { readonly stack?: boolean }): this {
    const panel = new timeseries.PanelBuilder()
      .lineWidth(1)
      .fillOpacity(10)
      .showPoints(common.VisibilityMode.Never)
      .spanNulls(false)
      .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
      .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(spec.steps?.length ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off));
    if (spec.stack) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
    this.add(panel, spec, { width: 12, height: 8 });
    return this;
  }

  /** Which state when: the "since when" of a version change or a replica losing its model. */
  stateTimeline(spec: PanelCommon): this {
    const panel = new statetimeline.PanelBuilder()
      .showValue(common.VisibilityMode.Auto)
      .mergeValues(true)
      .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true));
    this.add(panel, spec, { width: 12, height: 6 });
    return this;
  }

  /** Distribution over time from a Prometheus histogram (buckets as rows). */
  heatmap(spec: PanelCommon): this {
    const panel = new heatmap.PanelBuilder()
      .calculate(false)
      .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme).scheme("Oranges").steps(64).exponent(0.5).fill("dark-orange").reverse(false).scale(heatmap.HeatmapColorScale.Exponential))
      .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
      .yAxis(new heatmap.YAxisConfigBuilder().unit(spec.unit ?? "short").axisPlacement(common.AxisPlacement.Left))
      .cellGap(1)
      .showValue(common.VisibilityMode.Never)
      .tooltip(new heatmap.HeatmapTooltipBuilder().mode(common.TooltipDisplayMode.Single).yHistogram(true).showColorScale(true))
      .showLegend();
    this.add(panel, spec, { width: 12, height: 8 });
    return this;
  }

  /** Latest value per series as rows (instant queries merged on their labels). */
  table(spec: PanelCommon & { readonly sortBy?: string }): this {
    const panel = new table.PanelBuilder()
      .withTransformation({ id: "merge", options: {} })
      .withTransformation({ id: "organize", options: { excludeByName: { Time: true } } });
    if (spec.sortBy) panel.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy).desc(true)]);
    this.add(panel, spec, { width: 12, height: 8 });
    return this;
  }
}

export function runbookLink(title: string, url: string): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(title).type(dashboard.DashboardLinkType.Link).url(url).targetBlank(true).icon("doc");
}

/** Prometheus datasource picker: the dashboards work on any Prometheus-compatible datasource. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder(DATASOURCE_VARIABLE).label("Datasource").type("prometheus");
}

/** A label_values() variable. `preselect` is the value shown until the user picks another. */
export function labelVariable(options: {
  name: string;
  label: string;
  query: string;
  description: string;
  preselect?: string;
  multi?: boolean;
}): dashboard.QueryVariableBuilder {
  const variable = new dashboard.QueryVariableBuilder(options.name)
    .label(options.label)
    .description(options.description)
    .datasource(DATASOURCE)
    .query({ query: options.query, refId: "PrometheusVariableQueryEditor-VariableQuery" })
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  if (options.multi) variable.multi(true).includeAll(true).allValue(".*");
  const preselect = options.preselect ?? (options.multi ? "$__all" : undefined);
  if (preselect) {
    const text = preselect === "$__all" ? "All" : preselect;
    variable.current({ selected: true, text, value: preselect });
  }
  return variable;
}

/** Dashboard defaults: last 6 h, 30 s refresh, shared crosshair, UTC-independent (browser time). */
export function newDashboard(options: { uid: string; title: string; description: string; tags: string[] }): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(options.title)
    .uid(options.uid)
    .description(options.description)
    .tags(options.tags)
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: "now-6h", to: "now" })
    .refresh("30s")
    .timezone("browser");
}

export const LOADED_MAPPINGS: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: { "0": { text: "NOT LOADED", color: "red", index: 0 }, "1": { text: "Loaded", color: "green", index: 1 } },
  },
];
export const YES_NO_MAPPINGS: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: { "0": { text: "No", color: "green", index: 0 }, "1": { text: "Yes", color: "red", index: 1 } },
  },
];
