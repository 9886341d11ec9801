// The emitted rules checked and unit-tested by the real promtool: syntax, then every alert firing and staying
// silent on input series, with its labels and rendered annotations (summary, description, runbook link).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { isAlertRule, modelRuleGroups, platformRuleGroups, rulesFile, runbookUrl } from "../../alerts";
import { promtool } from "../support/prometheus";
import { MODEL, RULE_CASES, RuleCase } from "./rule-cases";

const groups = [...platformRuleGroups(), ...modelRuleGroups(MODEL)];
const alertNames = groups.flatMap((group) => group.rules.filter(isAlertRule).map((rule) => rule.alert));
const platformAlerts = new Set(platformRuleGroups().flatMap((group) => group.rules.filter(isAlertRule).map((rule) => rule.alert)));

function testFile(rules: string, testCase: RuleCase): Record<string, unknown> {
  const page = platformAlerts.has(testCase.alert) ? ({ kind: "platform" } as const) : ({ kind: "model", model: MODEL } as const);
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
    const files = RULE_CASES.map((testCase, index) => {
      const file = join(dir, `case-${String(index).padStart(2, "0")}.yml`);
      writeFileSync(file, stringify(testFile(rulesPath, testCase), { lineWidth: 0 }));
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
  }, 120000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check rules", async () => {
    const check = await promtool(["check", "rules", rulesPath]);
    expect(check.stderr + check.stdout).toContain(`SUCCESS: ${groups.reduce((n, g) => n + g.rules.length, 0)} rules found`);
    expect(check.code).toBe(0);
  });

  it("has a case where each alert fires and one where it stays silent", () => {
    for (const alert of alertNames) {
      const cases = RULE_CASES.filter((testCase) => testCase.alert === alert);
      expect({ alert, fires: cases.some((c) => c.expected.length > 0), silent: cases.some((c) => c.expected.length === 0) }).toEqual({
        alert,
        fires: true,
        silent: true,
      });
    }
    expect(new Set(RULE_CASES.map((c) => c.alert))).toEqual(new Set(alertNames));
  });

  it.each(RULE_CASES.map((testCase, index) => [`${testCase.alert}: ${testCase.name}`, index] as const))("%s", (_name, index) => {
    const file = join(dir, `case-${String(index).padStart(2, "0")}.yml`);
    const section = results.get(file);
    expect(section).toMatch(/^exit 0\n[\s\S]*SUCCESS/);
  });
});
