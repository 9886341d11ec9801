/** A growable little-endian byte buffer: what the Parquet file writer (parquet-file.ts) builds pages and footers in. */
export class ByteSink {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 1 << 12) {
    this.buffer = new Uint8Array(initialBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Room for `bytes` more. */
  reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  uint32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }

  float64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  int64(value: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, value, true);
    this.length += 8;
  }

  /** ULEB128 of a non-negative integer up to 2^53 (Number arithmetic: no 32-bit truncation). */
  varint(value: number): void {
    this.reserve(8);
    while (value >= 0x80) {
      this.buffer[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.length++] = value;
  }

  /** ULEB128 of any non-negative bigint. */
  varbigint(value: bigint): void {
    while (value >= 0x80n) {
      this.byte(Number(value & 0x7fn) | 0x80);
      value >>= 7n;
    }
    this.byte(Number(value));
  }

  bytes(source: Uint8Array, start = 0, end = source.length): void {
    this.reserve(end - start);
    this.buffer.set(source.subarray(start, end), this.length);
    this.length += end - start;
  }

  /** Byte-wise order of two ranges of what was written (negative, zero, positive). */
  compare(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
    const b = this.buffer;
    const n = Math.min(aEnd - aStart, bEnd - bStart);
    for (let i = 0; i < n; i++) {
      const d = b[aStart + i]! - b[bStart + i]!;
      if (d !== 0) return d;
    }
    return aEnd - aStart - (bEnd - bStart);
  }

  /** Overwrites 4 bytes already written (a length known only afterwards). */
  setUint32(at: number, value: number): void {
    this.view.setUint32(at, value, true);
  }

  /** A view of bytes written so far (valid until the next write). */
  subarray(start = 0, end = this.length): Uint8Array {
    return this.buffer.subarray(start, end);
  }

  /** A copy of the bytes written so far, in a buffer of its own (transferable). */
  copy(start = 0, end = this.length): Uint8Array {
    return this.buffer.slice(start, end);
  }

  clear(): void {
    this.length = 0;
  }
}
