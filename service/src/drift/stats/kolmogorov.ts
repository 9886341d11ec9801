/**
 * p-values of the two-sample Kolmogorov-Smirnov test, following scipy.stats.ks_2samp(method="auto"):
 * exact lattice-path counting when both samples have at most 10,000 values, else the one-sample Kolmogorov
 * distribution kstwo with n = round(n1·n2 / (n1 + n2)) (Simard & L'Ecuyer 2011: Ruben-Gambino ends, Durbin
 * matrix, Pelz-Good, and 2·smirnov in the upper tail).
 *
 * One deliberate difference: where scipy returns 0 for n·x² ≥ 370, we keep the 2·smirnov(n, x) value, which is
 * the accurate tail there (Miller's bound: the error is below the square of the one-sided probability).
 */
import { logGamma } from "./special";

/** scipy's MAX_AUTO_N: exact p-values when max(n1, n2) is at most this. */
export const KS_EXACT_MAX_N = 10_000;

export interface KsPValue {
  readonly pValue: number;
  readonly method: "exact" | "asymptotic";
}

/** p-value of the two-sided two-sample KS statistic `d` for sample sizes n1, n2. */
export function ksTwoSamplePValue(d: number, n1: number, n2: number): KsPValue {
  if (!(n1 > 0 && n2 > 0)) throw new RangeError(`ks: sample sizes must be positive, got ${n1} and ${n2}`);
  if (Math.max(n1, n2) <= KS_EXACT_MAX_N) {
    const exact = exactTwoSided(d, n1, n2);
    if (exact !== undefined) return { pValue: exact, method: "exact" };
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  return { pValue: clip(kolmogorovSf(d, Math.round(en))), method: "asymptotic" };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function exactTwoSided(d: number, n1: number, n2: number): number | undefined {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = Math.round(d * lcm);
  if (h === 0) return 1;
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInsideMethod(n1, n2, g, h);
  return Number.isFinite(p) && p >= 0 && p <= 1 ? p : undefined;
}

/** P(D_{n,n} ≥ h/n) by the alternating series evaluated Horner-style (no subtractive cancellation). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/**
 * Proportion of lattice paths from (0,0) to (m,n) leaving the band |x/m - y/n| < h/lcm: Hodges' inside method
 * with Viehmann's recursion computing 1 - p directly (arXiv:2102.08037), one sliding column at a time.
 */
function outerProbInsideMethod(m0: number, n0: number, g: number, h: number): number {
  const [m, n] = m0 >= n0 ? [m0, n0] : [n0, m0];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const a = new Float64Array(Math.max(lenA, n + 2)).fill(1);
  a.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (a[jj + minj - lastminj] * i + val * j) / (i + j);
      a[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) a.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return a[maxj - minj - 1];
}

const clip = (p: number): number => Math.min(1, Math.max(0, p));

/** Survival function of the one-sample two-sided KS statistic D_n (scipy.stats.kstwo.sf). */
export function kolmogorovSf(x: number, n: number): number {
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    // Ruben-Gambino: P(D_n ≤ x) = n!/n^n (2t - 1)^n for 1/(2n) ≤ x ≤ 1/n.
    return clip(1 - Math.exp(logGamma(n + 1) - n * Math.log(n) + n * Math.log(2 * t - 1)));
  }
  if (t >= n - 1) return clip(2 * Math.pow(1 - x, n));
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nxSquared = t * x;
  if (n <= 140) {
    // scipy uses Pomeranz's recursion up to n·x² ≤ 4; the Durbin matrix is equally exact and small here.
    if (nxSquared <= 4) return clip(1 - durbinMatrixCdf(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nxSquared >= 2.2) return clip(2 * smirnovSf(n, x));
  if (n <= 100_000 && n * Math.pow(x, 1.5) <= 1.4) return clip(1 - durbinMatrixCdf(n, x));
  return clip(1 - pelzGoodCdf(n, x));
}

/**
 * One-sided Smirnov survival P(D_n^+ ≥ x), exact (Birnbaum-Tingey sum; every term positive, summed in log
 * space so tail values far below 1e-16 keep their relative precision).
 */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const jmax = Math.floor(n * (1 - x) + 1e-12);
  // j ≤ n(1 - x) < n, so 1 - x - j/n ≥ 0 and n - j ≥ 1 in every term.
  const logN = logGamma(n + 1);
  const logs = new Float64Array(jmax + 1);
  let maxLog = Number.NEGATIVE_INFINITY;
  for (let j = 0; j <= jmax; j++) {
    const rest = 1 - x - j / n;
    logs[j] =
      rest > 0
        ? logN - logGamma(j + 1) - logGamma(n - j + 1) + (n - j) * Math.log(rest) + (j - 1) * Math.log(x + j / n)
        : Number.NEGATIVE_INFINITY;
    if (logs[j] > maxLog) maxLog = logs[j];
  }
  let sum = 0;
  for (let j = 0; j <= jmax; j++) sum += Math.exp(logs[j] - maxLog);
  return x * Math.exp(maxLog) * sum;
}

const SCALE_EXP = 128;
const SCALE = 2 ** SCALE_EXP;

/** P(D_n ≤ d) by the Durbin matrix (Marsaglia, Tsang & Wang 2003), with explicit exponent bookkeeping. */
function durbinMatrixCdf(n: number, d: number): number {
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - Math.pow(h, j)) * fac;
  }
  v[m - 1] = (1 + Math.pow(Math.max(2 * h - 1, 0), m) - 2 * Math.pow(h, m)) * fac;
  let hm: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) hm[r * m + i] = w[r - i + 1];
  for (let r = 0; r < m; r++) hm[r * m] = v[r];
  for (let c = 0; c < m; c++) hm[(m - 1) * m + c] = v[m - 1 - c];

  let power: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  let powerExp = 0;
  let hExp = 0;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2) {
      power = matmul(power, hm, m);
      powerExp += hExp;
    }
    hm = matmul(hm, hm, m);
    hExp *= 2;
    if (Math.abs(hm[(k - 1) * m + (k - 1)]) > SCALE) {
      for (let i = 0; i < hm.length; i++) hm[i] /= SCALE;
      hExp += SCALE_EXP;
    }
  }
  let p = power[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < 1 / SCALE) {
      p *= SCALE;
      powerExp -= SCALE_EXP;
    }
  }
  return clip(p * 2 ** powerExp);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l];
      if (ail === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += ail * b[l * m + j];
    }
  }
  return out;
}

const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
const SQRT2PI = Math.sqrt(2 * Math.PI);

/** Pelz-Good asymptotic expansion of P(D_n ≤ x), valid where the Durbin matrix would be too large. */
function pelzGoodCdf(n: number, x: number): number {
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  const q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const terms = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qpower = Math.pow(q, 8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) terms[i] = terms[i] * qpower + coeffs[i];
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) terms[i] = (terms[i] * q * SQRT2PI) / divisors[i];
  const q2 = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = Math.pow(q2, k2);
    k2extra += k2 * qp;
    k3extra += (sqrt3z + Math.PI * k) * (sqrt3z - Math.PI * k) * k2 * qp;
  }
  terms[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z ** 3);
  terms[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += terms[i] / Math.pow(n, i / 2);
  return sum;
}
