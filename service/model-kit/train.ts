/**
 * Trains the flight-delay GBDT: reads the training months, splits rows (seeded) into a training sample, a
 * validation sample (threshold choice) and the drift reference, target-encodes airports, grows the trees.
 */
import { flightAt, flightFeatures, isDelayed, readFlightTable, type FlightFeatures, type FlightTable } from "./flights";
import { fitTargetEncoding, treeFeatureVector, TREE_FEATURES, type AirportEncodings } from "./flight-delay-model";
import { trainGbdt, type GbdtModel, type GbdtOptions } from "./gbdt";
import { sampleIndices, seededRandom } from "./random";

export interface TrainingConfig {
  /** @default [1, 2, 3, 4] (January-April 2001) */
  readonly trainMonths: readonly number[];
  /** Held-out month the model is evaluated on. @default 6 (June 2001) */
  readonly testMonth: number;
  /** Rows the trees are grown on (sampled from the training months). @default 400000 */
  readonly trainRows: number;
  /** Rows (disjoint from trainRows) the threshold is chosen on. @default 50000 */
  readonly validationRows: number;
  /** Training-month rows kept as the drift reference. @default 5000 */
  readonly referenceRows: number;
  /** Read at most this many flights per split (training months, test month); for quick test builds. @default all */
  readonly limitRows?: number;
  readonly seed: number;
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
  readonly labels: Uint8Array;
}

export interface TrainedFlightDelay {
  readonly model: GbdtModel;
  readonly encodings: AirportEncodings;
  readonly validation: LabelledRecords;
  readonly reference: LabelledRecords;
  readonly test: LabelledRecords;
  readonly trainingFlights: number;
}

export async function trainFlightDelay(config: TrainingConfig = DEFAULT_TRAINING_CONFIG): Promise<TrainedFlightDelay> {
  if (config.trainMonths.includes(config.testMonth)) throw new Error(`testMonth ${config.testMonth} must not be one of trainMonths (${config.trainMonths.join(", ")})`);
  const random = seededRandom(config.seed);
  const flights = await readFlightTable({ months: config.trainMonths, limit: config.limitRows });
  const labels = Uint8Array.from(flights.delay, (delay) => isDelayed({ delay }));

  // Disjoint samples: a seeded shuffle of sampled row numbers, cut into validation | training.
  const wanted = Math.min(flights.length, config.trainRows + config.validationRows);
  const sampled = shuffle(sampleIndices(flights.length, wanted, random), random);
  const validationCount = Math.min(config.validationRows, Math.floor(wanted / 10) || 1);
  const validationRows = sampled.subarray(0, validationCount);
  const trainRows = Uint32Array.from(sampled.subarray(validationCount)).sort();

  // Encodings see every training-month flight except the validation rows, so validation stays honest.
  const inValidation = new Uint8Array(flights.length);
  for (const row of validationRows) inValidation[row] = 1;
  const fitRows = Array.from({ length: flights.length }, (_, i) => i).filter((i) => !inValidation[i]);
  const encodings: AirportEncodings = {
    origin: fitTargetEncoding(fitRows.map((i) => flights.origin[i]), fitRows.map((i) => labels[i])),
    destination: fitTargetEncoding(fitRows.map((i) => flights.destination[i]), fitRows.map((i) => labels[i])),
  };

  const features = TREE_FEATURES.map(() => new Float32Array(trainRows.length));
  trainRows.forEach((row, i) => {
    const vector = treeFeatureVector(flightFeatures(flightAt(flights, row)), encodings);
    for (let f = 0; f < vector.length; f++) features[f][i] = vector[f];
  });
  const model = trainGbdt({ features, labels: Uint8Array.from(trainRows, (row) => labels[row]) }, config.gbdt);

  const testFlights = await readFlightTable({ months: [config.testMonth], limit: config.limitRows });
  return {
    model,
    encodings,
    validation: labelled(flights, Uint32Array.from(validationRows).sort()),
    reference: labelled(flights, sampleIndices(trainRows.length, config.referenceRows, random).map((i) => trainRows[i])),
    test: labelled(testFlights, Uint32Array.from({ length: testFlights.length }, (_, i) => i)),
    trainingFlights: trainRows.length,
  };
}

function labelled(table: FlightTable, rows: Uint32Array): LabelledRecords {
  return {
    records: Array.from(rows, (row) => flightFeatures(flightAt(table, row))),
    labels: Uint8Array.from(rows, (row) => isDelayed({ delay: table.delay[row] })),
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
