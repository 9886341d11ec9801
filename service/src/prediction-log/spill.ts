/**
 * The prediction log's local overflow: append-only JSON-lines segment files, replayed oldest first.
 *
 * A segment is named after the seq of its first line (zero-padded), so name order is seq order: a segment
 * written at shutdown from the in-memory queue (older entries) sorts before the segment the spill was being
 * appended to, and segments left by a previous life of the pod sort before this one's (seq starts from the boot
 * time). Replay progress is kept in a small `.offset` file beside each segment, so a restart resumes where it
 * stopped; a line replayed twice is harmless because inserts are idempotent.
 *
 * Appends are buffered for one event-loop turn and written with one synchronous write: record() stays cheap,
 * and a line is either fully in the file or not at all as far as the reader knows (it reads only up to the size
 * the last completed write left).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

const SEGMENT = /^spill-(\d{20})\.jsonl$/;
const READ_CHUNK_BYTES = 1 << 20;

interface Segment {
  readonly path: string;
  /** Bytes durably written (the reader never reads past this). */
  size: number;
  /** Bytes already replayed. */
  offset: number;
  /** Lines not yet replayed. */
  lines: number;
}

export interface SpillBatch {
  /** Parsed lines, in file order; unreadable lines are reported through onUnreadable instead. */
  readonly lines: readonly unknown[];
  /** Marks the batch replayed: advances the offset, deletes the segment once fully replayed. */
  commit(): void;
}

export interface SpillEvents {
  /** Lines durably appended. */
  onSpilled(count: number): void;
  /** Lines that could not be written (disk full, directory gone); they are lost. */
  onWriteFailed(count: number, error: Error): void;
  /** Lines that could not be parsed on replay (a torn write at a crash); they are lost. */
  onUnreadable(count: number): void;
}

export class SpillStore {
  /** Oldest first. */
  private readonly segments: Segment[] = [];
  private active: { segment: Segment; fd: number } | undefined;
  private pending: string[] = [];
  private pendingFirstSeq: string | undefined;
  private flushScheduled = false;

