/** Binary-classifier metrics for the model card (metrics.json) and the threshold rule. */

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
