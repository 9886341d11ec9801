/**
 * PostgreSQL's COPY text format (one row per line, tab-separated fields, backslash escapes, `\N` for NULL):
 * the format of journal lines. The PostgreSQL sink streams journal bytes into `COPY ... FROM STDIN` unchanged
 * and the Parquet sink decodes the same lines, so an entry is serialised once, on the request path.
 * https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2
 */

export const NULL_FIELD = "\\N";

const SPECIAL_ALL = /[\\\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\x00" };

/**
 * A text field. NUL becomes `\x00`, which PostgreSQL refuses for that row alone (text cannot hold it), so a raw
 * NUL never enters the journal: there it marks a torn write.
 */
export function textField(value: string): string {
  // A char-code scan, not a RegExp test: the fields are short (ids, names, labels) and the test's call costs
  // more than the loop (300-400 ns for an id and a label on the loaded request path, against ~40).
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c || (c <= 0x0d && (c === 0x09 || c === 0x0a || c === 0x0d || c === 0x00))) return value.replace(SPECIAL_ALL, (ch) => ESCAPES[ch]!);
  }
  return value;
}

/** JSON text as produced by JSON.stringify: it has no raw control characters, only backslashes to double. */
export function jsonField(json: string): string {
  return json.includes("\\") ? json.replaceAll("\\", "\\\\") : json;
}

export function numberField(value: number | null | undefined): string {
  // String() gives NaN, Infinity and -Infinity, which double precision accepts as they are.
  return value === null || value === undefined ? NULL_FIELD : String(value);
}

/**
 * A model output. A float32 (what ONNX graphs give) is written with the 9 significant digits that identify it
 * (it parses back to the same float32); String() of its double widening needs 17 and costs 3-4 times as much
 * on the request path. Integers and values that are no float32 are written as numberField does.
 */
export function outputField(value: number | null | undefined): string {
  if (value === null || value === undefined) return NULL_FIELD;
  return Math.fround(value) === value && !Number.isInteger(value) && Number.isFinite(value) ? value.toPrecision(9) : String(value);
}

/**
 * A duration in milliseconds to the microsecond (the column is a `real`, 24 bits): formatted from its integer
 * microseconds, since String() of an arbitrary double searches for its 17 shortest digits, which cost 0.7-1.3 µs
 * an entry on the loaded request path. Negative, non-finite and huge values are written as numberField does.
 */
export function millisecondsField(ms: number): string {
  if (!(ms >= 0 && ms < 1e12)) return numberField(ms);
  const us = Math.round(ms * 1000);
  const whole = Math.floor(us / 1000);
  const fraction = us - whole * 1000;
  if (fraction === 0) return String(whole);
  return `${whole}.${fraction < 10 ? "00" : fraction < 100 ? "0" : ""}${fraction}`;
}

export function booleanField(value: boolean): string {
  return value ? "t" : "f";
}

/** One field of a line back to its text, or null for `\N`. */
export function decodeField(raw: string): string | null {
  if (raw === NULL_FIELD) return null;
  if (!raw.includes("\\")) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== "\\" || i === raw.length - 1) {
      out += c;
      continue;
    }
    const next = raw[++i]!;
    switch (next) {
      case "t":
        out += "\t";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "v":
        out += "\v";
        break;
      case "x": {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(raw.slice(i + 1))?.[0] ?? "";
        if (hex === "") {
          out += "x";
          break;
        }
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += hex.length;
        break;
      }
      default:
        if (next >= "0" && next <= "7") {
          const octal = /^[0-7]{1,3}/.exec(raw.slice(i))![0];
          out += String.fromCharCode(Number.parseInt(octal, 8));
          i += octal.length - 1;
        } else {
          out += next; // \\ and any other escaped character stand for themselves
        }
    }
  }
  return out;
}

/** A line (without its newline) split into decoded fields. */
export function decodeLine(line: string): Array<string | null> {
  return line.split("\t").map(decodeField);
}
