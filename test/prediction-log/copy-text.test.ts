/**
 * Model outputs in journal lines: a float32 is written with the 9 significant digits that identify it and parses
 * back (as PostgreSQL's double precision and the Parquet sink's Number() parse it) to the same float32; anything
 * else keeps every digit.
 */
import { outputField } from "../../service/src/prediction-log/copy-text";

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
    expect(Math.abs(Number(outputField(p)) - p)).toBeLessThanOrEqual(5e-10);
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
