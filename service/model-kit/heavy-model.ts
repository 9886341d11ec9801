/**
 * The heavy variant for the batching benchmark: same inputs and outputs as the demo model, but a wide MLP
 * (default 3 x 1024 ReLU) over normalised numbers, airport delay rates (as in the demo model) and one-hot
 * hour and airports. At batch 1 every MatMul is a
 * matrix-vector product that streams ~10 MB of weights per row; over a batch it is a matrix-matrix product
 * that reuses each weight for every row, so the per-row cost falls steeply with batch size.
 *
 * Training a network this wide in JavaScript would take minutes, so the hidden layers are fixed, seeded
 * random projections (He initialisation) and only the output layer is fitted: onnxruntime computes the
 * hidden activations (the same graph, cut before the output layer) and a logistic regression on them (plus
 * a skip connection from the input features) is trained here. It is a random-features model: an honest
 * classifier, weaker than the demo GBDT, whose purpose is a realistic compute profile.
 */
import type { InferenceSession } from "onnxruntime-node";
import { airportRateNode, FLIGHT_DELAY_INPUTS, LABEL_OUTPUT, PROBABILITIES_OUTPUT, treeFeatureVector, type AirportEncodings } from "./flight-delay-model";
import type { FlightFeatures } from "./flights";
import { GraphBuilder, ML_DOMAIN, TensorType } from "./onnx";
import { columnFeeds, createSession } from "./onnx-scoring";
import { packageFlightDelayModel, type Metrics } from "./package-model";
import { normal, seededRandom } from "./random";
import { DEFAULT_TRAINING_CONFIG, splitFlights, type SplitConfig } from "./train";

export interface HeavyModelConfig extends SplitConfig {
  /** @default 1024 */
  readonly hiddenWidth: number;
  /** @default 3 */
  readonly hiddenLayers: number;
  /** Passes of mini-batch SGD over the training rows for the output layer. @default 8 */
  readonly epochs: number;
}

export const DEFAULT_HEAVY_CONFIG: HeavyModelConfig = {
  ...DEFAULT_TRAINING_CONFIG,
  // Every row costs a full forward pass: tens of thousands are plenty for a 1025-weight output layer.
  trainRows: 20_000,
  validationRows: 10_000,
  referenceRows: 2_000,
  testRows: 20_000,
  hiddenWidth: 1024,
  hiddenLayers: 3,
  epochs: 8,
};

const NUMERIC = ["hour", "day_of_week", "day_of_month", "distance"] as const;
/** Numeric inputs of the network: the four columns plus the two airport delay rates. */
const NUMERIC_WIDTH = NUMERIC.length + 2;
const HIDDEN_OUTPUT = "hidden";

interface MlpParameters {
  readonly airports: readonly string[];
  readonly encodings: AirportEncodings;
  readonly numericMean: readonly number[];
  readonly numericScale: readonly number[];
  /** [fanIn x fanOut] row-major, with biases. */
  readonly layers: readonly { readonly weights: Float32Array; readonly bias: Float32Array; readonly fanIn: number; readonly fanOut: number }[];
  readonly output?: { readonly weights: Float32Array; readonly bias: number };
}

