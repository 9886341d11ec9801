/**
 * Fields of journal lines. Model outputs: a float32 is written with the 9 significant digits that identify it and
 * parses back (as PostgreSQL's double precision and the Parquet sink's Number() parse it) to the same float32;
 * anything else keeps every digit. Latencies: to the microsecond. Text: escaped exactly where COPY needs it.
 */
import { decodeField, millisecondsField, outputField, textField } from "../../service/src/prediction-log/copy-text";

function randomFloat32(): number {
  const bits = new Uint32Array([Math.floor(Math.random() * 0x1_0000_0000)]);
  return new Float32Array(bits.buffer)[0]!;
}

it("every float32 (random bit patterns: subnormals, huge, tiny, negative) comes back as the same float32", () => {
  let checked = 0;
  for (let i = 0; i < 200_000; i++) {
    const value = randomFloat32();
    if (!Number.isFinite(value)) continue;
    const text = outputField(value);
    // 9 significant digits, not the 17 of its double widening.
    const significant = text.replace(/e.*$/, "").replace(/[-.]/g, "").replace(/^0+/, "");
    if (!Number.isInteger(value) && significant.length > 9) throw new Error(`${value} written as ${text}`);
    if (Math.fround(Number(text)) !== value) throw new Error(`${value} written as ${text}`);
    checked++;
  }
  expect(checked).toBeGreaterThan(190_000);
  for (const value of [Math.fround(0.1), Math.fround(1 - 2 ** -24), 2 ** -149, -(2 ** -126), Math.fround(3.4e38)]) expect(Math.fround(Number(outputField(value)))).toBe(value);
});

it("probabilities read back within 5e-10 of the float32 the model gave", () => {
  for (let i = 0; i < 10_000; i++) {
    const p = Math.fround(Math.random());
    // Half a unit in the 9th digit, plus the gap between that decimal and the double it parses to (under 2^-53).
    expect(Math.abs(Number(outputField(p)) - p)).toBeLessThanOrEqual(5e-10 + 2 ** -53);
  }
});

it("integers, doubles that are no float32, NaN, infinities and missing values are written as they are", () => {
  expect(outputField(3)).toBe("3");
  expect(outputField(-0)).toBe("0");
  expect(outputField(0.1)).toBe("0.1");
  expect(outputField(1 / 3)).toBe(String(1 / 3));
  expect(outputField(Number.NaN)).toBe("NaN");
  expect(outputField(Number.POSITIVE_INFINITY)).toBe("Infinity");
  expect(outputField(Number.NEGATIVE_INFINITY)).toBe("-Infinity");
  expect(outputField(null)).toBe("\\N");
  expect(outputField(undefined)).toBe("\\N");
});

it("latencies are written to the microsecond, and read back within half of one", () => {
  expect(millisecondsField(0)).toBe("0");
  expect(millisecondsField(3)).toBe("3");
  expect(millisecondsField(0.0004)).toBe("0");
  expect(millisecondsField(0.0005)).toBe("0.001");
  expect(millisecondsField(1.5)).toBe("1.500");
  expect(millisecondsField(12.0456)).toBe("12.046");
  expect(millisecondsField(0.09)).toBe("0.090");
  expect(millisecondsField(2.999_9996)).toBe("3");
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.random() * 10 ** (Math.floor(Math.random() * 7) - 2);
    const text = millisecondsField(ms);
    expect(text).toMatch(/^\d+(\.\d{3})?$/);
    expect(Math.abs(Number(text) - ms)).toBeLessThanOrEqual(0.0005 + ms * 1e-15);
  }
});

it("latencies that are negative, not finite or huge are written as numbers are", () => {
  expect(millisecondsField(-0.25)).toBe("-0.25");
  expect(millisecondsField(Number.NaN)).toBe("NaN");
  expect(millisecondsField(Number.POSITIVE_INFINITY)).toBe("Infinity");
  expect(millisecondsField(1e13)).toBe("10000000000000");
});

it("text fields escape backslash, tab, newline, carriage return and NUL, wherever they are, and nothing else", () => {
  const specials = ["\\", "\t", "\n", "\r", "\0"];
  expect(textField("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")).toBe("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  expect(textField("")).toBe("");
  expect(textField("naïve 模型 \u000b\u000c\u001f")).toBe("naïve 模型 \u000b\u000c\u001f");
  expect(textField("a\\b\tc\nd\re\0f")).toBe("a\\\\b\\tc\\nd\\re\\x00f");
  for (let i = 0; i < 2_000; i++) {
    const chars = Array.from({ length: 1 + Math.floor(Math.random() * 12) }, () => (Math.random() < 0.3 ? specials[Math.floor(Math.random() * 5)]! : String.fromCharCode(0x20 + Math.floor(Math.random() * 0x5f))));
    const value = chars.join("");
    const field = textField(value);
    expect(field).not.toMatch(/[\t\n\r\0]/);
    expect(decodeField(field)).toBe(value);
  }
});
