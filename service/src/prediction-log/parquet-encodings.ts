/**
 * The two Parquet encodings of integers the prediction log's files use besides PLAIN:
 * https://github.com/apache/parquet-format/blob/master/Encodings.md
 * - the RLE / bit-packing hybrid, for definition levels and dictionary indexes;
 * - DELTA_BINARY_PACKED, for the increasing int64 columns (seq, times).
 */
import type { ByteSink } from "./byte-sink";

/** Shortest run worth an RLE run rather than bit-packing. */
const MIN_RUN = 8;

/**
 * `count` values of `bitWidth` bits (≤ 32) as RLE/bit-packed hybrid runs: repeats of 8 or more as RLE runs, the
 * rest in bit-packed groups of 8 (the last one zero-padded; readers stop at the page's value count).
 */
export function writeHybrid(out: ByteSink, values: ArrayLike<number>, count: number, bitWidth: number): void {
  const valueBytes = (bitWidth + 7) >> 3;
  let at = 0;
  while (at < count) {
    const run = runLength(values, at, count);
    if (run >= MIN_RUN) {
      out.varint(run * 2);
      for (let b = 0, v = values[at]!; b < valueBytes; b++, v >>>= 8) out.byte(v & 0xff);
      at += run;
      continue;
    }
    const start = at;
    let groups = 0;
    do {
      groups++;
      at += 8;
    } while (at < count && runLength(values, at, count) < MIN_RUN);
    out.varint(groups * 2 + 1);
    bitPack(out, values, start, Math.min(count, start + groups * 8), groups * 8, bitWidth);
  }
}

function runLength(values: ArrayLike<number>, at: number, count: number): number {
  const value = values[at];
  let end = at + 1;
  while (end < count && values[end] === value) end++;
  return end - at;
}

/** Integers below 2^32, values[start..end) LSB first, `slots` values' worth of bits (zeros past end). */
function bitPack(out: ByteSink, values: ArrayLike<number>, start: number, end: number, slots: number, bitWidth: number): void {
  // Number arithmetic: up to 7 pending bits plus a 32-bit value stays exact.
  let pending = 0;
  let bits = 0;
  for (let i = 0; i < slots; i++) {
    const value = start + i < end ? values[start + i]! >>> 0 : 0;
    pending += value * 2 ** bits;
    bits += bitWidth;
    while (bits >= 8) {
      out.byte(pending % 256);
      pending = Math.floor(pending / 256);
      bits -= 8;
    }
  }
  if (bits > 0) out.byte(pending);
}

/** Bits needed for values up to `max` (at least 1). */
export function bitWidthOf(max: number): number {
  let width = 1;
  while (width < 32 && max >= 2 ** width) width++;
  return width;
}

const BLOCK = 128;
const MINIBLOCKS = 4;
const MINIBLOCK = BLOCK / MINIBLOCKS;
/** Largest (delta - min delta) a miniblock packs: 32 bits, the width the Number arithmetic is exact for. */
const MAX_PACKED = 2 ** 32 - 1;

/**
 * DELTA_BINARY_PACKED of an int64 column given as its first value and the `count - 1` deltas between
 * consecutive values. Returns false (writing nothing) when some block's deltas span more than 32 bits, where
 * the caller writes PLAIN instead.
 */
export function writeDeltaBinaryPacked(out: ByteSink, first: bigint, deltas: Float64Array, count: number): boolean {
  for (let block = 0; block < count - 1; block += BLOCK) {
    const { min, max } = range(deltas, block, Math.min(count - 1, block + BLOCK));
    if (max - min > MAX_PACKED || !Number.isSafeInteger(min) || !Number.isSafeInteger(max)) return false;
  }
  out.varint(BLOCK);
  out.varint(MINIBLOCKS);
  out.varint(count);
  out.varbigint(first >= 0n ? first << 1n : (-first << 1n) - 1n);
  for (let block = 0; block < count - 1; block += BLOCK) {
    const end = Math.min(count - 1, block + BLOCK);
    const { min } = range(deltas, block, end);
    out.varint(min >= 0 ? min * 2 : -min * 2 - 1);
    const widths: number[] = [];
    const packed = new Float64Array(BLOCK);
    for (let i = block; i < end; i++) packed[i - block] = deltas[i]! - min;
    for (let m = 0; m < MINIBLOCKS; m++) {
      const from = m * MINIBLOCK;
      const to = Math.min(end - block, from + MINIBLOCK);
      if (from >= to) widths.push(0);
      else widths.push(widthOfRange(packed, from, to));
    }
    for (const width of widths) out.byte(width);
    // Only the miniblocks that hold deltas are written; the last one is padded to a full miniblock.
    for (let m = 0; m < MINIBLOCKS && m * MINIBLOCK < end - block; m++) {
      if (widths[m] === 0) continue;
      bitPack(out, packed, m * MINIBLOCK, (m + 1) * MINIBLOCK, MINIBLOCK, widths[m]!);
    }
  }
  return true;
}

function range(values: Float64Array, start: number, end: number): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

function widthOfRange(values: Float64Array, start: number, end: number): number {
  let max = 0;
  for (let i = start; i < end; i++) if (values[i]! > max) max = values[i]!;
  return max === 0 ? 0 : bitWidthOf(max);
}
