// A model's dashboards and its alert rules come from one options object: with non-default thresholds and a
// runbook base of its own, every panel that follows an alert links the rule's runbook_url, draws the rule's
// threshold, states it as the rule does, and (under the real promtool) the rule fires just above the panel's red
// line and stays silent just below it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { RECORDED, isAlertRule, modelRuleGroups, platformRuleGroups, rulesFile, type ModelMonitoringOptions, type RuleGroup } from "../../alerts";
import { percent, seconds } from "../../alerts/rules/templates";
import { DashboardFile, modelDashboards, platformDashboards } from "../../dashboards";
import { TASKS, type Task } from "../../service/src/contract";
import { promtool } from "../support/prometheus";

const OPTIONS = {
  runbookBaseUrl: "https://wiki.example.com/ml-runbooks/",
  thresholds: {
    latencyP99Seconds: 0.37,
    errorRatio: 0.023,
    positiveRateShift: 0.17,
    classShareShift: 0.21,
    valueDistributionShift: 0.27,
    outputNormShift: 0.31,
    minHourlyPredictions: 40,
    hitRateRelativeDrop: 0.2,
    maeRelativeRise: 0.35,
    minFeedback: 30,
    businessCostFactor: 2.5,
    driftStaleHours: 50,
    canaryErrorRatioMargin: 0.04,
    canaryLatencyFactor: 2.2,
    canaryMinPredictions: 60,
  },
  platformThresholds: { gpuTemperatureCelsius: 78, gpuMemoryUsedRatio: 0.9 },
} as const;
const MODEL: Record<Task, string> = { binary: "churn", multiclass: "delay-class", regression: "delay-minutes", tensor: "embedder" };
const optionsOf = (task: Task): ModelMonitoringOptions => ({ ...OPTIONS, task });

interface PanelJson {
  type: string;
  title: string;
  description: string;
  links?: { title: string; url: string }[];
  fieldConfig?: { defaults?: { thresholds?: { steps: { value: number | null; color: string }[] } } };
}
const panels = (files: DashboardFile[]) => files.flatMap((file) => (file.json.panels as PanelJson[]).filter((p) => p.type !== "row"));
const alertRules = (groups: RuleGroup[]) => new Map(groups.flatMap((g) => g.rules.filter(isAlertRule)).map((rule) => [rule.alert, rule] as const));
const followed = (panel: PanelJson) => panel.links?.find((link) => link.title.startsWith("Runbook: "))?.title.slice("Runbook: ".length);
const redStep = (panel: PanelJson) => panel.fieldConfig?.defaults?.thresholds?.steps.find((step) => step.color === "red")?.value;

/** The threshold each alert compares with, as the panel draws it and as the rule's expression and text state it. */
const t = OPTIONS.thresholds;
const p = OPTIONS.platformThresholds;
const THRESHOLD: Record<string, { value: number; text: string }> = {
  HighLatency: { value: t.latencyP99Seconds, text: seconds(t.latencyP99Seconds) },
  HighErrorRate: { value: t.errorRatio, text: percent(t.errorRatio) },
  PredictionDistributionShift: { value: t.positiveRateShift, text: `${t.positiveRateShift * 100} points` },
  ClassDistributionShift: { value: t.classShareShift, text: `${t.classShareShift * 100} points` },
  ValueDistributionShift: { value: t.valueDistributionShift, text: percent(t.valueDistributionShift) },
  OutputNormShift: { value: t.outputNormShift, text: percent(t.outputNormShift) },
  DriftJobStale: { value: t.driftStaleHours * 3600, text: `${t.driftStaleHours} h` },
  GpuTemperatureHigh: { value: p.gpuTemperatureCelsius, text: `${p.gpuTemperatureCelsius}°C` },
  GpuMemoryNearlyFull: { value: p.gpuMemoryUsedRatio, text: percent(p.gpuMemoryUsedRatio) },
};

