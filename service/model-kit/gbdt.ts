/**
 * Histogram gradient-boosted decision trees for binary classification (log loss), small enough to read:
 * features are bucketed into at most 255 bins once, each tree is grown depth-first from per-bin gradient
 * sums, and the larger child's histogram is the parent's minus the smaller child's.
 *
 * Every threshold is an observed float32 feature value and every leaf weight a float32, so a tree exported
 * to ONNX (x <= threshold goes left, as BRANCH_LEQ) scores exactly as it was trained.
 */

export interface GbdtOptions {
  /** @default 60 */
  readonly trees?: number;
  /** @default 6 */
  readonly maxDepth?: number;
  /** @default 0.15 */
  readonly learningRate?: number;
  /** L2 penalty on leaf weights. @default 1 */
  readonly lambda?: number;
  /** Smallest hessian sum (about rows x p(1-p)) a child may have. @default 20 */
  readonly minChildHessian?: number;
  /** @default 255 */
  readonly maxBins?: number;
}

export type TreeNode =
  | { readonly kind: "split"; readonly feature: number; readonly threshold: number; readonly left: TreeNode; readonly right: TreeNode }
  | { readonly kind: "leaf"; readonly value: number };

export interface GbdtModel {
  /** Log-odds before any tree (training prior); exporters fold it into the first tree's leaves. */
  readonly baseScore: number;
  readonly trees: readonly TreeNode[];
}

/** Column-major training data: features[f][row] (float32 values), labels 0/1. */
export interface TrainingSet {
  readonly features: readonly Float32Array[];
  readonly labels: Uint8Array;
}

export function trainGbdt(data: TrainingSet, options: GbdtOptions = {}): GbdtModel {
  const { trees = 60, maxDepth = 6, learningRate = 0.15, lambda = 1, minChildHessian = 20, maxBins = 255 } = options;
  const n = data.labels.length;
  if (n === 0) throw new Error("trainGbdt: no training rows");
  const binning = data.features.map((column) => binEdges(column, maxBins));
  const binned = data.features.map((column, f) => binColumn(column, binning[f]));
  const binCounts = binning.map((edges) => edges.length);

  const positives = data.labels.reduce((sum, y) => sum + y, 0);
  const prior = Math.min(Math.max(positives / n, 1e-6), 1 - 1e-6);
  const baseScore = Math.fround(Math.log(prior / (1 - prior)));
  const score = new Float64Array(n).fill(baseScore);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const rows = new Uint32Array(n);
  const grown: TreeNode[] = [];

  for (let t = 0; t < trees; t++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-score[i]));
      grad[i] = p - data.labels[i];
      hess[i] = Math.max(p * (1 - p), 1e-12);
      rows[i] = i;
    }
    const grow = (start: number, end: number, depth: number, hist: Histogram): TreeNode => {
      const split = depth < maxDepth ? bestSplit(hist, binCounts, lambda, minChildHessian) : undefined;
      if (!split) {
        const value = Math.fround((-learningRate * hist.totalGrad) / (hist.totalHess + lambda));
        for (let i = start; i < end; i++) score[rows[i]] += value;
        return { kind: "leaf", value };
      }
      const column = binned[split.feature];
      // In-place partition: rows with bin <= split.bin first. Deterministic, no allocation.
      let mid = start;
      for (let i = start; i < end; i++) {
        const row = rows[i];
        if (column[row] <= split.bin) {
          rows[i] = rows[mid];
          rows[mid++] = row;
        }
      }
      const leftIsSmaller = mid - start <= end - mid;
      const small = leftIsSmaller ? buildHistogram(rows, start, mid, binned, binCounts, grad, hess) : buildHistogram(rows, mid, end, binned, binCounts, grad, hess);
      const large = subtractHistogram(hist, small);
      const [leftHist, rightHist] = leftIsSmaller ? [small, large] : [large, small];
      const left = grow(start, mid, depth + 1, leftHist);
      const right = grow(mid, end, depth + 1, rightHist);
      return { kind: "split", feature: split.feature, threshold: binning[split.feature][split.bin], left, right };
    };
    grown.push(grow(0, n, 0, buildHistogram(rows, 0, n, binned, binCounts, grad, hess)));
  }
  return { baseScore, trees: grown };
}

