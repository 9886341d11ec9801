/**
 * Histogram gradient-boosted decision trees, small enough to read: features are bucketed into at most 255
 * bins once, each tree is grown depth-first from per-bin gradient sums, and the larger child's histogram is
 * the parent's minus the smaller child's. Three objectives share that grower and differ only in the raw score
 * they start from and the gradients they hand it:
 *
 *   logistic       binary classification (log loss), one tree per round, score = log-odds
 *   squared_error  regression, one tree per round, score = the predicted value
 *   softmax        K-class classification (multinomial log loss), K trees per round (tree t adds to class
 *                  t mod K), score per class = its logit
 *
 * Every threshold is an observed float32 feature value and every leaf weight a float32, so a tree exported
 * to ONNX (x <= threshold goes left, as BRANCH_LEQ) scores exactly as it was trained.
 */

export const GBDT_OBJECTIVES = ["logistic", "squared_error", "softmax"] as const;
export type GbdtObjective = (typeof GBDT_OBJECTIVES)[number];

export interface GbdtOptions {
  /** @default "logistic" */
  readonly objective?: GbdtObjective;
  /** Boosting rounds (softmax grows one tree per class in each). @default 60 */
  readonly trees?: number;
  /** @default 6 */
  readonly maxDepth?: number;
  /** @default 0.15 */
  readonly learningRate?: number;
  /** L2 penalty on leaf weights. @default 1 */
  readonly lambda?: number;
  /** Smallest hessian sum a child may have (logistic: about rows x p(1-p); squared error: rows). @default 20 */
  readonly minChildHessian?: number;
  /** @default 255 */
  readonly maxBins?: number;
}

export type TreeNode =
  | { readonly kind: "split"; readonly feature: number; readonly threshold: number; readonly left: TreeNode; readonly right: TreeNode }
  | { readonly kind: "leaf"; readonly value: number };

export interface GbdtModel {
  readonly objective: GbdtObjective;
  /**
   * Raw score before any tree, one per output (logistic: the training log-odds; squared error: the training
   * mean; softmax: each class's log prior). Exporters fold it into the first round's leaves.
   */
  readonly baseScores: readonly number[];
  /** In boosting order; tree t adds to output t mod baseScores.length. */
  readonly trees: readonly TreeNode[];
}

/**
 * Column-major training data: features[f][row] (float32 values) and one label per row: 0/1 (logistic), the
 * target value (squared error), or the class index 0..K-1 (softmax; K = the largest index + 1).
 */
export interface TrainingSet {
  readonly features: readonly Float32Array[];
  readonly labels: ArrayLike<number>;
}

