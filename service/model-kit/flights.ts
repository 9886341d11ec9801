/**
 * The real flights data the demo model learns from: `flights-3m.parquet` from the vega-datasets package,
 * 3,000,000 US domestic flights from January to June 2001 (scheduled departure, arrival delay in minutes,
 * distance in miles, origin and destination airport codes), sorted by departure time.
 *
 * Shared by the model build (training months vs a held-out month) and the drift traffic simulator, which
 * replays a later month against the served model: both derive request records with `flightFeatures`, so the
 * simulator sends exactly what the model was trained on.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parquetMetadata, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";

/** One flight. Times are the local wall-clock times of the data set (stored as UTC fields, no zone). */
export interface Flight {
  /** Scheduled departure, milliseconds since 1970-01-01T00:00 in the airport's local wall-clock time. */
  readonly departure: number;
  /** Arrival delay in minutes; negative when early. */
  readonly delay: number;
  readonly distance: number;
  readonly origin: string;
  readonly destination: string;
}

/** The model's request record: one entry per signature input, named as the column (a type alias, so it is a Record). */
export type FlightFeatures = {
  readonly hour: number;
  /** 0 = Sunday ... 6 = Saturday. */
  readonly day_of_week: number;
  readonly day_of_month: number;
  readonly distance: number;
  readonly origin: string;
  readonly destination: string;
};

/** Column-oriented flights: what training wants (3M rows as objects would cost ~10x the memory). */
export interface FlightTable {
  readonly length: number;
  readonly departure: Float64Array;
  readonly delay: Float64Array;
  readonly distance: Float64Array;
  readonly origin: readonly string[];
  readonly destination: readonly string[];
}

export interface ReadFlightsOptions {
  /** Calendar months to keep, 1 = January ... 6 = June. @default every flight in the file */
  readonly months?: readonly number[];
  /** Stop after this many matching flights (in departure order). @default no limit */
  readonly limit?: number;
  /** Parquet file to read. @default flights-3m.parquet from vega-datasets */
  readonly path?: string;
}

/** The positive class: a flight arriving more than this many minutes late counts as delayed. */
export const DELAY_THRESHOLD_MINUTES = 15;

/** Path of flights-3m.parquet. The package's exports map hides data/, so go there from its main entry. */
export function flightsParquetPath(): string {
  return join(dirname(require.resolve("vega-datasets")), "..", "data", "flights-3m.parquet");
}

/** Reads flights column-wise, skipping row groups whose departure range misses the requested months. */
export async function readFlightTable(options: ReadFlightsOptions = {}): Promise<FlightTable> {
  const months = options.months ? new Set(options.months) : undefined;
  for (const month of months ?? []) {
    if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError(`months: ${month} is not a calendar month (1-12)`);
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0)) throw new RangeError(`limit: ${limit} must be >= 0`);
  const buffer = await readFile(options.path ?? flightsParquetPath());
  const file = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);

  const parts: FlightTable[] = [];
  let kept = 0;
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    if (kept < limit && (!months || rowGroupMayHaveMonth(group, months))) {
      const columns: Record<string, unknown[]> = {};
      await parquetRead({
        file,
        metadata,
        rowStart,
        rowEnd,
        compressors,
        parsers: { timestampFromMicroseconds: (micros: bigint) => Number(micros / 1000n) },
        onChunk: (chunk) => {
          // A chunk may cover more rows than asked for: keep exactly this row group's rows.
          const data = chunk.columnData as unknown[];
          const offset = rowStart - chunk.rowStart;
          columns[chunk.columnName] = offset === 0 && data.length === rowEnd - rowStart ? data : Array.from(data).slice(offset, offset + rowEnd - rowStart);
        },
      });
      const part = selectRows(columns, rowEnd - rowStart, months, limit - kept);
      kept += part.length;
      parts.push(part);
    }
    rowStart = rowEnd;
  }
  return concatTables(parts);
}

