/**
 * What a version's live traffic is compared with: its reference sample (reference.csv shipped with the model,
 * the drift job's default reference), read by the drift job's readers and summarized by its DatasetSummary,
 * per signature feature the drift job compares (plansFromSignature). Numeric features keep the reference's
 * distribution (KS); categorical ones are binned for a chi-squared test on a window of `window` values:
 * categories expected at least MIN_EXPECTED_PER_BIN times in a window get a bin each (Cochran's rule), the rest
 * and every category the reference never saw share one `other` bin, itself grown from the rarest bins until it
 * meets the rule too. Without that, a category the 5,000-row sample happens to miss turns into an infinite
 * statistic and a false alarm, and sparse bins break the chi-squared approximation.
 */
import { plansFromSignature } from "../drift/job";
import { DatasetSummary } from "../drift/dataset";
import { openTable } from "../drift/readers";
import type { WeightedPoints } from "../drift/summary";
import type { ModelPackage } from "../model/mlmodel";
import type { Task } from "../contract";

export const MIN_EXPECTED_PER_BIN = 5;
/** The bin of categories too rare to test on their own, and of categories the reference never saw. */
export const OTHER_BIN = "(other)";

export interface NumericReference {
  readonly name: string;
  readonly kind: "numeric";
  readonly points: WeightedPoints;
}

export interface CategoricalReference {
  readonly name: string;
  readonly kind: "categorical";
  /** Bin labels; the last is OTHER_BIN. */
  readonly bins: readonly string[];
  /** Reference count per bin. */
  readonly counts: readonly number[];
  /** Category -> bin index; categories not listed go to the last bin. */
  readonly binOf: ReadonlyMap<string, number>;
  readonly total: number;
}

export type FeatureReference = NumericReference | CategoricalReference;

export interface OnlineReference {
  readonly source: string;
  readonly rows: number;
  readonly features: readonly FeatureReference[];
}

/** The version's reference.csv as online-drift references; undefined when the model ships none. */
export async function loadOnlineReference(pkg: ModelPackage, task: Task, window: number): Promise<OnlineReference | undefined> {
  if (!pkg.referencePath || task === "tensor") return undefined;
  const plans = plansFromSignature(pkg, task).filter((p) => p.role === "feature");
  if (plans.length === 0) return undefined;
  const summary = new DatasetSummary(plans);
  for await (const batch of openTable(pkg.referencePath, { role: "reference", columns: plans.map((p) => p.name) })) summary.add(batch);
  const features: FeatureReference[] = [];
  for (const plan of plans) {
    const column = summary.columns.get(plan.name)!;
    if (!column.present) continue;
    if (plan.kind === "numeric") {
      if (column.numeric!.count > 0) features.push({ name: plan.name, kind: "numeric", points: column.numeric!.points() });
    } else if (column.categorical!.count > 0) {
      features.push({ name: plan.name, ...binCategories(column.categorical!.counts, window) });
    }
  }
  return { source: pkg.referencePath, rows: summary.rows, features };
}

export function binCategories(counts: ReadonlyMap<string, number>, window: number): Omit<CategoricalReference, "name"> {
  let total = 0;
  for (const c of counts.values()) total += c;
  const expected = (count: number) => (count * window) / total;
  const regular = [...counts].filter(([, c]) => expected(c) >= MIN_EXPECTED_PER_BIN).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let other = total - regular.reduce((sum, [, c]) => sum + c, 0);
  while (expected(other) < MIN_EXPECTED_PER_BIN && regular.length > 0) other += regular.pop()![1];
  const bins = [...regular.map(([key]) => key), OTHER_BIN];
  return {
    kind: "categorical",
    bins,
    counts: [...regular.map(([, c]) => c), other],
    binOf: new Map(regular.map(([key], i) => [key, i])),
    total,
  };
}
