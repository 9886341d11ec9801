/**
 * How far a median of paired rounds can be trusted. Single rounds on a shared machine swing by ±10% or more,
 * so a median of 8 rounds alone cannot say whether a ratio clears a target 2% away. This is the sign-test
 * interval: the k-th smallest and the k-th largest round, with k as large as possible while the true median
 * still lies between them with at least `level` probability. It assumes nothing about how rounds are
 * distributed, only that they are independent. With 8 rounds it is the 2nd and 7th (93%).
 */
export interface MedianInterval {
  readonly low: number;
  readonly high: number;
  /** Probability that the median lies in [low, high]: 1 - 2 P(Binomial(n, 1/2) < k). */
  readonly coverage: number;
}

/** The interval, or undefined when there are too few rounds for any interval to reach `level` (4 or fewer at 90%). */
export function medianInterval(values: readonly number[], level = 0.9): MedianInterval | undefined {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  let best: MedianInterval | undefined;
  let below = 0; // P(Binomial(n, 1/2) <= k - 1)
  for (let k = 1; k <= Math.floor(n / 2); k++) {
    below += binomial(n, k - 1) / 2 ** n;
    const coverage = 1 - 2 * below;
    if (coverage < level) break;
    best = { low: sorted[k - 1]!, high: sorted[n - k]!, coverage };
  }
  return best;
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}