describe.each(TASKS.map((task) => [task] as const))("%s model: dashboards follow the alerts of the same options", (task) => {
  const model = MODEL[task];
  const rules = alertRules(modelRuleGroups(model, optionsOf(task)));
  const modelPanels = panels(modelDashboards(model, optionsOf(task)));

  it("links every followed alert to the rule's own runbook_url, under the configured base", () => {
    const linked = modelPanels.filter((panel) => followed(panel));
    expect(linked.length).toBeGreaterThan(8);
    for (const panel of linked) {
      const rule = rules.get(followed(panel)!);
      expect({ panel: panel.title, rule: rule?.alert }).toEqual({ panel: panel.title, rule: followed(panel) });
      expect(panel.links![0].url).toBe(rule!.annotations.runbook_url);
      expect(panel.links![0].url.startsWith(`${OPTIONS.runbookBaseUrl}${model}.md#`)).toBe(true);
    }
    // The task's shift alert and, where ground truth exists, its baseline alert have a panel each.
    const shift = { binary: "PredictionDistributionShift", multiclass: "ClassDistributionShift", regression: "ValueDistributionShift", tensor: "OutputNormShift" }[task];
    const baseline = { binary: "HitRateBelowBaseline", multiclass: "HitRateBelowBaseline", regression: "MaeAboveBaseline", tensor: undefined }[task];
    const followedAlerts = new Set(linked.map(followed));
    for (const alert of [shift, baseline, "HighLatency", "HighErrorRate", "DriftJobStale", "CanaryWorseThanStable"].filter(Boolean)) expect(followedAlerts).toContain(alert);
  });

  it("draws each threshold line where the rule compares, and states it as the rule does", () => {
    const drawn = modelPanels.filter((panel) => THRESHOLD[followed(panel) ?? ""] && redStep(panel) !== undefined);
    expect(drawn.length).toBeGreaterThanOrEqual(6);
    for (const panel of drawn) {
      const alert = followed(panel)!;
      const rule = rules.get(alert)!;
      const { value, text } = THRESHOLD[alert];
      expect({ panel: panel.title, red: redStep(panel) }).toEqual({ panel: panel.title, red: value });
      expect(rule.expr).toContain(`> ${value}`);
      expect(panel.description).toContain(text);
    }
    // The rules' own texts carry the same numbers.
    expect(rules.get("HighLatency")!.annotations.summary).toContain(seconds(t.latencyP99Seconds));
    expect(rules.get("HighErrorRate")!.annotations.description).toContain(percent(t.errorRatio));
    expect(rules.get("DriftJobStale")!.annotations.summary).toContain(`${t.driftStaleHours}h`);
  });
});

describe("platform dashboards follow the platform alerts of the same options", () => {
  it("links the rules' runbook_url and draws their thresholds", () => {
    const rules = alertRules(platformRuleGroups(OPTIONS));
    const gpu = panels(platformDashboards(OPTIONS));
    const linked = gpu.filter((panel) => followed(panel));
    expect(linked.length).toBeGreaterThanOrEqual(4);
    for (const panel of linked) {
      expect(panel.links![0].url).toBe(rules.get(followed(panel)!)!.annotations.runbook_url);
      const threshold = THRESHOLD[followed(panel)!];
      if (threshold && redStep(panel) !== undefined && followed(panel) !== "GpuXidError") expect(redStep(panel)).toBe(threshold.value);
    }
  });
});

// --- the same line, under promtool ------------------------------------------------------------------------------

