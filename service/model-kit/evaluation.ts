/** Metrics for the model cards (metrics.json): binary (and its threshold rule), multiclass, regression. */

/** Area under the ROC curve (ties count one half), by sorting scores once. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]] === scores[order[i]]) j++;
    const averageRank = (i + j + 1) / 2; // 1-based ranks i+1..j
    for (let k = i; k < j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood, probabilities clipped to [1e-7, 1 - 1e-7]. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(Math.max(probabilities[i], 1e-7), 1 - 1e-7);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / probabilities.length;
}

export interface Confusion {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** Predicted positive when probability >= threshold (the service's rule). */
export function confusionAt(probabilities: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const predicted = probabilities[i] >= threshold;
    if (labels[i] === 1) predicted ? tp++ : fn++;
    else predicted ? fp++ : tn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return {
    accuracy: (tp + tn) / Math.max(probabilities.length, 1),
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}

/**
 * The threshold rule: the probability cut-off in [0.05, 0.95] (steps of 0.01) that maximises F1 for the
 * delayed class on validation rows. Delays are the minority (~20%), so 0.5 would flag almost nothing;
 * F1 balances catching delays against false alarms without assuming costs. Ties keep the lower threshold.
 */
export function chooseThreshold(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let best = 0.5;
  let bestF1 = -1;
  for (let step = 5; step <= 95; step++) {
    const threshold = step / 100;
    const { f1 } = confusionAt(probabilities, labels, threshold);
    if (f1 > bestF1 + 1e-12) {
      bestF1 = f1;
      best = threshold;
    }
  }
  return best;
}

export interface RegressionMetrics {
  readonly mae: number;
  readonly rmse: number;
  /** 1 - SSE / SST around the actuals' own mean. */
  readonly r2: number;
}

export function regressionMetrics(predictions: ArrayLike<number>, actuals: ArrayLike<number>): RegressionMetrics {
  const n = Math.max(actuals.length, 1);
  let absolute = 0;
  let squared = 0;
  let mean = 0;
  for (let i = 0; i < actuals.length; i++) mean += actuals[i] / n;
  let total = 0;
  for (let i = 0; i < actuals.length; i++) {
    const error = actuals[i] - predictions[i];
    absolute += Math.abs(error);
    squared += error * error;
    total += (actuals[i] - mean) ** 2;
  }
  return { mae: absolute / n, rmse: Math.sqrt(squared / n), r2: total === 0 ? Number.NaN : 1 - squared / total };
}

export interface ClassMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Rows whose actual class this is. */
  readonly support: number;
  /** One-vs-rest ROC AUC of this class's probability. */
  readonly auc: number;
}

export interface MulticlassMetrics {
  /** Predicted class = argmax of the probabilities (the first on ties, as TreeEnsembleClassifier does). */
  readonly accuracy: number;
  readonly logLoss: number;
  readonly macroF1: number;
  readonly perClass: readonly ClassMetrics[];
}

/** `probabilities` row-major [N, K]; `labels` class indices 0..K-1. */
export function multiclassMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>, classes: number): MulticlassMetrics {
  const n = labels.length;
  const predicted = argmaxRows(probabilities, classes);
  const counts = { tp: new Array<number>(classes).fill(0), predicted: new Array<number>(classes).fill(0), actual: new Array<number>(classes).fill(0) };
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    counts.actual[y]++;
    counts.predicted[predicted[i]]++;
    if (predicted[i] === y) {
      correct++;
      counts.tp[y]++;
    }
    loss -= Math.log(Math.min(Math.max(probabilities[i * classes + y], 1e-7), 1 - 1e-7));
  }
  const perClass = Array.from({ length: classes }, (_, k): ClassMetrics => {
    const precision = counts.predicted[k] === 0 ? 0 : counts.tp[k] / counts.predicted[k];
    const recall = counts.actual[k] === 0 ? 0 : counts.tp[k] / counts.actual[k];
    const scores = Float64Array.from({ length: n }, (_, i) => probabilities[i * classes + k]);
    const isClass = Uint8Array.from({ length: n }, (_, i) => (labels[i] === k ? 1 : 0));
    return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), support: counts.actual[k], auc: rocAuc(scores, isClass) };
  });
  return {
    accuracy: correct / Math.max(n, 1),
    logLoss: loss / Math.max(n, 1),
    macroF1: perClass.reduce((sum, c) => sum + c.f1, 0) / classes,
    perClass,
  };
}

/** Index of each row's largest value (the first of equal ones). */
export function argmaxRows(values: ArrayLike<number>, width: number): Uint8Array {
  const out = new Uint8Array(values.length / width);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let k = 1; k < width; k++) if (values[i * width + k] > values[i * width + best]) best = k;
    out[i] = best;
  }
  return out;
}

/** Empirical quantiles (nearest rank: the smallest value with at least that share of values at or below it). */
export function quantiles(values: ArrayLike<number>, levels: readonly number[]): number[] {
  if (values.length === 0) throw new Error("quantiles: no values");
  const sorted = Float64Array.from(values).sort();
  return levels.map((level) => {
    if (!(level >= 0 && level <= 1)) throw new RangeError(`quantiles: level ${level} is not in [0, 1]`);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(level * sorted.length) - 1))];
  });
}