function selectRows(columns: Record<string, unknown[]>, rows: number, months: ReadonlySet<number> | undefined, limit: number): FlightTable {
  const { date, delay: delays, distance: distances, origin: origins, destination: destinations } = columns;
  const capacity = Math.min(rows, limit);
  const departure = new Float64Array(capacity);
  const delay = new Float64Array(capacity);
  const distance = new Float64Array(capacity);
  const origin: string[] = [];
  const destination: string[] = [];
  let n = 0;
  for (let i = 0; i < rows && n < capacity; i++) {
    const time = date[i] as number | null;
    // Nullable columns in the schema; the file has no nulls, but a row missing anything is not a training row.
    if (time == null || delays[i] == null || distances[i] == null || origins[i] == null || destinations[i] == null) continue;
    if (months && !months.has(new Date(time).getUTCMonth() + 1)) continue;
    departure[n] = time;
    delay[n] = Number(delays[i]);
    distance[n] = Number(distances[i]);
    origin.push(origins[i] as string);
    destination.push(destinations[i] as string);
    n++;
  }
  return { length: n, departure: departure.subarray(0, n), delay: delay.subarray(0, n), distance: distance.subarray(0, n), origin, destination };
}

function concatTables(parts: readonly FlightTable[]): FlightTable {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const concat = (pick: (part: FlightTable) => Float64Array) => {
    const out = new Float64Array(length);
    let at = 0;
    for (const part of parts) {
      out.set(pick(part), at);
      at += part.length;
    }
    return out;
  };
  return {
    length,
    departure: concat((p) => p.departure),
    delay: concat((p) => p.delay),
    distance: concat((p) => p.distance),
    origin: concatStrings(parts.map((p) => p.origin)),
    destination: concatStrings(parts.map((p) => p.destination)),
  };
}

// Array.prototype.flatMap over millions of strings is ~20x slower than pushing in a loop.
function concatStrings(parts: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i]);
  return out;
}

/** Reads flights as objects (for replaying traffic); use readFlightTable for millions of rows. */
export async function readFlights(options: ReadFlightsOptions = {}): Promise<Flight[]> {
  const table = await readFlightTable(options);
  return Array.from({ length: table.length }, (_, i) => flightAt(table, i));
}

export function flightAt(table: FlightTable, index: number): Flight {
  return {
    departure: table.departure[index],
    delay: table.delay[index],
    distance: table.distance[index],
    origin: table.origin[index],
    destination: table.destination[index],
  };
}

/** The request record the model scores for a flight (what a client knows before departure). */
export function flightFeatures(flight: Flight): FlightFeatures {
  const departure = new Date(flight.departure);
  return {
    hour: departure.getUTCHours(),
    day_of_week: departure.getUTCDay(),
    day_of_month: departure.getUTCDate(),
    distance: flight.distance,
    origin: flight.origin,
    destination: flight.destination,
  };
}

/** The ground truth label: 1 when the flight arrived more than DELAY_THRESHOLD_MINUTES late. */
export function isDelayed(flight: Pick<Flight, "delay">): 0 | 1 {
  return flight.delay > DELAY_THRESHOLD_MINUTES ? 1 : 0;
}

function rowGroupMayHaveMonth(group: { columns: { meta_data?: { path_in_schema: string[]; statistics?: { min_value?: unknown; max_value?: unknown } } }[] }, months: ReadonlySet<number>): boolean {
  const stats = group.columns.find((c) => c.meta_data?.path_in_schema[0] === "date")?.meta_data?.statistics;
  const min = stats?.min_value;
  const max = stats?.max_value;
  if (!(min instanceof Date) || !(max instanceof Date)) return true;
  // Months between min and max inclusive (the file spans one year, so month numbers are enough).
  for (let month = min.getUTCMonth() + 1; month <= max.getUTCMonth() + 1; month++) if (months.has(month)) return true;
  return false;
}
