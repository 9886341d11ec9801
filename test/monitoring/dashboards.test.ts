// Dashboards checked without a Grafana: against a JSON Schema generated from @grafana/schema's Dashboard type,
// for panel hygiene (ids, datasource, queries, descriptions, units), and every query parsed by promtool with
// metric names from the contract, for a model of every task.
import Ajv from "ajv";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator } from "ts-json-schema-generator";
import { stringify } from "yaml";
import { DashboardFile, modelDashboards, platformDashboards } from "../../dashboards";
import { RECORDED, isAlertRule, modelRuleGroups, platformRuleGroups } from "../../alerts";
import { DCGM_METRICS, METRICS, TASKS, type Task } from "../../service/src/contract";
import { PROMETHEUS_ALERTS } from "../../alerts/promql";
import { promtool } from "../support/prometheus";
import { expandVariables } from "./dashboard-variables";
import { metricNames } from "./promql-names";

const MODEL = "flight-delay";
const TASK_MODEL: Record<Task, string> = { binary: MODEL, multiclass: "delay-class", regression: "delay-minutes", tensor: "embedder" };
const byTask = TASKS.map((task) => [task, modelDashboards(TASK_MODEL[task], { task })] as const);
const dashboards: DashboardFile[] = [...byTask.flatMap(([, files]) => files), ...platformDashboards()];
const modelOf = (dashboard: DashboardFile) => Object.values(TASK_MODEL).find((model) => dashboard.uid.startsWith(`modelport-${model}-`)) ?? MODEL;

interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
  fieldConfig?: { defaults?: { unit?: string } };
}
const panelsOf = (dashboard: DashboardFile) => (dashboard.json.panels as PanelJson[]).filter((panel) => panel.type !== "row");

const histograms = [
  METRICS.predictionLatencySeconds,
  METRICS.predictionProbability,
  METRICS.predictionValue,
  METRICS.predictionOutputNorm,
  METRICS.httpRequestDurationSeconds,
  METRICS.inferenceBatchSize,
  METRICS.inferenceQueueWaitSeconds,
  METRICS.predictionLogWriteDurationSeconds,
];
const KNOWN_METRICS = new Set<string>([
  ...Object.values(METRICS),
  ...histograms.flatMap((h) => [`${h}_bucket`, `${h}_count`, `${h}_sum`]),
  ...Object.values(DCGM_METRICS),
  ...Object.values(RECORDED),
  PROMETHEUS_ALERTS,
]);

