/**
 * Newline-delimited JSON, one object per line. A line that is not a JSON object is skipped, counted and reported
 * (`malformedRows`). An
 * object's nested `features` object (the prediction log's shape, as exported with `COPY ... TO` or a log
 * shipper) is read as if its keys were top-level, so log exports work as current data unchanged.
 */
import { StringDecoder } from "node:string_decoder";
import { BATCH_ROWS, MALFORMED_TEXT_LIMIT, type ColumnBatch, type MalformedRow } from "./batch";

/** `wanted` undefined: the keys of the first object (its nested `features` keys included). */
export async function* readNdjson(chunks: AsyncIterable<Buffer | string>, wanted?: readonly string[], batchRows = BATCH_ROWS): AsyncGenerator<ColumnBatch> {
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let columns: readonly string[] = wanted ?? [];
  let values: unknown[][] = columns.map(() => []);
  let rows = 0;
  let malformedRows: MalformedRow[] = [];
  let line = 0;
  let index = new Map(columns.map((name, i) => [name, i]));

  const flush = (): ColumnBatch => {
    const batchValues = values;
    const batch: ColumnBatch = {
      rows,
      malformed: malformedRows.length,
      malformedRows,
      names: columns,
      column: (name) => {
        const i = index.get(name);
        return i === undefined ? undefined : batchValues[i];
      },
    };
    values = columns.map(() => []);
    rows = 0;
    malformedRows = [];
    return batch;
  };
  const reject = (text: string, reason: string) =>
    malformedRows.push({ before: rows, line, text: text.slice(0, MALFORMED_TEXT_LIMIT), reason: `line ${line} ${reason}` });
  const addLine = (text: string): void => {
    line++;
    if (text.trim() === "") return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      reject(text, `is not JSON (${(error as Error).message})`);
      return;
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      reject(text, `is ${record === null ? "null" : Array.isArray(record) ? "an array" : `a ${typeof record}`}, not a JSON object`);
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
      if (rows + malformedRows.length >= batchRows) yield flush();
    }
    carry = text.slice(start);
  }
  const last = carry + decoder.end();
  if (last !== "") addLine(last);
  if (rows > 0 || malformedRows.length > 0) yield flush();
}