/** Log-odds for one row of features (in model feature order). */
export function predictRaw(model: GbdtModel, row: ArrayLike<number>): number {
  let sum = model.baseScore;
  for (const tree of model.trees) {
    let node = tree;
    while (node.kind === "split") node = row[node.feature] <= node.threshold ? node.left : node.right;
    sum += node.value;
  }
  return sum;
}

interface Histogram {
  /** grad[f][bin], hess[f][bin] */
  readonly grad: Float64Array[];
  readonly hess: Float64Array[];
  readonly totalGrad: number;
  readonly totalHess: number;
}

function buildHistogram(rows: Uint32Array, start: number, end: number, binned: readonly Uint8Array[], binCounts: readonly number[], grad: Float64Array, hess: Float64Array): Histogram {
  const g = binCounts.map((count) => new Float64Array(count));
  const h = binCounts.map((count) => new Float64Array(count));
  let totalGrad = 0;
  let totalHess = 0;
  for (let i = start; i < end; i++) {
    const row = rows[i];
    totalGrad += grad[row];
    totalHess += hess[row];
  }
  for (let f = 0; f < binned.length; f++) {
    const column = binned[f];
    const gf = g[f];
    const hf = h[f];
    for (let i = start; i < end; i++) {
      const row = rows[i];
      const bin = column[row];
      gf[bin] += grad[row];
      hf[bin] += hess[row];
    }
  }
  return { grad: g, hess: h, totalGrad, totalHess };
}

function subtractHistogram(parent: Histogram, child: Histogram): Histogram {
  return {
    grad: parent.grad.map((g, f) => g.map((value, bin) => value - child.grad[f][bin])),
    hess: parent.hess.map((h, f) => h.map((value, bin) => value - child.hess[f][bin])),
    totalGrad: parent.totalGrad - child.totalGrad,
    totalHess: parent.totalHess - child.totalHess,
  };
}

function bestSplit(hist: Histogram, binCounts: readonly number[], lambda: number, minChildHessian: number): { feature: number; bin: number } | undefined {
  const { totalGrad: G, totalHess: H } = hist;
  const parentGain = (G * G) / (H + lambda);
  let best: { feature: number; bin: number } | undefined;
  let bestGain = 1e-9;
  for (let f = 0; f < binCounts.length; f++) {
    let gl = 0;
    let hl = 0;
    for (let bin = 0; bin < binCounts[f] - 1; bin++) {
      gl += hist.grad[f][bin];
      hl += hist.hess[f][bin];
      const hr = H - hl;
      if (hl < minChildHessian) continue;
      if (hr < minChildHessian) break;
      const gr = G - gl;
      const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentGain;
      if (gain > bestGain) {
        bestGain = gain;
        best = { feature: f, bin };
      }
    }
  }
  return best;
}

/** Upper edge (an observed value) of each bin: every value if few distinct, else quantiles. */
function binEdges(column: Float32Array, maxBins: number): Float32Array {
  const sorted = Float32Array.from(column).sort();
  const distinct: number[] = [];
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
  if (distinct.length <= maxBins) return Float32Array.from(distinct);
  const edges: number[] = [];
  for (let b = 1; b <= maxBins; b++) {
    const value = sorted[Math.min(sorted.length - 1, Math.floor((b * sorted.length) / maxBins) - 1)];
    if (edges.length === 0 || value > edges[edges.length - 1]) edges.push(value);
  }
  if (edges[edges.length - 1] !== sorted[sorted.length - 1]) edges.push(sorted[sorted.length - 1]);
  return Float32Array.from(edges.slice(0, maxBins));
}

/** Index of the first edge >= value (values above the last edge land in the last bin). */
function binColumn(column: Float32Array, edges: Float32Array): Uint8Array {
  const out = new Uint8Array(column.length);
  for (let i = 0; i < column.length; i++) {
    const value = column[i];
    let lo = 0;
    let hi = edges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (edges[mid] >= value) hi = mid;
      else lo = mid + 1;
    }
    out[i] = lo;
  }
  return out;
}