describe("dashboards", () => {
  it("are valid against Grafana's Dashboard schema (generated from @grafana/schema)", () => {
    const schema = createGenerator({
      path: join(__dirname, "..", "..", "node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts"),
      type: "Dashboard",
      skipTypeCheck: true,
      expose: "export",
    }).createSchema("Dashboard");
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    for (const dashboard of dashboards) {
      const valid = validate(dashboard.json);
      expect({ dashboard: dashboard.uid, errors: validate.errors ?? [] }).toEqual({ dashboard: dashboard.uid, errors: [] });
      expect(valid).toBe(true);
    }
    // The schema has teeth: a panel with a broken grid position or a variable without a name is refused.
    const broken = dashboards[0].json as { panels: object[]; templating: { list: object[] } };
    expect(validate({ ...broken, panels: [{ type: "timeseries", id: 1, gridPos: { x: "left", y: 0, w: 12, h: 8 } }] })).toBe(false);
    expect(validate({ ...broken, templating: { list: [{ type: "query" }] } })).toBe(false);
  }, 30000);

  it("have unique uids (Grafana's 40-character limit) and file names", () => {
    const uids = dashboards.map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const d of dashboards) {
      expect(d.uid.length).toBeLessThanOrEqual(40);
      expect(d.json.uid).toBe(d.uid);
      expect(d.fileName).toBe(`${d.uid}.json`);
    }
    expect(modelDashboards("a-model-name-that-is-really-quite-long-indeed")[0].uid.length).toBeLessThanOrEqual(40);
  });

  it.each(dashboards.map((d) => [d.title, d] as const))("%s: every panel has an id, a description, the datasource and queries", (_title, dashboard) => {
    const ids = (dashboard.json.panels as PanelJson[]).map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panelsOf(dashboard)) {
      expect({ panel: panel.title, id: typeof panel.id, description: !!panel.description?.length, datasource: panel.datasource?.uid }).toEqual({
        panel: panel.title,
        id: "number",
        description: true,
        datasource: "${datasource}",
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr).toBeTruthy();
        expect(target.refId).toMatch(/^[A-Z]$/);
        expect(target.datasource?.uid).toBe("${datasource}");
      }
    }
  });

  it("templates the service dashboard by model and variant, with the model preselected", () => {
    const service = dashboards.find((d) => d.uid === "modelport-flight-delay-service")!;
    const variables = (service.json.templating as { list: { name: string; current?: { value: string } }[] }).list;
    expect(variables.map((v) => v.name)).toEqual(["datasource", "model", "variant"]);
    expect(variables[1].current?.value).toBe(MODEL);
    // The top row answers "is it broken, since when, which version".
    const top = (service.json.panels as PanelJson[]).slice(1, 9).map((p) => p.title);
    expect(top).toEqual(["Model loaded", "Firing alerts", "Requests/s", "5xx ratio", "p99 latency", "Served version", "Served version over time", "Model loaded per replica"]);
  });

  it("read only metrics the contract defines (dashboards and alert rules)", () => {
    const exprs = [
      ...dashboards.flatMap((d) => panelsOf(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr!))),
      ...[...TASKS.flatMap((task) => modelRuleGroups(TASK_MODEL[task], { task })), ...platformRuleGroups()].flatMap((g) => g.rules.map((r) => r.expr)),
    ];
    const unknown = [...new Set(exprs.flatMap(metricNames))].filter((name) => !KNOWN_METRICS.has(name));
    expect(unknown).toEqual([]);
    // And the check sees names at all.
    expect(metricNames(`sum by (le) (rate(${METRICS.predictionLatencySeconds}_bucket{model="x"}[5m]))`)).toEqual([`${METRICS.predictionLatencySeconds}_bucket`]);
  });

  it("have queries that all parse (promtool check rules)", async () => {
    const exprs = dashboards.flatMap((d) => panelsOf(d).flatMap((p) => (p.targets ?? []).map((t) => expandVariables(t.expr!, modelOf(d)))));
    const dir = mkdtempSync(join(tmpdir(), "dashboard-queries-"));
    try {
      const file = join(dir, "queries.yml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard-queries", rules: exprs.map((expr, i) => ({ record: `dashboard_query_${i}`, expr })) }] }));
      const check = await promtool(["check", "rules", file]);
      expect(check.stdout + check.stderr).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(isAlertRule({ alert: "x", expr: "1", labels: {}, annotations: {} })).toBe(true);
  });

  it.each(byTask)("%s: panels follow the task's outputs, never another task's metrics", (task, files) => {
    const service = files.find((d) => d.uid.endsWith("-service"))!;
    const exprs = panelsOf(service).flatMap((p) => (p.targets ?? []).map((t) => t.expr!));
    const reads = (metric: string) => exprs.some((expr) => metricNames(expr).some((name) => name === metric || name.startsWith(`${metric}_`)));
    const titles = panelsOf(service).map((p) => p.title);
    const expected: Record<Task, { reads: string[]; not: string[]; titles: string[] }> = {
      binary: {
        reads: [METRICS.predictionProbability, METRICS.modelBaselineHitRate, METRICS.modelBusinessCostTotal],
        not: [METRICS.predictionClassTotal, METRICS.predictionValue, METRICS.predictionOutputNorm, METRICS.modelBaselineMae],
        titles: ["Positive rate, 1 h vs 24 h", "Positive rate shift, 1 h vs 24 h", "Hit rate vs baseline"],
      },
      multiclass: {
        reads: [METRICS.predictionClassTotal, METRICS.predictionProbability, METRICS.modelConfusionTotal, METRICS.modelBaselineHitRate],
        not: [METRICS.predictionValue, METRICS.predictionOutputNorm, METRICS.modelBaselineMae],
        titles: ["Class shares, last hour", "Class share shift, 1 h vs 24 h", "Accuracy vs baseline", "Confusion, last 6 h"],
      },
      regression: {
        reads: [METRICS.predictionValue, METRICS.modelFeedbackAbsoluteErrorTotal, METRICS.modelFeedbackSquaredErrorTotal, METRICS.modelBaselineMae],
        not: [METRICS.predictionProbability, METRICS.predictionClassTotal, METRICS.predictionOutputNorm, METRICS.modelBaselineHitRate],
        titles: ["Mean predicted value, 1 h vs 24 h", "Value distribution shift, 1 h vs 24 h", "MAE vs baseline", "RMSE and MAE"],
      },
      tensor: {
        reads: [METRICS.predictionOutputNorm, METRICS.predictionLatencySeconds, METRICS.httpRequestsTotal],
        not: [METRICS.predictionProbability, METRICS.predictionClassTotal, METRICS.predictionValue, METRICS.modelFeedbackTotal, METRICS.modelBusinessCostTotal],
        titles: ["Mean output norm, 1 h vs 24 h", "Output norm shift, 1 h vs 24 h", "Output norm distribution"],
      },
    };
    const want = expected[task];
    expect({ reads: want.reads.filter((m) => !reads(m)), not: want.not.filter(reads) }).toEqual({ reads: [], not: [] });
    expect(titles).toEqual(expect.arrayContaining(want.titles));
    // RED and the runtime rows are the same for every task.
    expect(titles).toEqual(expect.arrayContaining(["5xx ratio", "p99 latency", "Prediction latency p50 / p99", "Batch queue depth", "Event-loop lag p99"]));
    const rows = (service.json.panels as PanelJson[]).filter((p) => p.type === "row").map((p) => p.title);
    expect(rows.includes("Ground truth and business")).toBe(task !== "tensor");
  });
});