  /** Why the directory cannot be used (then every spill attempt fails and is counted), if it cannot. */
  readonly unusable: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly events: SpillEvents,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir).filter((n) => SEGMENT.test(n)).sort()) {
        const path = join(dir, name);
        const offset = readOffset(path);
        const size = statSync(path).size;
        const segment: Segment = { path, size, offset, lines: countLines(path, offset, size) };
        if (segment.lines === 0 && offset >= size) removeSegment(path);
        else this.segments.push(segment);
      }
    } catch (error) {
      this.unusable = error as Error;
    }
  }

  /** Lines waiting to be replayed (buffered ones included). */
  get depth(): number {
    return this.pending.length + this.segments.reduce((sum, s) => sum + s.lines, 0);
  }

  /** Queues one line (already JSON, no newline) for the next synchronous append. */
  append(line: string, seq: string): void {
    if (this.pending.length === 0) this.pendingFirstSeq = seq;
    this.pending.push(line);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the buffered lines now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    const firstSeq = this.pendingFirstSeq!;
    this.pending = [];
    try {
      if (!this.active) {
        const segment = this.newSegment(firstSeq);
        this.active = { segment, fd: openSync(segment.path, "a") };
      }
      this.writeLines(this.active.fd, this.active.segment, lines);
    } catch (error) {
      this.events.onWriteFailed(lines.length, error as Error);
    }
  }

  /**
   * Writes lines older than everything spilled so far (the in-memory queue at shutdown) into their own segment,
   * named by their first seq so replay takes them first.
   */
  writeSegment(lines: readonly string[], firstSeq: string): void {
    if (lines.length === 0) return;
    try {
      const segment = this.newSegment(firstSeq);
      const fd = openSync(segment.path, "a");
      try {
        this.writeLines(fd, segment, lines);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      this.events.onWriteFailed(lines.length, error as Error);
    }
  }

  /** Reads up to `max` lines from the oldest segment; undefined when nothing is durably spilled. */
  async read(max: number): Promise<SpillBatch | undefined> {
    // A segment whose first write failed (disk full) holds nothing: drop it so it cannot block the ones after.
    while (this.segments[0] && this.segments[0].lines === 0 && this.segments[0].offset >= this.segments[0].size) {
      this.commit(this.segments[0], 0, 0);
    }
    const segment = this.segments[0];
    if (!segment) return undefined;
    let want = READ_CHUNK_BYTES;
    const handle = await open(segment.path, "r");
    try {
      for (;;) {
        const length = Math.min(want, segment.size - segment.offset);
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, segment.offset);
        const text = buffer.subarray(0, bytesRead);
        const parsed = parseLines(text, max, segment.offset + bytesRead >= segment.size);
        if (parsed.consumedBytes === 0 && bytesRead === length && segment.offset + length < segment.size) {
          want *= 2; // one line longer than the chunk
          continue;
        }
        if (parsed.unreadable > 0) this.events.onUnreadable(parsed.unreadable);
        return {
          lines: parsed.values,
          commit: () => this.commit(segment, parsed.consumedBytes, parsed.values.length + parsed.unreadable),
        };
      }
    } finally {
      await handle.close();
    }
  }

  /** Flushes buffered lines and closes the active segment. */
  close(): void {
    this.flush();
    if (this.active) closeSync(this.active.fd);
    this.active = undefined;
  }

  private commit(segment: Segment, bytes: number, lines: number): void {
    segment.offset += bytes;
    segment.lines -= lines;
    const drained = segment.lines <= 0 && segment.offset >= segment.size;
    if (drained) {
      if (this.active?.segment === segment) {
        closeSync(this.active.fd);
        this.active = undefined;
      }
      this.segments.splice(this.segments.indexOf(segment), 1);
      removeSegment(segment.path);
    } else {
      writeFileSync(offsetPath(segment.path), String(segment.offset));
    }
  }

  private newSegment(firstSeq: string): Segment {
    const segment: Segment = { path: join(this.dir, `spill-${firstSeq.padStart(20, "0")}.jsonl`), size: 0, offset: 0, lines: 0 };
    this.segments.push(segment);
    this.segments.sort((a, b) => (a.path < b.path ? -1 : 1));
    return segment;
  }

  private writeLines(fd: number, segment: Segment, lines: readonly string[]): void {
    const data = Buffer.from(`${lines.join("\n")}\n`);
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written);
    segment.size += data.length;
    segment.lines += lines.length;
    this.events.onSpilled(lines.length);
  }
}

function parseLines(text: Buffer, max: number, atEnd: boolean): { values: unknown[]; unreadable: number; consumedBytes: number } {
  const values: unknown[] = [];
  let unreadable = 0;
  let start = 0;
  while (values.length + unreadable < max && start < text.length) {
    let end = text.indexOf(0x0a, start);
    // A last line without its newline is torn (the writer always ends with one): consume it as unreadable.
    if (end === -1) {
      if (!atEnd) break;
      end = text.length;
    }
    try {
      values.push(JSON.parse(text.toString("utf8", start, end)));
    } catch {
      unreadable++;
    }
    start = end + 1;
  }
  return { values, unreadable, consumedBytes: Math.min(start, text.length) };
}

function offsetPath(segmentPath: string): string {
  return segmentPath.replace(/\.jsonl$/, ".offset");
}

function readOffset(segmentPath: string): number {
  const path = offsetPath(segmentPath);
  if (!existsSync(path)) return 0;
  const value = Number(readFileSync(path, "utf8"));
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function removeSegment(path: string): void {
  rmSync(path, { force: true });
  rmSync(offsetPath(path), { force: true });
}

/** Lines (complete or torn) between offset and size. */
function countLines(path: string, offset: number, size: number): number {
  if (offset >= size) return 0;
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    let lines = 0;
    let position = offset;
    let last = 0x0a;
    while (position < size) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) if (buffer[i] === 0x0a) lines++;
      last = buffer[bytesRead - 1]!;
      position += bytesRead;
    }
    return last === 0x0a ? lines : lines + 1;
  } finally {
    closeSync(fd);
  }
}
