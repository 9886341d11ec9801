/**
 * One window against the reference, feature by feature, with the drift job's own statistics: the two-sample
 * Kolmogorov-Smirnov test for numeric features (exact p-values as scipy's ks_2samp computes them) and the
 * chi-squared test for categorical ones (the drift job's statistic over the reference's bins, with the p-value
 * of the two-sample form, see below). Pure: the service runs it on a worker thread, the calibration benchmark
 * and the tests call it directly.
 *
 * Thresholds (the calibration, README "Online drift"): a window raises an alarm when any feature drifts, so
 * each of the F features is tested at alpha / F (Bonferroni), alpha = 1 / falseAlarmWindows: by the union
 * bound no more than one window in falseAlarmWindows alarms on traffic that has not drifted, provided each
 * p-value is valid. KS's is exact for continuous values and conservative with ties (hour, day of week), so it
 * errs towards fewer alarms. The drift job's chi-squared statistic compares the window with reference shares
 * taken as exact (Evidently's goodness-of-fit form); a 5,000-row reference is itself a sample, which inflates
 * that statistic by about (R + W) / R under no drift (about 1.2 for a 1,000-value window: at alpha = 1e-5 on
 * 50 degrees of freedom, a ~100x higher false-alarm rate). The p-value is therefore taken at statistic x R/(R+W),
 * the two-sample (homogeneity) chi-squared, which accounts for both samples.
 */
import { chiSquareTest, isDrift, ksTest, type MethodName } from "../drift/stats/methods";
import { chiSquaredSf } from "../drift/stats/special";
import { NumericSummary } from "../drift/summary";
import type { FeatureReference } from "./reference";
import type { FeatureWindow } from "./window";

export interface FeatureResult {
  readonly feature: string;
  readonly method: Extract<MethodName, "ks" | "chisquare">;
  /** KS D, or the two-sample chi-squared statistic. */
  readonly statistic: number;
  readonly pValue: number;
  /** The p-value below which (at or below, for KS) this feature counts as drifted. */
  readonly threshold: number;
  readonly drifted: boolean;
  /** Values of the window the test used (missing ones left out). */
  readonly values: number;
}

/** The per-feature p-value threshold for a window of `features` tests and one false alarm per `falseAlarmWindows` windows. */
export function featureThreshold(falseAlarmWindows: number, features: number): number {
  return 1 / (falseAlarmWindows * Math.max(1, features));
}

export function evaluateWindow(references: readonly FeatureReference[], windows: readonly FeatureWindow[], threshold: number): FeatureResult[] {
  const results: FeatureResult[] = [];
  references.forEach((reference, f) => {
    const window = windows[f]!;
    const result = reference.kind === "numeric" ? numeric(reference, window as Extract<FeatureWindow, { kind: "numeric" }>) : categorical(reference, window as Extract<FeatureWindow, { kind: "categorical" }>);
    if (!result) return;
    results.push({ ...result, feature: reference.name, threshold, drifted: isDrift(result.method, result.pValue, threshold) });
  });
  return results;
}

type Partial = Pick<FeatureResult, "method" | "statistic" | "pValue" | "values">;

function numeric(reference: Extract<FeatureReference, { kind: "numeric" }>, window: Extract<FeatureWindow, { kind: "numeric" }>): Partial | undefined {
  const summary = new NumericSummary();
  for (const value of window.values) if (Number.isFinite(value)) summary.addNumber(value);
  if (summary.count === 0) return undefined;
  const { statistic, pValue } = ksTest(reference.points, summary.points());
  return { method: "ks", statistic, pValue, values: summary.count };
}

function categorical(reference: Extract<FeatureReference, { kind: "categorical" }>, window: Extract<FeatureWindow, { kind: "categorical" }>): Partial | undefined {
  let n = 0;
  for (const c of window.counts) n += c;
  if (n === 0) return undefined;
  if (reference.bins.length < 2) return { method: "chisquare", statistic: 0, pValue: 1, values: n };
  const asMap = (counts: ArrayLike<number>) => new Map(reference.bins.map((bin, i) => [bin, counts[i]!]));
  const goodnessOfFit = chiSquareTest(asMap(reference.counts), asMap(window.counts)).statistic;
  const statistic = (goodnessOfFit * reference.total) / (reference.total + n);
  return { method: "chisquare", statistic, pValue: chiSquaredSf(statistic, reference.bins.length - 1), values: n };
}
