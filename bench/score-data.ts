/**
 * The batch-scoring benchmark's inputs: the demo model's request columns for real flights (vega-datasets'
 * flights-3m.parquet through model-kit's flightFeatures, the same records the simulator sends to /predict),
 * written as Parquet the way pandas writes such a frame (INT64 integers, DOUBLE distance, UTF8 airports) in
 * row groups of ROW_GROUP_ROWS. Longer files cycle through the flights again; written one row group at a
 * time, so a 10M-row file costs one row group of memory.
 */
import { open } from "node:fs/promises";
import { mkdir, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { SchemaElement } from "hyparquet";
import { flightAt, flightFeatures, readFlightTable, type FlightTable } from "../service/model-kit/flights";
import { encodeRowGroup, ParquetAssembler } from "../service/src/scoring/parquet-chunks";

export const ROW_GROUP_ROWS = 262_144;

const FEATURE_SCHEMA: SchemaElement[] = [
  { name: "root", num_children: 6 },
  ...["hour", "day_of_week", "day_of_month"].map((name): SchemaElement => ({ name, type: "INT64", repetition_type: "OPTIONAL" })),
  { name: "distance", type: "DOUBLE", repetition_type: "OPTIONAL" },
  ...["origin", "destination"].map((name): SchemaElement => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" })),
];

/** Writes `rows` feature rows to `path` (atomically); `flights` defaults to the whole flights file. */
export async function writeFlightFeatures(path: string, rows: number, flights?: FlightTable, rowGroupRows = ROW_GROUP_ROWS): Promise<void> {
  const table = flights ?? (await readFlightTable());
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, "w");
  try {
    const parquet = new ParquetAssembler(async (bytes) => void (await file.write(bytes)), FEATURE_SCHEMA);
    for (let start = 0; start < rows; start += rowGroupRows) {
      const n = Math.min(rowGroupRows, rows - start);
      const hour = new BigInt64Array(n);
      const dayOfWeek = new BigInt64Array(n);
      const dayOfMonth = new BigInt64Array(n);
      const distance = new Float64Array(n);
      const origin = new Array<string>(n);
      const destination = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const f = flightFeatures(flightAt(table, (start + i) % table.length));
        hour[i] = BigInt(f.hour);
        dayOfWeek[i] = BigInt(f.day_of_week);
        dayOfMonth[i] = BigInt(f.day_of_month);
        distance[i] = f.distance;
        origin[i] = f.origin;
        destination[i] = f.destination;
      }
      const columns = { hour, day_of_week: dayOfWeek, day_of_month: dayOfMonth, distance, origin, destination };
      await parquet.append(encodeRowGroup(FEATURE_SCHEMA, Object.entries(columns).map(([name, data]) => ({ name, data: data as unknown as unknown[] }))));
    }
    await parquet.finish();
    await file.close();
    await rename(temp, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    throw error;
  }
}
