/**
 * The flight-delay demo model's features and its ONNX graph. Clients send raw values (airport codes as
 * strings); everything else happens inside the graph, so any ONNX runtime scores it the same way:
 *
 *   hour, day_of_week, day_of_month (int64), distance (double) --Concat, Cast--> float
 *   origin, destination (string) --LabelEncoder--> training delay rate of that airport (prior if unknown)
 *   Concat -> [N, 6] --TreeEnsembleClassifier--> label [N] (argmax), probabilities [N, 2]
 *
 * Airports are target-encoded (smoothed delay rate in the training months) rather than one-hot: trees split
 * on the rate directly, the graph stays a handful of nodes, and an airport never seen in training scores
 * with the overall rate instead of failing.
 */
import type { ColumnSpec, FeatureSpec, TensorSpec } from "../src/model/mlmodel";
import type { FlightFeatures } from "./flights";
import type { GbdtModel } from "./gbdt";
import { GraphBuilder, ML_DOMAIN, TensorType, treeEnsembleClassifierAttributes } from "./onnx";

/** The signature: one column per FlightFeatures field, in this order. */
export const FLIGHT_DELAY_INPUTS: readonly ColumnSpec[] = [
  { name: "hour", type: "long", required: true },
  { name: "day_of_week", type: "long", required: true },
  { name: "day_of_month", type: "long", required: true },
  { name: "distance", type: "double", required: true },
  { name: "origin", type: "string", required: true },
  { name: "destination", type: "string", required: true },
];

export const LABEL_OUTPUT = "label";
export const PROBABILITIES_OUTPUT = "probabilities";
export const FLIGHT_DELAY_OUTPUTS: readonly TensorSpec[] = [
  { name: LABEL_OUTPUT, dtype: "int64", shape: [-1] },
  { name: PROBABILITIES_OUTPUT, dtype: "float32", shape: [-1, 2] },
];

const NUMERIC_COLUMNS = ["hour", "day_of_week", "day_of_month", "distance"] as const;
const AIRPORT_COLUMNS = ["origin", "destination"] as const;
/** Order of the tree model's feature vector. */
export const TREE_FEATURES = [...NUMERIC_COLUMNS, "origin_delay_rate", "destination_delay_rate"] as const;

/** Smoothed delay rate per airport code; `unknown` (the overall rate) for codes not in the table. */
export interface TargetEncoding {
  readonly rates: ReadonlyMap<string, number>;
  readonly unknown: number;
}

export interface AirportEncodings {
  readonly origin: TargetEncoding;
  readonly destination: TargetEncoding;
}

/**
 * (delayed + m * prior) / (flights + m): an airport with few flights is pulled towards the overall rate.
 * Rates are float32, as the LabelEncoder stores them.
 */
export function fitTargetEncoding(keys: readonly string[], labels: ArrayLike<number>, smoothing = 200): TargetEncoding {
  const counts = new Map<string, [number, number]>();
  let positives = 0;
  for (let i = 0; i < keys.length; i++) {
    const entry = counts.get(keys[i]) ?? [0, 0];
    entry[0] += 1;
    entry[1] += labels[i];
    positives += labels[i];
    counts.set(keys[i], entry);
  }
  const prior = positives / Math.max(keys.length, 1);
  const rates = new Map<string, number>();
  for (const key of [...counts.keys()].sort()) {
    const [flights, delayed] = counts.get(key)!;
    rates.set(key, Math.fround((delayed + smoothing * prior) / (flights + smoothing)));
  }
  return { rates, unknown: Math.fround(prior) };
}

/** The tree model's float32 feature vector for one record, exactly as the graph computes it. */
export function treeFeatureVector(record: FlightFeatures, encodings: AirportEncodings): Float32Array {
  return Float32Array.of(
    record.hour,
    record.day_of_week,
    record.day_of_month,
    record.distance,
    encodings.origin.rates.get(record.origin) ?? encodings.origin.unknown,
    encodings.destination.rates.get(record.destination) ?? encodings.destination.unknown,
  );
}

/** The ONNX graph: raw signature inputs -> label, probabilities. */
export function flightDelayTreeGraph(model: GbdtModel, encodings: AirportEncodings): Uint8Array {
  const graph = new GraphBuilder("flight_delay_gbdt");
  const features = flightFeatureNodes(graph, encodings);
  graph.node("TreeEnsembleClassifier", [features], [LABEL_OUTPUT, PROBABILITIES_OUTPUT], treeEnsembleClassifierAttributes(model, [0, 1]), ML_DOMAIN);
  graph.output(LABEL_OUTPUT, TensorType.INT64, [-1]);
  graph.output(PROBABILITIES_OUTPUT, TensorType.FLOAT, [-1, 2]);
  return graph.encode(`Flight delay (> 15 min) classifier: ${model.trees.length} gradient-boosted trees on ${TREE_FEATURES.join(", ")}`);
}

/**
 * The feature pipeline every flight-delay tree model shares: the signature inputs, then the [N, 6] float
 * vector of TREE_FEATURES (as treeFeatureVector computes it). Returns the name of that vector.
 */
export function flightFeatureNodes(graph: GraphBuilder, encodings: AirportEncodings): string {
  const features: string[] = [];
  for (const column of FLIGHT_DELAY_INPUTS) graph.columnInput(column);
  // One Cast for the three int64 columns (each node costs about a microsecond per call at batch 1).
  graph.node("Concat", ["hour", "day_of_week", "day_of_month"], ["calendar"], { axis: 1 });
  features.push(...graph.node("Cast", ["calendar"], ["calendar_float"], { to: TensorType.FLOAT }));
  features.push(...graph.node("Cast", ["distance"], ["distance_float"], { to: TensorType.FLOAT }));
  for (const name of AIRPORT_COLUMNS) features.push(...airportRateNode(graph, name, encodings[name]));
  return graph.node("Concat", features, ["features"], { axis: 1 })[0];
}

/** LabelEncoder: airport code -> its training delay rate, the overall rate for a code it does not know. */
export function airportRateNode(graph: GraphBuilder, column: (typeof AIRPORT_COLUMNS)[number], encoding: TargetEncoding): readonly string[] {
  return graph.node(
    "LabelEncoder",
    [column],
    [`${column}_delay_rate`],
    { keys_strings: [...encoding.rates.keys()], values_floats: { floats: [...encoding.rates.values()] }, default_float: { float: encoding.unknown } },
    ML_DOMAIN,
  );
}

/** Tightens the signature for request validation: realistic ranges, airport codes by shape (not a closed list). */
export const FLIGHT_DELAY_FEATURE_SPEC: FeatureSpec = {
  hour: { minimum: 0, maximum: 23, description: "Scheduled departure hour, local time (0-23)" },
  day_of_week: { minimum: 0, maximum: 6, description: "Day of week of the scheduled departure, 0 = Sunday" },
  day_of_month: { minimum: 1, maximum: 31, description: "Day of month of the scheduled departure" },
  distance: { minimum: 1, maximum: 10000, description: "Great-circle distance in miles (training data: 21-4962)" },
  origin: { pattern: "^[A-Z]{3}$", description: "IATA code of the departure airport; codes unseen in training score with the overall delay rate" },
  destination: { pattern: "^[A-Z]{3}$", description: "IATA code of the arrival airport; codes unseen in training score with the overall delay rate" },
};
