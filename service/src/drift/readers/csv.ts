/**
 * Streaming RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF or LF, a UTF-8 BOM, a header
 * row. Values stay strings (the column summaries parse numbers), and rows are scattered straight into column
 * arrays. A row with more fields than the header is skipped and counted; a short row is padded with missing
 * values (pandas does the same).
 */
import { StringDecoder } from "node:string_decoder";
import { BATCH_ROWS, type ColumnBatch } from "./batch";

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

export async function* readCsv(chunks: AsyncIterable<Buffer | string>, batchRows = BATCH_ROWS): AsyncGenerator<ColumnBatch> {
  const decoder = new StringDecoder("utf8");
  let header: string[] | undefined;
  let index = new Map<string, number>();
  let columns: string[][] = [];
  let rows = 0;
  let malformed = 0;
  const row: string[] = [];
  let field = "";
  let inQuotes = false;
  let quotePending = false;
  let fieldQuoted = false;

  const flushBatch = (): ColumnBatch => {
    const batchColumns = columns;
    const batch: ColumnBatch = { rows, malformed, names: header!, column: (name) => { const i = index.get(name); return i === undefined ? undefined : batchColumns[i]; } };
    columns = header!.map(() => []);
    rows = 0;
    malformed = 0;
    return batch;
  };
  const endField = () => {
    row.push(field);
    field = "";
    fieldQuoted = false;
  };
  const endRow = (): boolean => {
    // Outside quotes, a CR right before the LF is the CR of a CRLF line end (possibly from the previous chunk).
    if (field.charCodeAt(field.length - 1) === CR) field = field.slice(0, -1);
    endField();
    if (row.length === 1 && row[0] === "") {
      row.length = 0;
      return false; // blank line
    }
    if (!header) {
      header = row.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim());
      index = new Map(header.map((name, i) => [name, i]));
      columns = header.map(() => []);
    } else if (row.length > header.length) {
      malformed++;
    } else {
      for (let i = 0; i < header.length; i++) columns[i].push(i < row.length ? row[i] : "");
      rows++;
    }
    row.length = 0;
    return rows >= batchRows;
  };

  const parse = function* (text: string): Generator<ColumnBatch> {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (c === QUOTE) {
            field += '"';
            start = i + 1;
            continue;
          }
          inQuotes = false; // the quote closed the field; c is read as unquoted text below
        } else {
          if (c === QUOTE) {
            field += text.slice(start, i);
            quotePending = true;
            start = i + 1;
          }
          continue;
        }
      }
      if (c === COMMA) {
        field += text.slice(start, i);
        endField();
        start = i + 1;
      } else if (c === LF) {
        field += text.slice(start, i);
        start = i + 1;
        if (endRow()) yield flushBatch();
      } else if (c === QUOTE && start === i && field === "") {
        inQuotes = true;
        fieldQuoted = true;
        start = i + 1;
      }
    }
    field += text.slice(start);
  };

  for await (const chunk of chunks) {
    yield* parse(typeof chunk === "string" ? chunk : decoder.write(chunk));
  }
  yield* parse(decoder.end());
  if (field !== "" || row.length > 0 || fieldQuoted) endRow();
  if (header && (rows > 0 || malformed > 0)) yield flushBatch();
}
