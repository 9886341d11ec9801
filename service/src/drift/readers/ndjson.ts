/**
 * Newline-delimited JSON, one object per line. A line that is not a JSON object is skipped and counted. An
 * object's nested `features` object (the prediction log's shape, as exported with `COPY ... TO` or a log
 * shipper) is read as if its keys were top-level, so log exports work as current data unchanged.
 */
import { StringDecoder } from "node:string_decoder";
import { BATCH_ROWS, type ColumnBatch } from "./batch";

/** `wanted` undefined: the keys of the first object (its nested `features` keys included). */
export async function* readNdjson(chunks: AsyncIterable<Buffer | string>, wanted?: readonly string[], batchRows = BATCH_ROWS): AsyncGenerator<ColumnBatch> {
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let columns: readonly string[] = wanted ?? [];
  let values: unknown[][] = columns.map(() => []);
  let rows = 0;
  let malformed = 0;
  let index = new Map(columns.map((name, i) => [name, i]));

  const flush = (): ColumnBatch => {
    const batchValues = values;
    const batch: ColumnBatch = { rows, malformed, names: columns, column: (name) => { const i = index.get(name); return i === undefined ? undefined : batchValues[i]; } };
    values = columns.map(() => []);
    rows = 0;
    malformed = 0;
    return batch;
  };
  const addLine = (line: string): void => {
    if (line.trim() === "") return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      malformed++;
      return;
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      malformed++;
      return;
    }
    const top = record as Record<string, unknown>;
    const nested = top.features !== null && typeof top.features === "object" ? (top.features as Record<string, unknown>) : undefined;
    if (!wanted && rows === 0 && columns.length === 0) {
      columns = [...new Set([...Object.keys(nested ?? {}), ...Object.keys(top).filter((key) => key !== "features")])];
      values = columns.map(() => []);
      index = new Map(columns.map((name, i) => [name, i]));
    }
    for (let i = 0; i < columns.length; i++) values[i].push(columns[i] in top ? top[columns[i]] : nested?.[columns[i]]);
    rows++;
  };

  for await (const chunk of chunks) {
    const text = carry + (typeof chunk === "string" ? chunk : decoder.write(chunk));
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      addLine(text.slice(start, end));
      start = end + 1;
      if (rows >= batchRows) yield flush();
    }
    carry = text.slice(start);
  }
  addLine(carry + decoder.end());
  if (rows > 0 || malformed > 0) yield flush();
}
