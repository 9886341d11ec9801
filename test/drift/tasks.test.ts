/**
 * Prediction and target drift for every task, through the job as the CLI runs it on local tables: the task's
 * columns (DRIFT_COLUMNS) are compared as the kind they are (a multiclass label with chi-squared or
 * Jensen-Shannon, a regression value with KS or Wasserstein), a tensor model compares only its output norm.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DRIFT_COLUMNS, EMBEDDED_MODEL_DIR, TASKS, type Task } from "../../service/src/contract";
import { parseCli } from "../../service/src/drift/cli";
import { DriftInputError } from "../../service/src/drift/errors";
import { outputPlans, plansFromSignature, runDriftJob } from "../../service/src/drift/job";
import { readModelPackage } from "../../service/src/model/mlmodel";
import { projectRoot } from "../../service/src/paths";

let dir: string;
let reference: Record<string, string>[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drift-tasks-"));
  const [header, ...lines] = (await readFile(join(projectRoot(), EMBEDDED_MODEL_DIR, "reference.csv"), "utf8")).trim().split("\n");
  const names = header.split(",");
  reference = lines.map((line) => Object.fromEntries(line.split(",").map((cell, i) => [names[i], cell])));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const delayClass = (p: number) => (p < 0.2 ? "on_time" : p < 0.45 ? "late" : "very_late");

/** The demo reference rows as a model of `task` would have logged them; `shift` moves the model's answers up. */
function rowsFor(task: Task, shift: number, count = 2000): Record<string, string | number>[] {
  return reference.slice(0, count).map((row, i): Record<string, string | number> => {
    const p = Math.min(0.999, Number(row.probability) + shift);
    const features = { hour: row.hour, distance: row.distance, origin: row.origin };
    switch (task) {
      case "binary":
        return { ...features, probability: p, actual: shift > 0 && i % 3 === 0 ? "1" : row.actual };
      case "multiclass":
        return { ...features, label: delayClass(p), actual: delayClass(Number(row.probability) + (i % 7 === 0 ? 0.3 : 0) + shift) };
      case "regression":
        return { ...features, value: +(p * 120).toFixed(2), actual: +(p * 120 + ((i * 37) % 21) - 10).toFixed(2) };
      case "tensor":
        return { output_norm: +(1 + p * 3).toFixed(4) };
    }
  });
}

async function csv(name: string, rows: Record<string, string | number>[]): Promise<string> {
  const columns = Object.keys(rows[0]);
  const path = join(dir, name);
  await writeFile(path, [columns.join(","), ...rows.map((row) => columns.map((c) => row[c]).join(","))].join("\n") + "\n");
  return path;
}

async function drift(task: Task, shift: number) {
  const ref = await csv(`${task}-reference.csv`, rowsFor(task, 0));
  const cur = await csv(`${task}-current-${shift}.csv`, rowsFor(task, shift, 900));
  const { report } = await runDriftJob({ model: `m-${task}`, task, reference: ref, current: { uri: cur }, outputs: [join(dir, `${task}-${shift}`)] });
  return report;
}

describe("prediction and target drift per task", () => {
  it.each(TASKS.map((t) => [t] as const))("%s: the task's columns, compared as their kind; drift only when the answers move", async (task) => {
    const steady = await drift(task, 0);
    const moved = await drift(task, 0.25);
    const { prediction, target } = DRIFT_COLUMNS[task];
    for (const report of [steady, moved]) {
      expect(report.prediction).toMatchObject({ column: prediction.name, role: "prediction", kind: prediction.kind });
      if (target) expect(report.target).toMatchObject({ column: target.name, role: "target", kind: target.kind });
      else expect(report.target).toBeNull();
      // The answers are never counted as features.
      expect(report.columns.map((c) => c.column)).toEqual(expect.not.arrayContaining([prediction.name, target?.name].filter(Boolean)));
    }
    expect(steady.prediction!.drifted).toBe(false);
    expect(moved.prediction!.drifted).toBe(true);
    if (target) expect(moved.target!.drifted).toBe(true);
    // A reference of 2,000 rows: Evidently's distances (Wasserstein for a numeric answer with many values,
    // Jensen-Shannon for a label); 900 current rows do not change the choice.
    expect(moved.prediction!.method).toBe(prediction.kind === "categorical" ? "jensenshannon" : "wasserstein");
    if (task === "tensor") expect(moved.columns).toEqual([]);
  }, 30_000);

  it("a small multiclass reference: chi-squared on the predicted class, as Evidently picks for a categorical column", async () => {
    const ref = await csv("mc-small-ref.csv", rowsFor("multiclass", 0, 600));
    const cur = await csv("mc-small-cur.csv", rowsFor("multiclass", 0.25, 400));
    const { report } = await runDriftJob({ task: "multiclass", reference: ref, current: { uri: cur }, outputs: [join(dir, "mc-small")] });
    expect(report.prediction).toMatchObject({ column: "label", method: "chisquare", drifted: true });
    expect(report.target).toMatchObject({ column: "actual", kind: "categorical", method: "chisquare" });
  });
});

describe("the task's columns from a model signature", () => {
  it("features from the signature plus the task's prediction and target; a tensor model compares only its output norm", async () => {
    const pkg = await readModelPackage(join(projectRoot(), EMBEDDED_MODEL_DIR));
    const features = pkg.inputs.map((input) => input.name);
    for (const task of TASKS) {
      const plans = plansFromSignature(pkg, task);
      expect(plans.filter((p) => p.role !== "feature")).toEqual(outputPlans(task));
      expect(plans.filter((p) => p.role === "feature").map((p) => p.name)).toEqual(task === "tensor" ? [] : features);
    }
    expect(outputPlans("multiclass")).toEqual([
      { name: "label", role: "prediction", kind: "categorical" },
      { name: "actual", role: "target", kind: "categorical" },
    ]);
    expect(outputPlans("tensor")).toEqual([{ name: "output_norm", role: "prediction", kind: "numeric" }]);
  });

  it("--task picks them on the command line; an unknown task is refused naming the flag", () => {
    const config = parseCli(["--reference", "r.csv", "--current", "c.csv", "--task", "regression"], {});
    expect(config).toMatchObject({ task: "regression" });
    expect(() => parseCli(["--reference", "r.csv", "--current", "c.csv", "--task", "ranking"], {})).toThrow(DriftInputError);
    expect(() => parseCli(["--reference", "r.csv", "--current", "c.csv", "--task", "ranking"], {})).toThrow(/--task ranking: expected one of binary, multiclass, regression, tensor/);
  });
});
