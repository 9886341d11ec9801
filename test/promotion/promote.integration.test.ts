/**
 * Promotion and rollback against a real Prometheus holding 40 minutes of backfilled stable and canary history
 * (promtool tsdb create-blocks-from openmetrics; names and buckets from the service contract), and the MLflow
 * fake's documented alias and tag writes. One model per scenario, all in one TSDB.
 */
import { PROMOTION_TAGS, TASK_TAG, type Task } from "../../service/src/contract";
import { MlflowRegistryWriter } from "../../service/src/registry/mlflow-writes";
import { main } from "../../service/src/promotion/cli";
import { DEFAULT_THRESHOLDS } from "../../service/src/promotion/gates";
import { PrometheusClient } from "../../service/src/promotion/prometheus";
import { promote, type PromotionReport } from "../../service/src/promotion/promote";
import { FakeMlflow } from "../support/fake-mlflow";
import { freePort } from "../support/net";
import { startPrometheus, type RunningPrometheus } from "../support/prometheus";
import { latencyAround, probabilityHump, promotionHistory, type ArmHistory } from "../support/promotion-series";

const end = new Date();
const stable = (over: Partial<ArmHistory> = {}): ArmHistory => ({ variant: "stable", version: "2", task: "binary", requestsPerSecond: 20, errorShare: 0.001, labelsPerSecond: 5, ...over });
const canary = (over: Partial<ArmHistory> = {}): ArmHistory => ({ variant: "canary", version: "3", task: "binary", requestsPerSecond: 2, errorShare: 0.001, labelsPerSecond: 0.5, ...over });

const valueBounds = [10, 20, 30, 40, 50, 60];
const valueShares = [0.05, 0.2, 0.35, 0.25, 0.1, 0.05, 0];
const SCENARIOS: Record<string, { arms: ArmHistory[]; task?: Task; tagTask?: Task }> = {
  good: { arms: [stable(), canary()] },
  errors: { arms: [stable(), canary({ errorShare: 0.03, fallbackShare: 0.01 })] },
  shifted: { arms: [stable(), canary({ probabilityShares: probabilityHump(0.7) })] },
  slow: { arms: [stable(), canary({ latencyShares: latencyAround(0.2) })] },
  "few-labels": { arms: [stable(), canary({ labelsPerSecond: 0.05 })] },
  "worse-hit-rate": { arms: [stable({ labelsPerSecond: 10 }), canary({ labelsPerSecond: 2, hitRate: 0.5 })] },
  "no-canary-traffic": { arms: [stable()] },
  untagged: { arms: [stable({ task: undefined }), canary({ task: undefined })], tagTask: "binary" },
  "multiclass-good": { arms: [stable({ task: "multiclass" }), canary({ task: "multiclass" })] },
  "multiclass-shifted": { arms: [stable({ task: "multiclass" }), canary({ task: "multiclass", classShares: { a: 0.1, b: 0.2, c: 0.7 } })] },
  "multiclass-worse": { arms: [stable({ task: "multiclass", labelsPerSecond: 10 }), canary({ task: "multiclass", labelsPerSecond: 2, hitRate: 0.45 })] },
  "regression-good": {
    arms: [
      stable({ task: "regression", valueHistogram: { bounds: valueBounds, shares: valueShares }, mae: 4, mse: 25 }),
      // Its own buckets (from its training data): only 20, 40 and 60 are shared with the stable's.
      canary({ task: "regression", valueHistogram: { bounds: [5, 20, 40, 60, 80], shares: [0.02, 0.23, 0.6, 0.15, 0, 0] }, mae: 4, mse: 25 }),
    ],
  },
  "regression-worse": {
    arms: [
      stable({ task: "regression", valueHistogram: { bounds: valueBounds, shares: valueShares }, mae: 4, mse: 25 }),
      canary({ task: "regression", valueHistogram: { bounds: valueBounds, shares: valueShares }, mae: 6, mse: 50 }),
    ],
  },
  "mixed-tasks": { arms: [stable({ task: "binary" }), canary({ task: "multiclass" })] },
  "configured-task": { arms: [stable({ task: "multiclass", exportTask: false }), canary({ task: "multiclass", exportTask: false, classShares: { a: 0.1, b: 0.2, c: 0.7 } })] },
};

let prometheus: RunningPrometheus;
let mlflow: FakeMlflow;