export function trainGbdt(data: TrainingSet, options: GbdtOptions = {}): GbdtModel {
  const { objective = "logistic", trees = 60, maxDepth = 6, learningRate = 0.15, lambda = 1, minChildHessian = 20, maxBins = 255 } = options;
  const n = data.labels.length;
  if (n === 0) throw new Error("trainGbdt: no training rows");
  const loss = LOSSES[objective];
  const baseScores = loss.baseScores(data.labels);
  const outputs = baseScores.length;
  const binning = data.features.map((column) => binEdges(column, maxBins));
  const binned = data.features.map((column, f) => binColumn(column, binning[f]));
  const binCounts = binning.map((edges) => edges.length);

  const scores = baseScores.map((base) => new Float64Array(n).fill(base));
  const grads = baseScores.map(() => new Float64Array(n));
  const hessians = baseScores.map(() => new Float64Array(n));
  const rows = new Uint32Array(n);
  const grown: TreeNode[] = [];

  for (let t = 0; t < trees; t++) {
    // Every output's gradients come from the scores at the start of the round, before any of its trees.
    loss.gradients(scores, data.labels, grads, hessians);
    for (let k = 0; k < outputs; k++) {
      const score = scores[k];
      const grad = grads[k];
      const hess = hessians[k];
      for (let i = 0; i < n; i++) rows[i] = i;
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
  }
  return { objective, baseScores, trees: grown };
}

/** Raw scores for one row of features (in model feature order): one per output, before any link function. */
export function predictScores(model: GbdtModel, row: ArrayLike<number>): number[] {
  const sums = [...model.baseScores];
  model.trees.forEach((tree, t) => {
    let node = tree;
    while (node.kind === "split") node = row[node.feature] <= node.threshold ? node.left : node.right;
    sums[t % sums.length] += node.value;
  });
  return sums;
}

/** The raw score of a single-output model: log-odds (logistic) or the predicted value (squared error). */
export function predictRaw(model: GbdtModel, row: ArrayLike<number>): number {
  if (model.baseScores.length !== 1) throw new Error(`predictRaw: the model has ${model.baseScores.length} outputs; use predictScores`);
  return predictScores(model, row)[0];
}

/** Softmax of raw class scores (max-subtracted, so large logits cannot overflow). */
export function softmax(scores: readonly number[]): number[] {
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

interface Loss {
  /** Validates the labels and returns the starting score of each output. */
  baseScores(labels: ArrayLike<number>): number[];
  /** Fills grads[k][i] and hessians[k][i] for every output k and row i. */
  gradients(scores: readonly Float64Array[], labels: ArrayLike<number>, grads: Float64Array[], hessians: Float64Array[]): void;
}

const LOSSES: Readonly<Record<GbdtObjective, Loss>> = {
  logistic: {
    baseScores(labels) {
      let positives = 0;
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] !== 0 && labels[i] !== 1) throw new Error(`trainGbdt: logistic labels must be 0 or 1; row ${i} is ${labels[i]}`);
        positives += labels[i];
      }
      const prior = Math.min(Math.max(positives / labels.length, 1e-6), 1 - 1e-6);
      return [Math.fround(Math.log(prior / (1 - prior)))];
    },
    gradients([score], labels, [grad], [hess]) {
      for (let i = 0; i < labels.length; i++) {
        const p = 1 / (1 + Math.exp(-score[i]));
        grad[i] = p - labels[i];
        hess[i] = Math.max(p * (1 - p), 1e-12);
      }
    },
  },
  squared_error: {
    baseScores(labels) {
      let sum = 0;
      for (let i = 0; i < labels.length; i++) {
        if (!Number.isFinite(labels[i])) throw new Error(`trainGbdt: squared_error targets must be finite; row ${i} is ${labels[i]}`);
        sum += labels[i];
      }
      return [Math.fround(sum / labels.length)];
    },
    // Loss (score - y)^2 / 2: gradient score - y, hessian 1 (so minChildHessian counts rows).
    gradients([score], labels, [grad], [hess]) {
      for (let i = 0; i < labels.length; i++) {
        grad[i] = score[i] - labels[i];
        hess[i] = 1;
      }
    },
  },
  softmax: {
    baseScores(labels) {
      const counts: number[] = [];
      for (let i = 0; i < labels.length; i++) {
        const y = labels[i];
        if (!Number.isInteger(y) || y < 0 || y > 255) throw new Error(`trainGbdt: softmax labels must be class indices 0..255; row ${i} is ${y}`);
        while (counts.length <= y) counts.push(0);
        counts[y]++;
      }
      if (counts.length < 2) throw new Error("trainGbdt: softmax needs at least two classes");
      return counts.map((count) => Math.fround(Math.log(Math.max(count / labels.length, 1e-6))));
    },
    // Multinomial log loss: per class, gradient p_k - [y = k], hessian p_k (1 - p_k).
    gradients(scores, labels, grads, hessians) {
      const classes = scores.length;
      const p = new Float64Array(classes);
      for (let i = 0; i < labels.length; i++) {
        let max = -Infinity;
        for (let k = 0; k < classes; k++) max = Math.max(max, scores[k][i]);
        let sum = 0;
        for (let k = 0; k < classes; k++) sum += p[k] = Math.exp(scores[k][i] - max);
        for (let k = 0; k < classes; k++) {
          const pk = p[k] / sum;
          grads[k][i] = pk - (labels[i] === k ? 1 : 0);
          hessians[k][i] = Math.max(pk * (1 - pk), 1e-12);
        }
      }
    },
  },
};

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
