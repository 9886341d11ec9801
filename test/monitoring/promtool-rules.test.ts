// The emitted rules checked and unit-tested by the real promtool: syntax, then every alert firing and staying
// silent on input series, with its labels and rendered annotations (summary, description, runbook link), for a
// model of every task.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { isAlertRule, modelAlertGroups, modelRuleGroups, platformRuleGroups, rulesFile, runbookUrl } from "../../alerts";
import type { Task } from "../../service/src/contract";
import { promtool } from "../support/prometheus";
import { MODEL, RULE_CASES as BINARY_CASES, RuleCase } from "./rule-cases";
import { TASK_MODELS, TASK_RULE_CASES } from "./task-rule-cases";

const MODELS: readonly [string, Task][] = [[MODEL, "binary"], ...Object.entries(TASK_MODELS).map(([task, model]) => [model, task as Task] as [string, Task])];
const RULE_CASES = [...BINARY_CASES, ...TASK_RULE_CASES];
const groups = [...platformRuleGroups(), ...MODELS.flatMap(([model, task]) => modelRuleGroups(model, { task }))];
const alertsOf = (rules: typeof groups) => rules.flatMap((group) => group.rules.filter(isAlertRule).map((rule) => rule.alert));
const platformAlerts = new Set(alertsOf(platformRuleGroups()));

function testFile(rules: string, testCase: RuleCase): Record<string, unknown> {
  const page = platformAlerts.has(testCase.alert) ? ({ kind: "platform" } as const) : ({ kind: "model", model: testCase.model ?? MODEL } as const);
  return {
    rule_files: [rules],
    evaluation_interval: testCase.evaluationInterval ?? "1m",
    tests: [
      {
        name: `${testCase.alert}: ${testCase.name}`,
        interval: testCase.interval ?? "1m",
        input_series: testCase.series.map((s) => ({ series: s.series, values: s.values })),
        alert_rule_test: [
          {
            eval_time: testCase.evalTime,
            alertname: testCase.alert,
            exp_alerts: testCase.expected.map((alert) => ({
              exp_labels: { alertname: testCase.alert, ...alert.labels },
              exp_annotations: { summary: alert.summary, description: alert.description, runbook_url: runbookUrl(page, testCase.alert) },
            })),
          },
        ],
      },
    ],
  };
}

describe("alert rules under promtool", () => {
  let dir: string;
  let rulesPath: string;
  /** promtool's report per case file. */
  const results = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "promtool-"));
    rulesPath = join(dir, "rules.yml");
    writeFileSync(rulesPath, stringify(rulesFile(groups), { lineWidth: 0 }));
    // Each case runs against its own model's rules and the platform's: a day of series evaluated against every
    // model's rules would cost four times the work for nothing (the rules are filtered by model anyway).
    const rulesOf = new Map<string, string>();
    for (const [model, task] of MODELS) {
      const path = join(dir, `rules-${model}.yml`);
      writeFileSync(path, stringify(rulesFile([...platformRuleGroups(), ...modelRuleGroups(model, { task })]), { lineWidth: 0 }));
      rulesOf.set(model, path);
    }
    const files = RULE_CASES.map((testCase, index) => {
      const file = join(dir, `case-${String(index).padStart(2, "0")}.yml`);
      writeFileSync(file, stringify(testFile(rulesOf.get(testCase.model ?? MODEL)!, testCase), { lineWidth: 0 }));
      return file;
    });
    // One promtool process per case so each failure report (on stderr) stays with its case; two at a time.
    const queue = files.map((file) => file);
    const worker = async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const started = Date.now();
        const run = await promtool(["test", "rules", file]);
        if (process.env.PROMTOOL_TIMING) console.log(file, Date.now() - started, "ms");
        results.set(file, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
      }
    };
    await Promise.all([worker(), worker()]);
  }, 400_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check rules", async () => {
    const check = await promtool(["check", "rules", rulesPath]);
    expect(check.stderr + check.stdout).toContain(`SUCCESS: ${groups.reduce((n, g) => n + g.rules.length, 0)} rules found`);
    expect(check.code).toBe(0);
  });

  it("has a case where each alert fires and one where it stays silent, the quality alerts for every task", () => {
    const covered = (alert: string, model?: string) => {
      const cases = RULE_CASES.filter((c) => c.alert === alert && (model === undefined || (c.model ?? MODEL) === model));
      return { alert, model, fires: cases.some((c) => c.expected.length > 0), silent: cases.some((c) => c.expected.length === 0) };
    };
    for (const alert of new Set(alertsOf(groups))) expect(covered(alert)).toEqual({ alert, model: undefined, fires: true, silent: true });
    // Quality alerts differ per task (what is compared, which outcomes count): each task's own cases.
    for (const [model, task] of MODELS) {
      const quality = modelAlertGroups(model, { task }).find((group) => group.name === "quality")!.alerts;
      for (const { name } of quality) expect(covered(name, model)).toEqual({ alert: name, model, fires: true, silent: true });
    }
    expect(new Set(RULE_CASES.map((c) => c.alert))).toEqual(new Set(alertsOf(groups)));
  });

  it.each(RULE_CASES.map((testCase, index) => [`${testCase.model ?? MODEL} ${testCase.alert}: ${testCase.name}`, index] as const))("%s", (_name, index) => {
    const file = join(dir, `case-${String(index).padStart(2, "0")}.yml`);
    const section = results.get(file);
    expect(section).toMatch(/^exit 0\n[\s\S]*SUCCESS/);
  });
});
