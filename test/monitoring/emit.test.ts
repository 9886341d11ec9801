// `npm run monitoring`: the files operators without cdktf use, and the runbooks committed beside the alerts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { isAlertRule, modelRuleGroups, modelRunbook, platformRunbook, runbookAnchor } from "../../alerts";
import { amtool, promtool } from "../support/prometheus";

const root = join(__dirname, "..", "..");

describe("npm run monitoring", () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "monitoring-out-"));
    execFileSync(process.execPath, [join(root, "dist", "alerts", "emit.js"), "--out", out, "--model", "flight-delay", "--model", "churn"], { stdio: "pipe" });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes rules, PrometheusRules, Alertmanager config, dashboards and runbooks for every model", () => {
    const files = (dir: string) => readdirSync(join(out, dir)).sort();
    expect(files("prometheus")).toEqual(["modelport-churn.prometheusrule.yaml", "modelport-flight-delay.prometheusrule.yaml", "modelport-platform.prometheusrule.yaml", "rules.yml"]);
    expect(files("alertmanager")).toEqual(["alertmanager.yml"]);
    expect(files("grafana")).toEqual(["modelport-churn-drift.json", "modelport-churn-service.json", "modelport-flight-delay-drift.json", "modelport-flight-delay-service.json", "modelport-gpu.json"]);
    expect(files("runbooks")).toEqual(["churn.md", "flight-delay.md", "platform.md"]);
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

  it("keeps the committed runbooks (alerts/runbooks) in sync with the definitions", () => {
    // Regenerate with: npm run monitoring -- --out .tmp/m && cp .tmp/m/runbooks/*.md alerts/runbooks/
    const committed = (name: string) => readFileSync(join(root, "alerts", "runbooks", name), "utf8").trimEnd();
    expect(committed("flight-delay.md")).toBe(modelRunbook("flight-delay").trimEnd());
    expect(committed("platform.md")).toBe(platformRunbook().trimEnd());
  });
});
