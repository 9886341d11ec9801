/** CSV output as RFC 4180 writes it (what the drift job's reader reads back): a header row, then one line per row. */
import { quoteField } from "../drift/readers/csv";

/** A cell as CSV text: empty for a missing value, numbers as JavaScript prints them (round-trip exact). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return quoteField(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return quoteField(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  return String(value);
}

export function csvHeader(names: readonly string[]): string {
  return `${names.map(quoteField).join(",")}\n`;
}

/** `columns[k][i]` is row i of column k. */
export function csvRows(columns: readonly ArrayLike<unknown>[], rows: number): string {
  const lines = new Array<string>(rows);
  const width = columns.length;
  const cells = new Array<string>(width);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < width; k++) cells[k] = csvCell(columns[k]![i]);
    lines[i] = cells.join(",");
  }
  return rows === 0 ? "" : `${lines.join("\n")}\n`;
}
