/**
 * Streaming RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF or LF, a UTF-8 BOM, a header
 * row. Values stay strings (the column summaries parse numbers), and rows are scattered straight into column
 * arrays. A row with more fields than the header is skipped, counted and reported (`malformedRows`); a short
 * row is padded with missing values (pandas does the same). A quoted field that is never closed, or grows past
 * `maxFieldLength` characters (an unbalanced quote swallowing the rest of the file), fails the read with the
 * line and column where it opened.
 */
import { StringDecoder } from "node:string_decoder";
import { BATCH_ROWS, MALFORMED_TEXT_LIMIT, type ColumnBatch, type MalformedRow } from "./batch";

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

/** Longest quoted field accepted (characters). */
export const MAX_CSV_FIELD_LENGTH = 8 * 1024 * 1024;

/** The file is not CSV as RFC 4180 writes it: the message names the line and column. */
export class CsvFormatError extends Error {
  override readonly name = "CsvFormatError";
}

export interface CsvOptions {
  /** @default BATCH_ROWS */
  readonly batchRows?: number;
  /** @default MAX_CSV_FIELD_LENGTH */
  readonly maxFieldLength?: number;
}

export async function* readCsv(chunks: AsyncIterable<Buffer | string>, options: CsvOptions | number = {}): AsyncGenerator<ColumnBatch> {
  const { batchRows = BATCH_ROWS, maxFieldLength = MAX_CSV_FIELD_LENGTH } = typeof options === "number" ? { batchRows: options } : options;
  const decoder = new StringDecoder("utf8");
  let header: string[] | undefined;
  let index = new Map<string, number>();
  let columns: string[][] = [];
  let rows = 0;
  let malformedRows: MalformedRow[] = [];
  const row: string[] = [];
  let field = "";
  let inQuotes = false;
  let quotePending = false;
  let fieldQuoted = false;
  let line = 1;
  let rowLine = 1;
  let quoteLine = 1;

  const flushBatch = (): ColumnBatch => {
    const batchColumns = columns;
    const batch: ColumnBatch = {
      rows,
      malformed: malformedRows.length,
      malformedRows,
      names: header!,
      column: (name) => {
        const i = index.get(name);
        return i === undefined ? undefined : batchColumns[i];
      },
    };
    columns = header!.map(() => []);
    rows = 0;
    malformedRows = [];
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
    const startedAt = rowLine;
    rowLine = line;
    if (row.length === 1 && row[0] === "") {
      row.length = 0;
      return false; // blank line
    }
    if (!header) {
      header = row.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim());
      index = new Map(header.map((name, i) => [name, i]));
      columns = header.map(() => []);
    } else if (row.length > header.length) {
      malformedRows.push({
        before: rows,
        line: startedAt,
        text: row.map(quoteField).join(",").slice(0, MALFORMED_TEXT_LIMIT),
        reason: `line ${startedAt} has ${row.length} fields, the header has ${header.length}`,
      });
    } else {
      for (let i = 0; i < header.length; i++) columns[i].push(i < row.length ? row[i] : "");
      rows++;
    }
    row.length = 0;
    return rows + malformedRows.length >= batchRows;
  };
  const unbalanced = (why: string) => {
    const column = header?.[row.length];
    return new CsvFormatError(
      `line ${quoteLine}: the quoted field ${column !== undefined ? `of column "${column}" ` : ""}that opens there ${why} (an unbalanced '"'?)`,
    );
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
          } else if (c === LF) {
            line++;
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
        line++;
        if (endRow()) yield flushBatch();
      } else if (c === QUOTE && start === i && field === "") {
        inQuotes = true;
        fieldQuoted = true;
        quoteLine = line;
        start = i + 1;
      }
    }
    field += text.slice(start);
    if (inQuotes && field.length > maxFieldLength) throw unbalanced(`runs past ${maxFieldLength} characters`);
  };

  for await (const chunk of chunks) {
    yield* parse(typeof chunk === "string" ? chunk : decoder.write(chunk));
  }
  yield* parse(decoder.end());
  if (inQuotes && !quotePending) throw unbalanced("is never closed");
  if (field !== "" || row.length > 0 || fieldQuoted) endRow();
  if (header && (rows > 0 || malformedRows.length > 0)) yield flushBatch();
}

/** A field as RFC 4180 writes it: quoted when it holds a comma, a quote, a line break or edge spaces. */
export function quoteField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
