/**
 * Snappy compression (the raw block format Parquet's SNAPPY codec uses), written for the prediction log's pages:
 * https://github.com/google/snappy/blob/main/format_description.txt
 *
 * The input is cut into 64 KiB fragments, as the reference compressor does, so every copy's offset fits the
 * two-byte form. Within a fragment a hash of each 4 bytes finds an earlier occurrence; a match is extended and
 * emitted as copies, the bytes between matches as literals. Greedy and single-pass: its output is a little
 * larger than the reference's, every Snappy decoder reads it.
 */
import { ByteSink } from "./byte-sink";

const FRAGMENT = 1 << 16;
const HASH_BITS = 14;
/** Bytes at a fragment's end where no match starts (a 4-byte read must stay inside). */
const MARGIN = 4;

const table = new Int32Array(1 << HASH_BITS);

export function snappyCompress(input: Uint8Array, out: ByteSink = new ByteSink(input.length + (input.length >> 3) + 16)): Uint8Array {
  const start = out.length;
  out.varint(input.length);
  for (let fragment = 0; fragment < input.length; fragment += FRAGMENT) compressFragment(input, fragment, Math.min(input.length, fragment + FRAGMENT), out);
  return out.subarray(start);
}

function load32(input: Uint8Array, at: number): number {
  return (input[at]! | (input[at + 1]! << 8) | (input[at + 2]! << 16) | (input[at + 3]! << 24)) >>> 0;
}

function hash(value: number): number {
  return Math.imul(value, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function compressFragment(input: Uint8Array, begin: number, end: number, out: ByteSink): void {
  table.fill(-1);
  let literalStart = begin;
  let at = begin;
  let misses = 0;
  while (at + MARGIN <= end) {
    const value = load32(input, at);
    const slot = hash(value);
    const candidate = table[slot]!;
    table[slot] = at;
    if (candidate < begin || load32(input, candidate) !== value) {
      // Incompressible stretches are skipped faster the longer they run (the reference's heuristic).
      at += 1 + (misses++ >> 5);
      continue;
    }
    misses = 0;
    let length = 4;
    while (at + length < end && input[candidate + length] === input[at + length]) length++;
    literal(input, literalStart, at, out);
    copy(at - candidate, length, out);
    at += length;
    literalStart = at;
  }
  literal(input, literalStart, end, out);
}

function literal(input: Uint8Array, start: number, end: number, out: ByteSink): void {
  const length = end - start;
  if (length === 0) return;
  const n = length - 1;
  if (n < 60) out.byte(n << 2);
  else if (n < 1 << 8) {
    out.byte(60 << 2);
    out.byte(n);
  } else if (n < 1 << 16) {
    out.byte(61 << 2);
    out.byte(n & 0xff);
    out.byte(n >>> 8);
  } else {
    out.byte(62 << 2);
    out.byte(n & 0xff);
    out.byte((n >>> 8) & 0xff);
    out.byte(n >>> 16);
  }
  out.bytes(input, start, end);
}

/** Copies with a two-byte offset (tag 10), at most 64 bytes each. */
function copy(offset: number, length: number, out: ByteSink): void {
  while (length > 0) {
    // Never leave a tail under 4: the last copy of a long match takes 60 so the rest is 4 or more.
    const take = length > 64 ? (length - 64 < 4 ? 60 : 64) : length;
    out.byte(((take - 1) << 2) | 2);
    out.byte(offset & 0xff);
    out.byte(offset >>> 8);
    length -= take;
  }
}
