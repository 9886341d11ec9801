import fc from "fast-check";
import { chooseThreshold, confusionAt, logLoss, rocAuc } from "../../service/model-kit/evaluation";
import { predictRaw, predictScores, softmax, trainGbdt } from "../../service/model-kit/gbdt";
import { sampleIndices, seededRandom } from "../../service/model-kit/random";

describe("evaluation", () => {
  it("computes AUC with ties counted as one half", () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBeCloseTo(0.5);
    expect(rocAuc([0.1, 0.9], [1, 0])).toBe(0);
  });

  it("AUC equals the pairwise definition", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1 })), { minLength: 2, maxLength: 40 }), (rows) => {
        const scores = rows.map(([s]) => s);
        const labels = rows.map(([, y]) => y);
        let pairs = 0;
        let wins = 0;
        for (let i = 0; i < rows.length; i++)
          for (let j = 0; j < rows.length; j++)
            if (labels[i] === 1 && labels[j] === 0) {
              pairs++;
              wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
            }
        const auc = rocAuc(scores, labels);
        if (pairs === 0) expect(auc).toBeNaN();
        else expect(auc).toBeCloseTo(wins / pairs, 10);
      }),
    );
  });

  it("computes log loss and the confusion counts at a threshold", () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2));
    expect(confusionAt([0.2, 0.6, 0.7, 0.1], [0, 1, 0, 1], 0.5)).toEqual({ accuracy: 0.5, precision: 0.5, recall: 0.5, f1: 0.5 });
  });

  it("chooses the threshold that maximises F1", () => {
    expect(chooseThreshold([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])).toBeCloseTo(0.21);
  });
});

describe("gbdt", () => {
  it("learns an interaction it can only get from trees, deterministically", () => {
    const random = seededRandom(7);
    const n = 4000;
    const x = [new Float32Array(n), new Float32Array(n)];
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x[0][i] = Math.fround(random());
      x[1][i] = Math.fround(random());
      labels[i] = (x[0][i] > 0.5) !== (x[1][i] > 0.5) ? 1 : 0; // XOR
    }
    const model = trainGbdt({ features: x, labels }, { trees: 20, maxDepth: 3, learningRate: 0.3 });
    const scores = Array.from({ length: n }, (_, i) => predictRaw(model, [x[0][i], x[1][i]]));
    expect(rocAuc(scores, labels)).toBeGreaterThan(0.99);
    expect(trainGbdt({ features: x, labels }, { trees: 20, maxDepth: 3, learningRate: 0.3 })).toEqual(model);
  });

  it("fits a regression target with squared error, starting from the mean", () => {
    const random = seededRandom(11);
    const n = 4000;
    const x = [new Float32Array(n), new Float32Array(n)];
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[0][i] = Math.fround(random() * 10);
      x[1][i] = Math.fround(random());
      // A step in x0, a slope in x1 and uniform noise in [-1, 1]: the best possible MAE is 0.5.
      y[i] = (x[0][i] > 5 ? 30 : 0) + 10 * x[1][i] + (random() * 2 - 1);
    }
    const model = trainGbdt({ features: x, labels: y }, { objective: "squared_error", trees: 40, maxDepth: 4, learningRate: 0.3 });
    expect(model.baseScores).toEqual([Math.fround(y.reduce((a, b) => a + b, 0) / n)]);
    let absoluteError = 0;
    for (let i = 0; i < n; i++) absoluteError += Math.abs(predictRaw(model, [x[0][i], x[1][i]]) - y[i]);
    expect(absoluteError / n).toBeLessThan(0.8);
    expect(trainGbdt({ features: x, labels: y }, { objective: "squared_error", trees: 40, maxDepth: 4, learningRate: 0.3 })).toEqual(model);
  });

  it("separates three classes with softmax, one tree per class per round", () => {
    const random = seededRandom(13);
    const n = 3000;
    const x = [new Float32Array(n)];
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x[0][i] = Math.fround(random() * 3);
      labels[i] = Math.min(2, Math.floor(x[0][i]));
    }
    const model = trainGbdt({ features: x, labels }, { objective: "softmax", trees: 15, maxDepth: 2, learningRate: 0.5 });
    expect(model.trees).toHaveLength(45);
    expect(model.baseScores).toHaveLength(3);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const p = softmax(predictScores(model, [x[0][i]]));
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      if (p.indexOf(Math.max(...p)) === labels[i]) correct++;
    }
    expect(correct / n).toBeGreaterThan(0.99);
    expect(() => predictRaw(model, [1])).toThrow(/3 outputs/);
  });

  it("names the row whose label the objective cannot take", () => {
    const features = [Float32Array.of(1, 2, 3)];
    expect(() => trainGbdt({ features, labels: [0, 2, 1] })).toThrow(/logistic labels must be 0 or 1; row 1 is 2/);
    expect(() => trainGbdt({ features, labels: [0, 1.5, 1] }, { objective: "softmax" })).toThrow(/row 1 is 1.5/);
    expect(() => trainGbdt({ features, labels: [0, Number.NaN, 1] }, { objective: "squared_error" })).toThrow(/row 1 is NaN/);
    expect(() => trainGbdt({ features, labels: [0, 0, 0] }, { objective: "softmax" })).toThrow(/at least two classes/);
  });

  it("samples distinct sorted indices reproducibly", () => {
    const a = sampleIndices(1000, 100, seededRandom(1));
    expect(a).toHaveLength(100);
    expect(new Set(a).size).toBe(100);
    expect(Array.from(a)).toEqual([...a].sort((p, q) => p - q));
    expect(sampleIndices(1000, 100, seededRandom(1))).toEqual(a);
    expect(sampleIndices(10, 100, seededRandom(1))).toHaveLength(10);
  });
});