/** The graph; without `params.output` it ends at the last hidden layer (output "hidden", for training). */
export function mlpGraph(params: MlpParameters): Uint8Array {
  const graph = new GraphBuilder("flight_delay_mlp");
  for (const column of FLIGHT_DELAY_INPUTS) graph.columnInput(column);
  const numeric = NUMERIC.map((name) => graph.node("Cast", [name], [`${name}_float`], { to: TensorType.FLOAT })[0]);
  for (const name of ["origin", "destination"] as const) numeric.push(...airportRateNode(graph, name, params.encodings[name]));
  graph.node("Concat", numeric, ["numeric"], { axis: 1 });
  graph.node("Sub", ["numeric", graph.constant("numeric_mean", [1, NUMERIC_WIDTH], params.numericMean)], ["numeric_centered"]);
  graph.node("Mul", ["numeric_centered", graph.constant("numeric_scale", [1, NUMERIC_WIDTH], params.numericScale)], ["numeric_normalised"]);
  const oneHotShape = graph.constant("one_hot_shape", [2], [-1, params.airports.length], "int64");
  const oneHots = (["origin", "destination"] as const).map((name) => {
    // zeros=1: an airport not in the vocabulary encodes as all zeros instead of failing.
    graph.node("OneHotEncoder", [name], [`${name}_one_hot_3d`], { cats_strings: params.airports, zeros: 1 }, ML_DOMAIN);
    return graph.node("Reshape", [`${name}_one_hot_3d`, oneHotShape], [`${name}_one_hot`])[0];
  });
  graph.node("OneHot", ["hour", graph.constant("hours", [1], [24], "int64"), graph.constant("off_on", [2], [0, 1])], ["hour_one_hot_3d"]);
  graph.node("Reshape", ["hour_one_hot_3d", graph.constant("hour_one_hot_shape", [2], [-1, 24], "int64")], ["hour_one_hot"]);
  let activation = graph.node("Concat", ["numeric_normalised", "hour_one_hot", ...oneHots], ["mlp_input"], { axis: 1 })[0];
  params.layers.forEach((layer, i) => {
    const weights = graph.constant(`w${i}`, [layer.fanIn, layer.fanOut], layer.weights);
    const bias = graph.constant(`b${i}`, [layer.fanOut], layer.bias);
    graph.node("Gemm", [activation, weights, bias], [`dense${i}`]);
    activation = graph.node("Relu", [`dense${i}`], [`relu${i}`])[0];
  });
  // The output layer reads the last hidden layer and, as a skip connection, the input features themselves:
  // random features alone blur the strong main effects (hour, airport rates), the linear path keeps them.
  graph.node("Concat", [activation, "mlp_input"], [HIDDEN_OUTPUT], { axis: 1 });
  if (!params.output) {
    graph.output(HIDDEN_OUTPUT, TensorType.FLOAT, [-1, params.layers[params.layers.length - 1].fanOut + params.layers[0].fanIn]);
    return graph.encode("Flight delay MLP hidden layers (training helper)");
  }
  const width = params.output.weights.length;
  graph.node("Gemm", [HIDDEN_OUTPUT, graph.constant("w_out", [width, 1], params.output.weights), graph.constant("b_out", [1], [params.output.bias])], ["logit"]);
  graph.node("Sigmoid", ["logit"], ["p_delayed"]);
  graph.node("Sub", [graph.constant("one", [1], [1]), "p_delayed"], ["p_on_time"]);
  graph.node("Concat", ["p_on_time", "p_delayed"], [PROBABILITIES_OUTPUT], { axis: 1 });
  graph.node("Greater", ["p_delayed", graph.constant("half", [1], [0.5])], ["delayed"]);
  graph.node("Cast", ["delayed"], ["label_2d"], { to: TensorType.INT64 });
  graph.node("Reshape", ["label_2d", graph.constant("label_shape", [1], [-1], "int64")], [LABEL_OUTPUT]);
  graph.output(LABEL_OUTPUT, TensorType.INT64, [-1]);
  graph.output(PROBABILITIES_OUTPUT, TensorType.FLOAT, [-1, 2]);
  return graph.encode(`Flight delay (> 15 min) classifier: MLP ${params.layers.map((l) => l.fanOut).join("-")} ReLU (random features) + logistic output`);
}

export interface HeavyBuild {
  readonly metrics: Metrics;
  readonly onnx: Uint8Array;
}

export async function buildHeavyModel(outDir: string, config: HeavyModelConfig = DEFAULT_HEAVY_CONFIG): Promise<HeavyBuild> {
  const splits = await splitFlights(config);
  const random = seededRandom(config.seed);
  const airports = [...new Set([...splits.encodings.origin.rates.keys(), ...splits.encodings.destination.rates.keys()])].sort();
  const numericRows = splits.train.records.map((record) => {
    const vector = treeFeatureVector(record, splits.encodings);
    return Array.from(vector.subarray(0, NUMERIC_WIDTH));
  });
  const numericMean = columnMeans(numericRows);
  const numericScale = columnMeans(numericRows.map((row) => row.map((v, j) => (v - numericMean[j]) ** 2))).map((variance) => Math.fround(1 / Math.max(Math.sqrt(variance), 1e-6)));
  const layers = [];
  let fanIn = NUMERIC_WIDTH + 24 + 2 * airports.length;
  for (let i = 0; i < config.hiddenLayers; i++) {
    const fanOut = config.hiddenWidth;
    const scale = Math.sqrt(2 / fanIn);
    const weights = Float32Array.from({ length: fanIn * fanOut }, () => normal(random) * scale);
    layers.push({ weights, bias: new Float32Array(fanOut).fill(0.01), fanIn, fanOut });
    fanIn = fanOut;
  }
  const hiddenParams = { airports, encodings: splits.encodings, numericMean, numericScale, layers };

  const features = await createSession(mlpGraph(hiddenParams));
  let hidden: Float32Array;
  try {
    hidden = await hiddenActivations(features, splits.train.records);
  } finally {
    await features.release();
  }
  const output = fitLogisticOutput(hidden, splits.train.labels, config.hiddenWidth + layers[0].fanIn, config.epochs, random);
  const onnx = mlpGraph({ ...hiddenParams, output });
  const metrics = await packageFlightDelayModel(outDir, onnx, splits, { hidden_layers: config.hiddenLayers, hidden_width: config.hiddenWidth });
  return { metrics, onnx };
}

