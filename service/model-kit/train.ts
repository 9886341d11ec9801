/**
 * Splits the flights data for training (seeded, disjoint samples of the training months: training rows,
 * validation rows for the threshold, a drift reference; the held-out month for evaluation) and trains the
 * flight-delay GBDTs on airport target encodings: the binary demo model on "delayed", the regressor on the
 * delay in minutes, the multiclass model on delay classes, all from the same splits and features.
 */
import { flightAt, flightFeatures, isDelayed, readFlightTable, type FlightFeatures, type FlightTable } from "./flights";
import { fitTargetEncoding, treeFeatureVector, TREE_FEATURES, type AirportEncodings } from "./flight-delay-model";
import { trainGbdt, type GbdtModel, type GbdtObjective, type GbdtOptions } from "./gbdt";
import { sampleIndices, seededRandom } from "./random";

export interface SplitConfig {
  /** @default [1, 2, 3, 4] (January-April 2001) */
  readonly trainMonths: readonly number[];
  /** Held-out month the model is evaluated on. @default 6 (June 2001) */
  readonly testMonth: number;
  /** Rows the model is fitted on (sampled from the training months). @default 400000 */
  readonly trainRows: number;
  /** Rows (disjoint from the training rows) the threshold is chosen on. @default 50000 */
  readonly validationRows: number;
  /** Training rows kept as the drift reference. @default 5000 */
  readonly referenceRows: number;
  /** Sample of the test month to evaluate on. @default every flight of the month */
  readonly testRows?: number;
  /** Read at most this many flights per split (training months, test month); for quick test builds. @default all */
  readonly limitRows?: number;
  readonly seed: number;
}

export interface TrainingConfig extends SplitConfig {
  readonly gbdt: GbdtOptions;
}

export const DEFAULT_TRAINING_CONFIG: TrainingConfig = {
  trainMonths: [1, 2, 3, 4],
  testMonth: 6,
  trainRows: 400_000,
  validationRows: 50_000,
  referenceRows: 5_000,
  seed: 2001,
  gbdt: { trees: 60, maxDepth: 6, learningRate: 0.15, lambda: 1, minChildHessian: 20 },
};

export interface LabelledRecords {
  readonly records: FlightFeatures[];
  /** 1 when the flight arrived more than DELAY_THRESHOLD_MINUTES late (the binary model's target). */
  readonly labels: Uint8Array;
  /** Arrival delay in minutes (the regression target; the delay classes derive from it). */
  readonly delays: Float64Array;
}

export interface FlightSplits {
  readonly train: LabelledRecords;
  readonly validation: LabelledRecords;
  /** A sample of the training rows. */
  readonly reference: LabelledRecords;
  readonly test: LabelledRecords;
  /** Airport delay rates from every training-month flight except the validation rows. */
  readonly encodings: AirportEncodings;
}

export async function splitFlights(config: SplitConfig): Promise<FlightSplits> {
  if (config.trainMonths.includes(config.testMonth)) throw new Error(`testMonth ${config.testMonth} must not be one of trainMonths (${config.trainMonths.join(", ")})`);
  const random = seededRandom(config.seed);
  const flights = await readFlightTable({ months: config.trainMonths, limit: config.limitRows });
  const labels = Uint8Array.from(flights.delay, (delay) => isDelayed({ delay }));

  // Disjoint samples: a seeded shuffle of sampled row numbers, cut into validation | training (scaled down
  // together when the data is smaller than asked for).
  const wanted = Math.min(flights.length, config.trainRows + config.validationRows);
  const sampled = shuffle(sampleIndices(flights.length, wanted, random), random);
  const validationCount = Math.round((wanted * config.validationRows) / (config.trainRows + config.validationRows));
  const validationRows = Uint32Array.from(sampled.subarray(0, validationCount)).sort();
  const trainRows = Uint32Array.from(sampled.subarray(validationCount)).sort();

  const inValidation = new Uint8Array(flights.length);
  for (const row of validationRows) inValidation[row] = 1;
  const fitRows = Array.from({ length: flights.length }, (_, i) => i).filter((i) => !inValidation[i]);
  const encodings: AirportEncodings = {
    origin: fitTargetEncoding(fitRows.map((i) => flights.origin[i]), fitRows.map((i) => labels[i])),
    destination: fitTargetEncoding(fitRows.map((i) => flights.destination[i]), fitRows.map((i) => labels[i])),
  };

  const testFlights = await readFlightTable({ months: [config.testMonth], limit: config.limitRows });
  return {
    train: labelled(flights, trainRows),
    validation: labelled(flights, validationRows),
    reference: labelled(flights, sampleIndices(trainRows.length, config.referenceRows, random).map((i) => trainRows[i])),
    test: labelled(testFlights, sampleIndices(testFlights.length, config.testRows ?? testFlights.length, random)),
    encodings,
  };
}

export interface TrainedFlightDelay extends FlightSplits {
  readonly model: GbdtModel;
}

/** The binary demo model: P(delay > 15 min). */
export function trainFlightDelay(config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<TrainedFlightDelay> {
  return trainFlightModel(config, "logistic", (split) => split.labels);
}

/** A GBDT with `objective` on the training rows' tree features; `target` picks each row's label from the split. */
export async function trainFlightModel(config: TrainingConfig, objective: GbdtObjective, target: (split: LabelledRecords) => ArrayLike<number>): Promise<TrainedFlightDelay> {
  const splits = await splitFlights(config);
  const features = treeFeatureColumns(splits.train.records, splits.encodings);
  return { ...splits, model: trainGbdt({ features, labels: target(splits.train) }, { ...config.gbdt, objective }) };
}

/** Column-major float32 tree features (TREE_FEATURES order) of the records. */
export function treeFeatureColumns(records: readonly FlightFeatures[], encodings: AirportEncodings): Float32Array[] {
  const features = TREE_FEATURES.map(() => new Float32Array(records.length));
  records.forEach((record, i) => {
    const vector = treeFeatureVector(record, encodings);
    for (let f = 0; f < vector.length; f++) features[f][i] = vector[f];
  });
  return features;
}

function labelled(table: FlightTable, rows: Uint32Array): LabelledRecords {
  return {
    records: Array.from(rows, (row) => flightFeatures(flightAt(table, row))),
    labels: Uint8Array.from(rows, (row) => isDelayed({ delay: table.delay[row] })),
    delays: Float64Array.from(rows, (row) => table.delay[row]),
  };
}

/** Fisher-Yates with the seeded generator. */
function shuffle(values: Uint32Array, random: () => number): Uint32Array {
  const out = Uint32Array.from(values);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