/** Input series that put what a panel plots at `x` for one model's stable variant in prod (recorded series). */
type Placement = (model: string, x: number) => string[];
const at = (record: string, model: string, labels: string, value: number) => `${record}{namespace="prod",model="${model}",variant="stable"${labels}}|${value}`;
const enough = (model: string) => at(RECORDED.predictionIncrease1h, model, "", 1000);
const PLACEMENTS: Partial<Record<string, Placement>> = {
  HighLatency: (model, x) => [at(RECORDED.latencyP99, model, "", x)],
  HighErrorRate: (model, x) => [at(RECORDED.http5xxRatio, model, "", x)],
  PredictionDistributionShift: (model, x) => [at(RECORDED.positiveRatio1h, model, "", 0.3 + x), at(RECORDED.positiveRatio1d, model, "", 0.3), enough(model)],
  ClassDistributionShift: (model, x) => [
    at(RECORDED.classShare1h, model, ',class="a"', 0.6 - x),
    at(RECORDED.classShare1h, model, ',class="b"', 0.4 + x),
    at(RECORDED.classShare1d, model, ',class="a"', 0.6),
    at(RECORDED.classShare1d, model, ',class="b"', 0.4),
    enough(model),
  ],
  ValueDistributionShift: (model, x) => [
    at(RECORDED.valueCdf1h, model, ',version="3",le="10"', 0.5 - x),
    at(RECORDED.valueCdf1h, model, ',version="3",le="+Inf"', 1),
    at(RECORDED.valueCdf1d, model, ',version="3",le="10"', 0.5),
    at(RECORDED.valueCdf1d, model, ',version="3",le="+Inf"', 1),
    enough(model),
  ],
  OutputNormShift: (model, x) => [
    at(RECORDED.outputNormCdf1h, model, ',version="3",le="1"', 0.2 + x),
    at(RECORDED.outputNormCdf1d, model, ',version="3",le="1"', 0.2),
    enough(model),
  ],
};

describe("under promtool, each rule fires just above its panel's red line and stays silent just below", () => {
  const cases = TASKS.flatMap((task) => {
    const model = MODEL[task];
    return panels(modelDashboards(model, optionsOf(task)))
      .filter((panel) => PLACEMENTS[followed(panel) ?? ""] && redStep(panel) !== undefined)
      .map((panel) => ({ task, model, panel: panel.title, alert: followed(panel)!, red: redStep(panel)! }));
  });
  let dir: string;
  const results = new Map<string, { code: number | null; output: string }>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "follow-"));
    for (const task of TASKS) writeFileSync(join(dir, `${task}.yml`), stringify(rulesFile(modelRuleGroups(MODEL[task], optionsOf(task))), { lineWidth: 0 }));
    for (const [index, c] of cases.entries()) {
      // Firing (past its `for`) or not, counted from Prometheus' own ALERTS series for this model's stable variant.
      const firing = `count(ALERTS{alertname="${c.alert}",alertstate="firing",model="${c.model}",variant="stable"}) or vector(0)`;
      const test = (x: number, fires: boolean) => ({
        name: `${c.alert} at ${x}`,
        interval: "1m",
        input_series: PLACEMENTS[c.alert]!(c.model, x).map((entry) => ({ series: entry.split("|")[0], values: `${entry.split("|")[1]}x40` })),
        promql_expr_test: [{ expr: firing, eval_time: "30m", exp_samples: [{ labels: "{}", value: fires ? 1 : 0 }] }],
      });
      const file = join(dir, `case-${index}.yml`);
      writeFileSync(file, stringify({ rule_files: [join(dir, `${c.task}.yml`)], evaluation_interval: "1m", tests: [test(c.red * 1.05, true), test(c.red * 0.95, false)] }, { lineWidth: 0 }));
      const run = await promtool(["test", "rules", file]);
      results.set(`${c.model} ${c.panel}`, { code: run.code, output: run.stdout + run.stderr });
    }
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("covers the shift panel of every task and the RED panels", () => {
    expect(new Set(cases.map((c) => c.alert))).toEqual(new Set(Object.keys(PLACEMENTS)));
  });

  it.each(cases.map((c) => [`${c.model}: ${c.panel} (${c.alert}, red line ${c.red})`, `${c.model} ${c.panel}`] as const))("%s", (_name, key) => {
    const result = results.get(key)!;
    expect(result.output).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });
});
