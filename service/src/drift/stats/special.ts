/**
 * Special functions for p-values, accurate to near double precision including the far tails (a p-value of
 * 1e-200 comes out as 1e-200, not 0 and not 1 - 1 = 0): log-gamma and the regularized incomplete gamma
 * functions (chi-squared and normal tails).
 */

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7): relative error ~1e-15. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/**
 * Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). Series for P when x < a + 1, Lentz's continued
 * fraction for Q otherwise, so a small Q is computed directly (no cancellation); the prefactor is taken in
 * log space, so huge x gives an honest underflow to 0 only below ~1e-308.
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaQ: a must be > 0, got ${a}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  const logPrefactor = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) return 1 - Math.exp(logPrefactor) * lowerSeries(a, x);
  return Math.exp(logPrefactor) * upperContinuedFraction(a, x);
}

function lowerSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum;
}

function upperContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Survival function of the chi-squared distribution with `df` degrees of freedom. */
export function chiSquaredSf(statistic: number, df: number): number {
  if (statistic === Number.POSITIVE_INFINITY) return 0;
  return gammaQ(df / 2, statistic / 2);
}

/** Two-sided standard normal tail 2·P(Z > |z|) = erfc(|z|/√2) = Q(1/2, z²/2), exact in the tails. */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === 0) return 1;
  return gammaQ(0.5, (z * z) / 2);
}

/**
 * Standard normal CDF Φ(x) as scipy's ndtr evaluates it (cephes): 0.5 + 0.5·erf(x/√2) near 0, else
 * 1 - 0.5·erfc(|x|/√2) for x > 0, so 1 - Φ(x) rounds exactly as Evidently's z-test sees it.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const t = x * Math.SQRT1_2;
  const z = Math.abs(t);
  if (z < Math.SQRT1_2) {
    const erf = z === 0 ? 0 : Math.sign(t) * (1 - gammaQ(0.5, z * z));
    return 0.5 + 0.5 * erf;
  }
  const tail = 0.5 * gammaQ(0.5, z * z);
  return t > 0 ? 1 - tail : tail;
}
