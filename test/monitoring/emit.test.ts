// `npm run monitoring`: the files operators without cdktf use, and the runbooks committed beside the alerts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { isAlertRule, modelAlertGroups, modelRuleGroups, modelRunbook, platformRunbook, runbookAnchor } from "../../alerts";
import { modelsFromArgs } from "../../alerts/emit";
import { modelDashboards } from "../../dashboards";
import type { Task } from "../../service/src/contract";
import { amtool, promtool } from "../support/prometheus";

const root = join(__dirname, "..", "..");
const emit = (args: readonly string[]) => execFileSync(process.execPath, [join(root, "dist", "alerts", "emit.js"), ...args], { stdio: "pipe" });

/**
 * The runbook pages committed under alerts/runbooks (runbook_url points there by default): the demo model and
 * one example model of every other task. Regenerate with:
 *   npm run monitoring -- --out .tmp/m --model flight-delay --model flight-delay-class --task multiclass \
 *     --model flight-delay-minutes --task regression --model ocr-detector --task tensor && cp .tmp/m/runbooks/*.md alerts/runbooks/
 */
const COMMITTED: readonly [string, Task][] = [
  ["flight-delay", "binary"],
  ["flight-delay-class", "multiclass"],
  ["flight-delay-minutes", "regression"],
  ["ocr-detector", "tensor"],
];

describe("npm run monitoring", () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "monitoring-out-"));
    emit(["--out", out, "--model", "flight-delay", "--model", "churn", "--model", "delay-minutes", "--task", "regression"]);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes rules, PrometheusRules, Alertmanager config, dashboards and runbooks for every model", () => {
    const files = (dir: string) => readdirSync(join(out, dir)).sort();
    expect(files("prometheus")).toEqual([
      "modelport-churn.prometheusrule.yaml",
      "modelport-delay-minutes.prometheusrule.yaml",
      "modelport-flight-delay.prometheusrule.yaml",
      "modelport-platform.prometheusrule.yaml",
      "rules.yml",
    ]);
    expect(files("alertmanager")).toEqual(["alertmanager.yml"]);
    expect(files("grafana")).toEqual([
      "modelport-churn-drift.json",
      "modelport-churn-service.json",
      "modelport-delay-minutes-drift.json",
      "modelport-delay-minutes-service.json",
      "modelport-flight-delay-drift.json",
      "modelport-flight-delay-service.json",
      "modelport-gpu.json",
    ]);
    expect(files("runbooks")).toEqual(["churn.md", "delay-minutes.md", "flight-delay.md", "platform.md"]);
  });

  it("generates each model for the --task after it (binary without one): rules, dashboards and runbook alike", () => {
    const resource = parse(readFileSync(join(out, "prometheus", "modelport-delay-minutes.prometheusrule.yaml"), "utf8"));
    expect(resource.spec.groups).toEqual(JSON.parse(JSON.stringify(modelRuleGroups("delay-minutes", { task: "regression" }))));
    const dashboard = JSON.parse(readFileSync(join(out, "grafana", "modelport-delay-minutes-service.json"), "utf8"));
    expect(dashboard).toEqual(JSON.parse(JSON.stringify(modelDashboards("delay-minutes", { task: "regression" })[0].json)));
    const runbook = readFileSync(join(out, "runbooks", "delay-minutes.md"), "utf8");
    expect(runbook).toContain("\n### MaeAboveBaseline\n");
    expect(runbook).not.toContain("PredictionDistributionShift");
    expect(readFileSync(join(out, "runbooks", "churn.md"), "utf8")).toContain("\n### PredictionDistributionShift\n");
  });

  it("pairs --task with the --model before it and refuses a stray or unknown task", () => {
    expect(modelsFromArgs(["--model", "a", "--task", "tensor", "--model", "b", "--out", "x", "--model", "c", "--task", "multiclass"])).toEqual([
      { name: "a", task: "tensor" },
      { name: "b" },
      { name: "c", task: "multiclass" },
    ]);
    expect(() => modelsFromArgs(["--task", "regression", "--model", "a"])).toThrow(/--task regression must follow the --model it belongs to/);
    expect(() => modelsFromArgs(["--model", "a", "--task", "ranking"])).toThrow(/--task ranking: expected one of binary, multiclass, regression, tensor/);
    expect(() => emit(["--out", out, "--model", "a", "--task", "ranking"])).toThrow(/monitoring: --task ranking: expected one of/);
  });

  it("emits files the real tools accept, and PrometheusRules holding the same groups", async () => {
    const rules = join(out, "prometheus", "rules.yml");
    expect((await promtool(["check", "rules", rules])).code).toBe(0);
    expect((await amtool(["check-config", join(out, "alertmanager", "alertmanager.yml")])).code).toBe(0);
    const resource = parse(readFileSync(join(out, "prometheus", "modelport-flight-delay.prometheusrule.yaml"), "utf8"));
    expect(resource).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "modelport-flight-delay", labels: { release: "kube-prometheus-stack" } } });
    expect(resource.spec.groups).toEqual(JSON.parse(JSON.stringify(modelRuleGroups("flight-delay"))));
    const spec = join(out, "spec.yml");
    writeFileSync(spec, JSON.stringify({ groups: resource.spec.groups }));
    expect((await promtool(["check", "rules", spec])).code).toBe(0);
  });

  it("links every alert to a section of its runbook", () => {
    const page = readFileSync(join(out, "runbooks", "flight-delay.md"), "utf8");
    for (const rule of modelRuleGroups("flight-delay").flatMap((g) => g.rules).filter(isAlertRule)) {
      expect(rule.annotations.runbook_url).toMatch(new RegExp(`/flight-delay\\.md#${runbookAnchor(rule.alert)}$`));
      expect(page).toContain(`\n### ${rule.alert}\n`);
    }
    expect(page).toContain("## Rollback: move the registry alias back");
    expect(page).toMatch(/## When it pages\n\n- \*\*ModelNotLoaded\*\*/);
  });

  it("fails with a clear message for a model name that cannot be a file or group name", () => {
    const run = () => execFileSync(process.execPath, [join(root, "dist", "alerts", "emit.js"), "--out", out, "--model", "bad/name"], { stdio: "pipe" });
    expect(run).toThrow(/model name "bad\/name" must match/);
  });

  it("keeps the committed runbooks (alerts/runbooks) in sync with the definitions, one model of every task", () => {
    const committed = (name: string) => readFileSync(join(root, "alerts", "runbooks", name), "utf8").trimEnd();
    for (const [model, task] of COMMITTED) {
      expect({ model, fresh: committed(`${model}.md`) === modelRunbook(model, { task }).trimEnd() }).toEqual({ model, fresh: true });
      // Every alert of the task has its section, and the page states the task's objectives.
      for (const alert of modelAlertGroups(model, { task }).flatMap((g) => g.alerts)) expect(committed(`${model}.md`)).toContain(`\n### ${alert.name}\n`);
    }
    expect(committed("platform.md")).toBe(platformRunbook().trimEnd());
    expect(readdirSync(join(root, "alerts", "runbooks")).sort()).toEqual([...COMMITTED.map(([model]) => `${model}.md`), "platform.md"].sort());
  });
});