async function hiddenActivations(session: InferenceSession, records: readonly FlightFeatures[], chunk = 1024): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let start = 0; start < records.length; start += chunk) {
    const result = await session.run(columnFeeds(FLIGHT_DELAY_INPUTS, records.slice(start, start + chunk)), [HIDDEN_OUTPUT]);
    parts.push(Float32Array.from(result[HIDDEN_OUTPUT].data as Float32Array));
  }
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * L2-regularised logistic regression on standardised activations, mini-batch SGD (seeded order); the
 * standardisation is folded back into the returned weights so the graph needs no extra nodes.
 */
function fitLogisticOutput(x: Float32Array, labels: Uint8Array, width: number, epochs: number, random: () => number): { weights: Float32Array; bias: number } {
  const n = labels.length;
  const mean = new Float64Array(width);
  const scale = new Float64Array(width);
  for (let i = 0; i < n; i++) for (let j = 0; j < width; j++) mean[j] += x[i * width + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < width; j++) scale[j] += (x[i * width + j] - mean[j]) ** 2 / n;
  // Variance floored at a tenth of the average so a unit that fires for a handful of rows is not scaled
  // into huge, noisy inputs; a unit that never fires gets weight 0.
  const floor = (scale.reduce((sum, v) => sum + v, 0) / width) * 0.1;
  for (let j = 0; j < width; j++) scale[j] = scale[j] > 1e-12 ? 1 / Math.sqrt(Math.max(scale[j], floor)) : 0;

  const w = new Float64Array(width);
  let b = Math.log(Math.max(mean1(labels), 1e-6) / Math.max(1 - mean1(labels), 1e-6));
  const velocity = new Float64Array(width + 1);
  // Plain momentum SGD, small steps: Adam's per-coordinate steps move a thousand noisy random-feature
  // weights as far as the informative ones and generalised far worse here (validation AUC 0.55 vs 0.64).
  const learningRate = 0.001;
  const l2 = 1e-3;
  const batchSize = 256;
  const order = Array.from({ length: n }, (_, i) => i);
  const grad = new Float64Array(width + 1);
  const z = new Float64Array(width);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < n; start += batchSize) {
      grad.fill(0);
      const end = Math.min(n, start + batchSize);
      for (let k = start; k < end; k++) {
        const row = order[k];
        let logit = b;
        for (let j = 0; j < width; j++) {
          z[j] = (x[row * width + j] - mean[j]) * scale[j];
          logit += w[j] * z[j];
        }
        const error = 1 / (1 + Math.exp(-logit)) - labels[row];
        for (let j = 0; j < width; j++) grad[j] += error * z[j];
        grad[width] += error;
      }
      for (let j = 0; j <= width; j++) {
        const g = grad[j] / (end - start) + (j < width ? l2 * w[j] : 0);
        velocity[j] = 0.9 * velocity[j] - learningRate * g;
        const step = -velocity[j];
        if (j < width) w[j] -= step;
        else b -= step;
      }
    }
  }
  const weights = new Float32Array(width);
  let bias = b;
  for (let j = 0; j < width; j++) {
    weights[j] = w[j] * scale[j];
    bias -= w[j] * scale[j] * mean[j];
  }
  return { weights, bias: Math.fround(bias) };
}

function columnMeans(rows: readonly number[][]): number[] {
  const sums = rows[0].map(() => 0);
  for (const row of rows) row.forEach((v, j) => (sums[j] += v));
  return sums.map((sum) => Math.fround(sum / rows.length));
}

const mean1 = (labels: Uint8Array) => labels.reduce((sum, y) => sum + y, 0) / Math.max(labels.length, 1);