beforeAll(async () => {
  const text = Object.entries(SCENARIOS)
    .map(([model, s]) => promotionHistory({ model, end, minutes: 40, arms: s.arms }).replace(/# EOF\n$/, ""))
    .join("");
  // One family per TYPE line: merge the scenarios' families by concatenating per-model blocks is fine for promtool.
  prometheus = await startPrometheus({ backfill: `${text}# EOF\n` });
  mlflow = await FakeMlflow.start();
});
afterAll(async () => {
  await prometheus?.stop();
  await mlflow?.stop();
});

/** Registers versions 1..3 of a scenario's model: champion at 2, challenger at 3 (tags as the scenario says). */
async function registerScenario(model: string): Promise<void> {
  const tags = SCENARIOS[model].tagTask ? { [TASK_TAG]: SCENARIOS[model].tagTask! } : undefined;
  for (let v = 1; v <= 3; v++) await mlflow.register(model, { artifactUri: `s3://models/${model}/${v}`, tags });
  mlflow.setAlias(model, "champion", "2");
  mlflow.setAlias(model, "challenger", "3");
}

function deps(prometheusUrl = prometheus.url) {
  return {
    prometheus: new PrometheusClient({ url: prometheusUrl, timeoutMs: 5000 }),
    registry: new MlflowRegistryWriter({ trackingUri: mlflow.url, timeoutMs: 5000 }),
    now: () => end,
  };
}

async function run(model: string, over: Partial<Parameters<typeof promote>[1]> = {}): Promise<PromotionReport> {
  return promote(deps(), { model, window: "30m", thresholds: DEFAULT_THRESHOLDS, ...over });
}

async function champion(model: string): Promise<string> {
  return (await deps().registry.getModelVersionByAlias(model, "champion")).version;
}

const gate = (report: PromotionReport, name: string) => report.gates.find((g) => g.gate === name)!;

describe("promotion against a real Prometheus", () => {
  beforeAll(async () => {
    for (const model of Object.keys(SCENARIOS)) await registerScenario(model);
  });

  test("a canary as good as the stable is promoted: champion moves to its version, the previous one is recorded", async () => {
    const report = await run("good");
    expect(report.outcome).toBe("pass");
    expect(report.gates.map((g) => [g.gate, g.verdict])).toEqual([
      ["errors", "pass"],
      ["latency", "pass"],
      ["shift", "pass"],
      ["quality", "pass"],
      ["cost", "pass"],
    ]);
    // 2 req/s over the 30 minute window (increase() extrapolates to the window edges).
    expect(gate(report, "errors").samples.canary).toBeCloseTo(3600, -2);
    expect(gate(report, "errors").canary).toBeCloseTo(0.001, 4);
    expect(gate(report, "quality").samples).toEqual({ canary: expect.closeTo(900, -1), stable: expect.closeTo(9000, -2) });
    expect(report.canary).toMatchObject({ version: "3", task: "binary", taskSource: "model_info" });
    expect(report.changed).toBe(true);
    expect(await champion("good")).toBe("3");
    const promoted = await deps().registry.getModelVersion("good", "3");
    const tags = Object.fromEntries(promoted.tags!.map((t) => [t.key, t.value]));
    expect(tags[PROMOTION_TAGS.previousVersion]).toBe("2");
    expect(tags[PROMOTION_TAGS.promotedAt]).toBe(end.toISOString());
    expect(JSON.parse(tags[PROMOTION_TAGS.evidence]).gates).toHaveLength(5);
  });

  test("promoting twice is idempotent: the second run changes nothing and exits 0", async () => {
    const writesBefore = mlflow.count("setAlias") + mlflow.count("setModelVersionTag");
    const second = await run("good");
    expect(second).toMatchObject({ outcome: "pass", changed: false, action: expect.stringMatching(/already points at version 3/) });
    expect(mlflow.count("setAlias") + mlflow.count("setModelVersionTag")).toBe(writesBefore);
    const out: string[] = [];
    const code = await main(["promote", "--model", "good", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(0);
    expect(await champion("good")).toBe("3");
  });

  test("rollback restores exactly the recorded previous version and the rolled-back version is not promoted again", async () => {
    const out: string[] = [];
    const io = { log: (t: string) => out.push(t), error: (t: string) => out.push(t) };
    expect(await main(["rollback", "--model", "good", "--tracking-uri", mlflow.url], {}, io)).toBe(0);
    expect(await champion("good")).toBe("2");
    expect(out.join("\n")).toMatch(/champion: version 3 -> 2/);
    const v3 = await deps().registry.getModelVersion("good", "3");
    expect(v3.tags!.find((t) => t.key === PROMOTION_TAGS.rolledBackAt)).toBeDefined();
    const again = await run("good");
    expect(again.outcome).toBe("fail");
    expect(again.blockers[0]).toMatch(/version 3 was rolled back at/);
    expect(await champion("good")).toBe("2");
  });

  test("a higher error rate is rejected, naming the gate and its values; nothing changes", async () => {
    const out: string[] = [];
    const code = await main(["promote", "--model", "errors", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(1);
    const text = out.join("\n");
    expect(text).toMatch(/error \+ fallback rate\s+4\.00%\s+0\.10%\s+≤ 1\.00% and ≤ stable \+ 0\.50%\s+\d+\/\d+\s+FAIL/);
    expect(text).toMatch(/error \+ fallback rate: fail — \d+ of \d+ canary requests failed \(4\.00%; stable 0\.10%\): above 1\.00%/);
    expect(text).toMatch(/outcome: FAIL — nothing changed/);
    expect(await champion("errors")).toBe("2");
  });

  test("shifted predictions are rejected by the chi-squared test with the JS distance above the floor", async () => {
    const report = await run("shifted");
    expect(report.outcome).toBe("fail");
    const shift = gate(report, "shift");
    expect(shift.verdict).toBe("fail");
    expect(shift.detail!.pValue).toBeLessThan(1e-10);
    expect(shift.canary).toBeGreaterThan(0.5);
    expect(shift.reason).toMatch(/^predictions shifted: chi-squared \d+ on \d+ df/);
    expect(gate(report, "errors").verdict).toBe("pass");
    expect(await champion("shifted")).toBe("2");
  });

  test("a slow canary fails the p99 gate against both the absolute and the stable-relative limit", async () => {
    const report = await run("slow");
    const latency = gate(report, "latency");
    expect(latency.verdict).toBe("fail");
    expect(latency.canary).toBeGreaterThan(0.1);
    expect(latency.stable).toBeCloseTo(0.01, 4);
    expect(latency.reason).toMatch(/canary p99 \d+\.\d ms is above 100\.0 ms/);
  });

  test("too few labels is inconclusive (exit 2), not a failure, and changes nothing", async () => {
    const out: string[] = [];
    const code = await main(["promote", "--model", "few-labels", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url, "--json"], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(2);
    const report = JSON.parse(out.join("")) as PromotionReport;
    expect(report.outcome).toBe("inconclusive");
    expect(gate(report, "quality")).toMatchObject({ verdict: "inconclusive", reason: expect.stringMatching(/too little labelled predictions to decide: canary \d+ of 200 needed per arm/) });
    expect(gate(report, "errors").verdict).toBe("pass");
    expect(await champion("few-labels")).toBe("2");
  });

  test("a significantly worse hit rate fails the non-inferiority test; skipping the gate is explicit", async () => {
    const report = await run("worse-hit-rate");
    const quality = gate(report, "quality");
    expect(quality).toMatchObject({ verdict: "fail", canary: expect.closeTo(0.5, 3), stable: expect.closeTo(0.66, 3) });
    expect(quality.detail!.upper).toBeLessThan(-0.05);
    expect(gate(report, "cost").verdict).toBe("fail");
    const skipped = await run("worse-hit-rate", { skip: new Set(["quality", "cost"]), dryRun: true });
    expect(skipped).toMatchObject({ outcome: "pass", changed: false, action: "dry run: would move champion: version 2 -> 3" });
    expect(await champion("worse-hit-rate")).toBe("2");
  });

  test("no canary series at all (an empty query) is inconclusive, never an abort", async () => {
    const report = await run("no-canary-traffic");
    expect(report.outcome).toBe("inconclusive");
    expect(gate(report, "errors").reason).toMatch(/too little traffic to decide: canary 0 of 500/);
    expect(gate(report, "shift").reason).toMatch(/no prediction-distribution series for the canary/);
  });

  test("without a task label the registry tag decides the gate set", async () => {
    const report = await run("untagged");
    expect(report.canary).toMatchObject({ task: "binary", taskSource: "registry tag" });
    expect(report.outcome).toBe("pass");
  });

  test("multiclass: class-distribution shift and accuracy non-inferiority", async () => {
    const good = await run("multiclass-good", { dryRun: true });
    expect(good.gates.map((g) => [g.gate, g.title, g.verdict])).toEqual([
      ["errors", "error + fallback rate", "pass"],
      ["latency", "p99 latency", "pass"],
      ["shift", "class distribution shift", "pass"],
      ["quality", "accuracy (labelled)", "pass"],
      ["cost", "cost per labelled prediction", "pass"],
    ]);
    expect(gate(await run("multiclass-shifted"), "shift").verdict).toBe("fail");
    expect(gate(await run("multiclass-worse"), "quality").verdict).toBe("fail");
  });

  test("regression: value histograms compared on their shared bucket boundaries, MAE non-inferiority", async () => {
    const good = await run("regression-good", { dryRun: true });
    expect(good.gates.map((g) => g.gate)).toEqual(["errors", "latency", "shift", "quality"]);
    expect(gate(good, "quality")).toMatchObject({ title: "MAE (labelled)", verdict: "pass", canary: expect.closeTo(4, 3) });
    // Shared boundaries 20, 40, 60, +Inf: 25%/60%/15% against 25%/60%/15%.
    expect(gate(good, "shift")).toMatchObject({ verdict: "pass", canary: expect.closeTo(0, 3) });
    const worse = await run("regression-worse");
    expect(gate(worse, "quality")).toMatchObject({ verdict: "fail", canary: expect.closeTo(6, 3), stable: expect.closeTo(4, 3) });
    expect(await champion("regression-worse")).toBe("2");
  });

  test("without a task label or tag, the deployment's configured task (--task) picks the gates", async () => {
    const unconfigured = await run("configured-task");
    expect(unconfigured.canary).toMatchObject({ task: "binary", taskSource: "default" });
    expect(gate(unconfigured, "shift").reason).toMatch(/no prediction-distribution series/);
    const out: string[] = [];
    const code = await main(["promote", "--model", "configured-task", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url, "--task", "multiclass", "--json"], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    const report = JSON.parse(out.join("")) as PromotionReport;
    expect(report.canary).toMatchObject({ task: "multiclass", taskSource: "configured" });
    expect(code).toBe(1);
    expect(gate(report, "shift")).toMatchObject({ title: "class distribution shift", verdict: "fail" });
  });

  test("a canary of another task than the stable is not eligible", async () => {
    const report = await run("mixed-tasks");
    expect(report).toMatchObject({ outcome: "fail", gates: [] });
    expect(report.blockers[0]).toMatch(/the canary is a multiclass model and the stable a binary one/);
  });

  test("no challenger alias: exit 3 saying there is nothing to promote", async () => {
    await mlflow.register("no-challenger", { artifactUri: "s3://models/no-challenger/1", aliases: ["champion"] });
    const out: string[] = [];
    const code = await main(["promote", "--model", "no-challenger", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(3);
    expect(out.join("\n")).toMatch(/model "no-challenger" has no alias "challenger": nothing to promote/);
  });

  test("Prometheus down: exit 3, alias untouched", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const out: string[] = [];
    const code = await main(["promote", "--model", "errors", "--prometheus", dead, "--tracking-uri", mlflow.url], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(3);
    expect(out.join("\n")).toMatch(/Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\); nothing was changed/);
    expect(await champion("errors")).toBe("2");
  });

  test("MLflow refusing writes after the gates passed: exit 3, champion untouched", async () => {
    mlflow.failWrites(true);
    const out: string[] = [];
    try {
      const code = await main(["promote", "--model", "regression-good", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
      expect(code).toBe(3);
    } finally {
      mlflow.failWrites(false);
    }
    expect(out.join("\n")).toMatch(/registry failure while tagging version 3 of "regression-good".*HTTP 503/);
    expect(await champion("regression-good")).toBe("2");
  });

  test("--inconclusive-ok: waiting for traffic is exit 0 for a CronJob, the report still says inconclusive", async () => {
    const out: string[] = [];
    const code = await main(["promote", "--model", "few-labels", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url, "--inconclusive-ok"], {}, { log: (t) => out.push(t), error: (t) => out.push(t) });
    expect(code).toBe(0);
    expect(out.join("\n")).toMatch(/outcome: INCONCLUSIVE — nothing changed/);
    expect(await champion("few-labels")).toBe("2");
  });

  test("MLflow down: exit 3, alias untouched; a bad argument is exit 3 with the usage", async () => {
    const writes = mlflow.count("setAlias");
    await mlflow.setAvailability("unavailable");
    const out: string[] = [];
    const io = { log: (t: string) => out.push(t), error: (t: string) => out.push(t) };
    try {
      expect(await main(["promote", "--model", "multiclass-good", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url], {}, io)).toBe(3);
      expect(out.join("\n")).toMatch(/registry failure while reading alias "(challenger|champion)" of "multiclass-good".*HTTP 503/);
    } finally {
      await mlflow.setAvailability("up");
    }
    expect(mlflow.count("setAlias")).toBe(writes);
    expect(await champion("multiclass-good")).toBe("2");
    expect(await main(["promote", "--model", "x", "--prometheus", prometheus.url, "--tracking-uri", mlflow.url, "--max-error-rate", "lots"], {}, io)).toBe(3);
    expect(out.at(-1)).toMatch(/--max-error-rate: expected a number >= 0, got NaN[\s\S]*Usage:/);
  });
});
