/**
 * The prediction log's local journal: every accepted entry is written here before its answer leaves the
 * process, and the sinks (PostgreSQL, S3) read their batches from here, so a process kill loses nothing while
 * the pod's disk survives.
 *
 * - Appends are grouped per batch: record() queues a line, and one synchronous write in a microtask stores every
 *   line queued before it runs. A micro-batch's predictions are recorded in one run of microtasks (the batch
 *   resolves all its requests at once), so its lines share one write, made before any of its answers is sent;
 *   an answer whose lines are still queued (anything recorded outside that path) waits for the write
 *   (the plugin's onSend hook calls whenWritten). Written means in the kernel's page cache; an fdatasync every
 *   `fsyncIntervalMs` (off the event loop) bounds what a machine crash can take with it.
 * - Segment files `<prefix>-<epoch>-<n>.journal` start with a header line naming the fields, then one line per
 *   entry in COPY text format (copy-text.ts) with its seq as the last field. The seq is the epoch (a time in ms,
 *   above every earlier epoch's) shifted left 20 bits plus a counter, given only to lines that are stored, so
 *   within an epoch seqs have no holes: a hole found at start is an accepted entry that was lost (a machine
 *   crash that dropped unsynced writes, or entries held in memory while the directory was failing), counted.
 *   An epoch starts at every boot and after every 2^20 entries (a minute at 18k predictions a second), each
 *   in segments of its own, so the counter never runs into the epoch's bits and seqs keep rising.
 * - A checkpoint file records how far the sink has written (segment, offset, last seq), in two slots written in
 *   turn (checkpoint-file.ts), synced with the segments; fully written segments are deleted.
 * - The journal's disk use is capped (a DiskBudget shared by the journals of one spill directory): past the
 *   cap new entries are dropped and counted, never an eviction for an overfull emptyDir. While the directory
 *   cannot be written (read-only, full, I/O errors) entries wait in memory segments (bounded, lost on a
 *   restart), and the directory is retried every `diskRetryMs`.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CheckpointFile } from "./checkpoint-file";
import type { DropReason } from "./metrics";

const MAGIC = "#modelport-journal 1";
const NEWLINE = 0x0a;
const TAB = 0x09;
const SEQ_SHIFT = 20n;
/** Entries per epoch: the counter's 20 bits. */
const EPOCH_ENTRIES = 1 << 20;
const TEN_7 = 10_000_000n;

export interface JournalPosition {
  /** Segment id (creation order). */
  readonly segment: number;
  readonly offset: number;
}

/** Complete lines read from one segment. */
export interface JournalChunk {
  /** The lines. Valid until the next read() of this journal, which reuses the buffer: copy what must outlive it. */
  readonly data: Buffer;
  readonly rows: number;
  /** Field names of the lines (the segment's header). */
  readonly columns: readonly string[];
  readonly start: JournalPosition;
  readonly end: JournalPosition;
  readonly firstSeq: string;
  readonly lastSeq: string;
}

/** A byte cap shared by the journals of one spill directory. */
export class DiskBudget {
  private readonly journals: Journal[] = [];
  constructor(readonly limitBytes: number) {}

  add(journal: Journal): void {
    this.journals.push(journal);
  }

  used(): number {
    return this.journals.reduce((sum, journal) => sum + journal.diskBytes, 0);
  }
}

export interface JournalEvents {
  /** Entries written to a segment (file or memory): the backlog grew by `rows`. */
  stored(rows: number): void;
  /** Entries lost (cap reached, memory stand-in full, found missing or torn at start). */
  dropped(reason: DropReason, count: number): void;
  /** A write to the directory failed; entries now wait in memory. Called once per failed attempt. */
  diskError(error: Error): void;
  /** The directory takes writes again. */
  diskRecovered(): void;
}

export interface JournalOptions {
  readonly dir: string;
  /** Segment file prefix (the stream's name). */
  readonly prefix: string;
  /** Field names of a line; the last is the seq, which the journal appends. */
  readonly columns: readonly string[];
  readonly budget: DiskBudget;
  readonly events: JournalEvents;
  /** Size at which a segment is closed and a new one started. @default 8 MiB */
  readonly segmentBytes?: number;
  /** Bytes held in memory while the directory fails. @default 64 MiB */
  readonly memoryLimitBytes?: number;
  /** fdatasync interval; 0 leaves write-back to the kernel. @default 1000 */
  readonly fsyncIntervalMs?: number;
  /** How often a failing directory is tried again. @default 10000 */
  readonly diskRetryMs?: number;
}

/** What open() found from earlier lives of this replica. */
export interface JournalRecovery {
  readonly rows: number;
  readonly segments: number;
  /** Entries missing by seq (counted as `lost`). */
  readonly lost: number;
  /** Torn lines skipped (counted as `spill_unreadable`). */
  readonly unreadable: number;
}

interface Segment {
  readonly id: number;
  /** `<prefix>-<epoch>-<n>`: name order is creation order, across epochs and lives too. */
  readonly name: string;
  /** Undefined: held in memory. */
  readonly path?: string;
  readonly columns: readonly string[];
  /** Bytes of the header line. */
  readonly dataStart: number;
  size: number;
  fd?: number;
  dirty: boolean;
  syncing: boolean;
  retired: boolean;
  readonly memory?: Buffer[];
}

export class Journal {
  readonly dir: string;
  readonly columns: readonly string[];
  /** Found at start; the caller counts and logs it. */
  readonly recovery: JournalRecovery;

  private readonly prefix: string;
  private readonly budget: DiskBudget;
  private readonly events: JournalEvents;
  private readonly segmentBytes: number;
  private readonly memoryLimitBytes: number;
  private readonly diskRetryMs: number;
  private readonly header: Buffer;
  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private headOffset = 0;
  private nextId = 0;
  /** The current epoch (ms); its entries' seqs are `epoch << 20` plus `counter`. */
  private epoch: number;
  private counter = 0;
  private segmentCounter = 0;
  private backlog = 0;
  private pending: string[] = [];
  private waiters: Array<() => void> = [];
  private flushScheduled = false;
  private diskFailure: Error | undefined;
  private lastDiskAttempt = 0;
  private readonly syncTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lockFile: string | undefined;
  private readonly checkpoints: CheckpointFile;
  /**
   * What file reads go into, grown as needed. A new buffer per read (about 1 MB five times a second under load)
   * was external memory, and it made V8 run a full mark-compact every 2-3 s; with one buffer there were none.
   */
  private readBuffer: Buffer | undefined;

  constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.prefix = options.prefix;
    this.columns = options.columns;
    this.budget = options.budget;
    this.events = options.events;
    this.segmentBytes = options.segmentBytes ?? 8 << 20;
    this.memoryLimitBytes = options.memoryLimitBytes ?? 64 << 20;
    this.diskRetryMs = options.diskRetryMs ?? 10_000;
    this.header = Buffer.from(`${MAGIC}\t${this.columns.join(",")}\n`);
    this.flush = this.flush.bind(this);
    // Segment names start with the prefix and go into the checkpoint's fixed-size slots.
    if (!/^[a-z][a-z0-9_-]{0,63}$/.test(this.prefix)) throw new Error(`journal prefix "${this.prefix}": use 1-64 lower-case letters, digits, '-' or '_'`);
    this.checkpoints = new CheckpointFile(join(this.dir, `${this.prefix}.checkpoint`));
    this.diskFailure = probeDirectory(this.dir) ?? this.lock();
    const found = this.diskFailure?.message.includes("in use by") ? { recovery: { rows: 0, segments: 0, lost: 0, unreadable: 0 }, lastEpoch: 0 } : this.recover();
    this.recovery = found.recovery;
    // Above every earlier epoch even if the clock stepped back, so names and seqs keep their order.
    this.epoch = Math.max(Date.now(), found.lastEpoch + 1);
    this.budget.add(this);
    const fsyncMs = options.fsyncIntervalMs ?? 1000;
    if (fsyncMs > 0) {
      this.syncTimer = setInterval(() => this.syncActive(), fsyncMs);
      this.syncTimer.unref();
    }
  }

  /** Queues one line (its fields without the seq, in `columns` order); it is written once the running microtasks have run. */
  append(line: string): void {
    this.pending.push(line);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Not setImmediate: holding every answer until the check phase made the loop answer in waves and the
      // micro-batches smaller (27 records instead of 37 at 64 connections), costing more than the write itself.
      queueMicrotask(this.flush);
    }
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Calls back once every line queued so far is written (or dropped and counted). */
  whenWritten(callback: () => void): void {
    if (this.pending.length === 0) callback();
    else this.waiters.push(callback);
  }

  /** Writes the queued lines now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length > 0) {
      const lines = this.pending;
      this.pending = [];
      this.store(lines);
      // After close (a request that finished late): a segment of its own, closed at once, for the next start.
      if (this.closed && this.active) this.retire(this.active);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private readSpace(length: number): Buffer {
    if (!this.readBuffer || this.readBuffer.length < length) this.readBuffer = Buffer.allocUnsafe(Math.max(length, 1 << 20));
    return this.readBuffer;
  }

  /** Entries stored and not yet committed by the sink. */
  get backlogRows(): number {
    return this.backlog;
  }

  get backlogBytes(): number {
    let bytes = 0;
    for (const [i, segment] of this.segments.entries()) bytes += segment.size - (i === 0 ? this.headOffset : segment.dataStart);
    return bytes;
  }

  /** Bytes of this journal's segment files. */
  get diskBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) if (segment.path) bytes += segment.size;
    return bytes;
  }

  get memoryBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) if (!segment.path) bytes += segment.size;
    return bytes;
  }

  /** Undefined while the directory takes writes; otherwise why not (entries then wait in memory). */
  get failure(): Error | undefined {
    return this.diskFailure;
  }

  /** Where the first entry not yet committed is. */
  get start(): JournalPosition {
    const head = this.segments[0];
    return head ? { segment: head.id, offset: Math.max(this.headOffset, head.dataStart) } : { segment: this.nextId, offset: 0 };
  }

  /** Just after the last stored entry. */
  get end(): JournalPosition {
    const last = this.segments.at(-1);
    return last ? { segment: last.id, offset: last.size } : { segment: this.nextId, offset: 0 };
  }

  /**
   * Complete lines from `from` on, at most maxRows of them and about maxBytes (more only when one line is
   * longer), from one segment; undefined when everything up to the end has been read.
   */
  async read(from: JournalPosition, maxBytes: number, maxRows: number): Promise<JournalChunk | undefined> {
    let index = this.segments.findIndex((s) => s.id >= from.segment);
    if (index < 0) return undefined;
    let segment = this.segments[index]!;
    let offset = segment.id === from.segment ? Math.max(from.offset, segment.dataStart) : segment.dataStart;
    while (offset >= segment.size) {
      segment = this.segments[++index]!;
      if (!segment) return undefined;
      offset = segment.dataStart;
    }
    let want = Math.min(Math.max(1, maxBytes), segment.size - offset);
    for (;;) {
      const data = await readRange(segment, offset, want, (length) => this.readSpace(length));
      const { bytes, rows } = cutLines(data, maxRows);
      if (rows === 0) {
        if (want >= segment.size - offset) return undefined; // cannot happen: every write ends with a newline
        want = Math.min(want * 2, segment.size - offset); // one line longer than maxBytes
        continue;
      }
      const lines = data.subarray(0, bytes);
      return {
        data: lines,
        rows,
        columns: segment.columns,
        start: { segment: segment.id, offset },
        end: { segment: segment.id, offset: offset + bytes },
        firstSeq: seqOfLine(lines, 0),
        lastSeq: seqOfLine(lines, lines.lastIndexOf(NEWLINE, lines.length - 2) + 1),
      };
    }
  }

  /** The sink has everything before `to` (rows entries, the last with lastSeq): drop it from the backlog. */
  commit(to: JournalPosition, rows: number, lastSeq: string): void {
    while (this.segments[0] && this.segments[0].id < to.segment) this.removeHead();
    this.headOffset = to.offset;
    const head = this.segments[0];
    if (head && to.offset >= head.size && head !== this.active) {
      this.removeHead();
      this.headOffset = this.segments[0]?.dataStart ?? 0;
    }
    this.backlog = Math.max(0, this.backlog - rows);
    const now = this.segments[0];
    if (now) this.checkpoints.write({ segment: now.name, offset: Math.max(this.headOffset, now.dataStart), lastSeq });
  }

  /** After a read found nothing from the start on: the backlog is empty, whatever the count said. True if it was off. */
  reconcile(): boolean {
    const start = this.start;
    const end = this.end;
    const empty = start.segment > end.segment || (start.segment === end.segment && start.offset >= end.offset) || this.backlogBytes === 0;
    if (!empty || this.backlog === 0) return false;
    this.backlog = 0;
    return true;
  }

  /** Writes what is queued, syncs the segment file and stops the timer. The files stay for the next start. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // Entries held in memory (the directory failing) end with the process: counted now, they cannot be kept.
    const inMemory = this.memoryBacklogRows();
    if (inMemory > 0) this.events.dropped("spill_write_failed", inMemory);
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const segment of this.segments) {
      if (segment.fd !== undefined) {
        try {
          fdatasyncSync(segment.fd);
        } catch {
          // the data is in the page cache; only a machine crash could still lose it
        }
      }
      segment.syncing = false;
      this.retire(segment);
    }
    this.checkpoints.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }

  /** After close(): lines are written at once (a request that finished late still reaches the disk). */
  get isClosed(): boolean {
    return this.closed;
  }

  private memoryBacklogRows(): number {
    let rows = 0;
    for (const [i, segment] of this.segments.entries()) {
      if (segment.path) continue;
      const data = sliceChunks(segment.memory!, i === 0 ? this.headOffset : 0, segment.size);
      for (let p = data.indexOf(NEWLINE); p !== -1; p = data.indexOf(NEWLINE, p + 1)) rows++;
    }
    return rows;
  }

  private store(lines: readonly string[]): void {
    for (let from = 0; from < lines.length; ) {
      if (this.counter === EPOCH_ENTRIES) this.newEpoch();
      const room = EPOCH_ENTRIES - this.counter;
      const part = from === 0 && lines.length <= room ? lines : lines.slice(from, from + room);
      this.storeInEpoch(part);
      from += part.length;
    }
  }

  /** A new seq range above the current one, in new segments (recovery checks each line against its segment's epoch). */
  private newEpoch(): void {
    this.epoch = Math.max(Date.now(), this.epoch + 1);
    this.counter = 0;
    if (this.active) this.retire(this.active);
  }

  /** Stores lines that fit in the current epoch. */
  private storeInEpoch(lines: readonly string[]): void {
    const text = this.withSeqs(lines);
    const bytes = Buffer.byteLength(text);
    if (this.diskFailure === undefined || this.retryDisk()) {
      if (this.budget.used() + bytes > this.budget.limitBytes) {
        this.events.dropped("spill_full", lines.length);
        return;
      }
      try {
        this.appendToFile(text, bytes);
        this.stored(lines.length);
        return;
      } catch (error) {
        this.diskFailed(error as Error);
      }
    }
    if (this.memoryBytes + bytes > this.memoryLimitBytes) {
      this.events.dropped("spill_write_failed", lines.length);
      return;
    }
    this.appendToMemory(Buffer.from(text));
    this.stored(lines.length);
  }

  /** The lines with the next seqs appended, as one text. Seqs are written as decimal digits kept in two parts (no BigInt per line). */
  private withSeqs(lines: readonly string[]): string {
    const first = (BigInt(this.epoch) << SEQ_SHIFT) + BigInt(this.counter);
    let high = first / TEN_7;
    let low = Number(first % TEN_7);
    let prefix = String(high);
    let text = "";
    for (const line of lines) {
      text += `${line}\t${prefix}${String(low).padStart(7, "0")}\n`;
      if (++low === 10_000_000) {
        prefix = String(++high);
        low = 0;
      }
    }
    return text;
  }

  private stored(rows: number): void {
    this.backlog += rows;
    this.counter += rows;
    this.events.stored(rows);
  }

  /** Appends `bytes` bytes of text. The string is written as it is: a Buffer of it would be external memory V8 collects with full GCs. */
  private appendToFile(text: string, bytes: number): void {
    let segment = this.active;
    if (!segment?.path || segment.retired || segment.size >= this.segmentBytes) segment = this.newFileSegment();
    let written = 0;
    try {
      written = writeSync(segment.fd!, text);
      if (written < bytes) {
        const data = Buffer.from(text); // a short write (a disk filling up): the rest by byte offset, or its error
        while (written < bytes) written += writeSync(segment.fd!, data, written);
      }
    } catch (error) {
      // A partial line must not stay: readers stop at segment.size, and the next append goes elsewhere.
      if (written > 0) {
        try {
          ftruncateSync(segment.fd!, segment.size);
        } catch {
          // segment.size still bounds what is read
        }
      }
      this.retire(segment);
      throw error;
    }
    segment.size += bytes;
    segment.dirty = true;
  }

  private newFileSegment(): Segment {
    const name = this.segmentName();
    const path = join(this.dir, `${name}.journal`);
    const fd = openSync(path, "a");
    try {
      writeAll(fd, this.header);
    } catch (error) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw error;
    }
    if (this.active) this.retire(this.active);
    const segment: Segment = { id: this.nextId++, name, path, columns: this.columns, dataStart: this.header.length, size: this.header.length, fd, dirty: true, syncing: false, retired: false };
    this.segments.push(segment);
    this.active = segment;
    return segment;
  }

  private appendToMemory(data: Buffer): void {
    let segment = this.active;
    if (!segment || segment.path || segment.retired) {
      if (segment) this.retire(segment);
      segment = { id: this.nextId++, name: this.segmentName(), columns: this.columns, dataStart: 0, size: 0, dirty: false, syncing: false, retired: false, memory: [] };
      this.segments.push(segment);
      this.active = segment;
    }
    segment.memory!.push(data);
    segment.size += data.length;
  }

  private segmentName(): string {
    return `${this.prefix}-${String(this.epoch).padStart(15, "0")}-${String(this.segmentCounter++).padStart(6, "0")}`;
  }

  /** Stops appending to a segment; its last writes are synced (off the loop), then its file is closed. */
  private retire(segment: Segment): void {
    segment.retired = true;
    if (this.active === segment) this.active = undefined;
    if (segment.syncing) return; // closed when that sync ends
    if (segment.dirty && segment.fd !== undefined && !this.closed) return this.sync(segment);
    closeFd(segment);
  }

  private diskFailed(error: Error): void {
    this.diskFailure = error;
    this.lastDiskAttempt = Date.now();
    this.events.diskError(error);
  }

  /** While the directory fails: true when a retry (at most every diskRetryMs) finds it writable again. */
  private retryDisk(): boolean {
    if (Date.now() - this.lastDiskAttempt < this.diskRetryMs) return false;
    this.lastDiskAttempt = Date.now();
    const failure = probeDirectory(this.dir);
    if (failure) {
      this.diskFailure = failure;
      this.events.diskError(failure);
      return false;
    }
    this.diskFailure = undefined;
    this.events.diskRecovered();
    return true;
  }

  private syncActive(): void {
    this.checkpoints.sync();
    const segment = this.active;
    if (!segment || segment.fd === undefined || !segment.dirty || segment.syncing) return;
    this.sync(segment);
  }

  private sync(segment: Segment): void {
    if (!this.syncTimer) {
      // Write-back left to the kernel (PREDICTION_LOG_FSYNC_INTERVAL_MS=0).
      if (segment.retired) closeFd(segment);
      return;
    }
    segment.dirty = false;
    segment.syncing = true;
    fdatasync(segment.fd!, () => {
      segment.syncing = false;
      if (segment.retired) closeFd(segment);
    });
  }

  private removeHead(): void {
    const head = this.segments.shift()!;
    if (this.active === head) this.active = undefined;
    head.retired = true;
    if (!head.syncing) closeFd(head);
    if (head.path) {
      try {
        rmSync(head.path, { force: true });
      } catch {
        // A read-only directory: the checkpoint (when it can be written) says the segment is done.
      }
    }
    this.headOffset = this.segments[0]?.dataStart ?? 0;
  }

  /**
   * One process per journal directory: a second one (two services on one default spill directory) would replay
   * the first one's entries. A lock left by a process that is gone (killed) is taken over.
   */
  private lock(): Error | undefined {
    const path = join(this.dir, `${this.prefix}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, String(process.pid), { flag: "wx" });
        this.lockFile = path;
        return undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") return error as Error;
      }
      const holder = Number(readFileSync(path, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        return new Error(`${this.dir} is in use by process ${holder} (another service on the same spill directory)`);
      }
      rmSync(path, { force: true });
    }
    return new Error(`cannot lock ${this.dir}`);
  }

  /** Takes over the segments earlier lives left, checking them line by line (a machine crash can tear them). */
  private recover(): { recovery: JournalRecovery; lastEpoch: number } {
    const pattern = new RegExp(`^(${escapeRegExp(this.prefix)}-(\\d{15})-\\d{6})\\.journal$`);
    let names: Array<{ name: string; file: string; epoch: number }>;
    try {
      names = readdirSync(this.dir)
        .map((file) => pattern.exec(file))
        .filter((m) => m !== null)
        .map((m) => ({ file: m[0], name: m[1]!, epoch: Number(m[2]) }))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch {
      return { recovery: { rows: 0, segments: 0, lost: 0, unreadable: 0 }, lastEpoch: 0 };
    }
    const checkpoint = this.checkpoints.read();
    const scan = new SeqScan(checkpoint?.lastSeq);
    // The checkpoint's too: every segment may be deleted, and a clock stepped back must not reuse its seqs.
    let lastEpoch = checkpoint ? Number(BigInt(checkpoint.lastSeq) >> SEQ_SHIFT) : 0;
    let rows = 0;
    for (const { name, file, epoch } of names) {
      lastEpoch = Math.max(lastEpoch, epoch);
      const path = join(this.dir, file);
      if (checkpoint && name < checkpoint.segment) {
        rmSync(path, { force: true }); // fully written before the checkpoint
        continue;
      }
      const recovered = this.recoverSegment(path, name, epoch, checkpoint?.segment === name ? checkpoint.offset : 0, scan);
      if (recovered) {
        if (this.segments.length === 0) this.headOffset = recovered.start;
        this.segments.push(recovered.segment);
        rows += recovered.rows;
      }
    }
    scan.finish();
    this.backlog = rows;
    return { recovery: { rows, segments: this.segments.length, lost: scan.lost, unreadable: scan.unreadable }, lastEpoch };
  }

  private recoverSegment(
    path: string,
    name: string,
    epoch: number,
    checkpointOffset: number,
    scan: SeqScan,
  ): { segment: Segment; start: number; rows: number } | undefined {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      return undefined;
    }
    const headerEnd = data.indexOf(NEWLINE);
    const header = headerEnd < 0 ? "" : data.toString("utf8", 0, headerEnd);
    const [magic, fields] = header.split("\t");
    if (magic !== MAGIC || !fields) {
      // Torn at creation (the header and the first lines go in one write): what it held shows as a seq gap.
      if (data.length > 0) scan.invalid();
      rmSync(path, { force: true });
      return undefined;
    }
    const columns = fields.split(",");
    const dataStart = headerEnd + 1;
    const start = Math.max(dataStart, Math.min(checkpointOffset, data.length));
    const epochBits = BigInt(epoch);
    const valid: Array<[number, number]> = [];
    let position = start;
    while (position < data.length) {
      let end = data.indexOf(NEWLINE, position);
      if (end < 0) end = data.length; // a last line without its newline is torn
      const seq = end === data.length ? undefined : parseLine(data, position, end, columns.length);
      if (seq !== undefined && seq >> SEQ_SHIFT === epochBits) {
        scan.valid(seq);
        valid.push([position, end + 1]);
      } else {
        scan.invalid();
      }
      position = end + 1;
    }
    const torn = valid.length === 0 ? data.length > start : valid.reduce((sum, [a, b]) => sum + b - a, 0) !== data.length - start;
    let size = data.length;
    let first = start;
    if (torn) {
      // Keep only whole lines, so what the sinks read is exactly what was accepted.
      const repaired = Buffer.concat([data.subarray(0, dataStart), ...valid.map(([a, b]) => data.subarray(a, b))]);
      try {
        writeFileSync(`${path}.tmp`, repaired);
        renameSync(`${path}.tmp`, path);
      } catch {
        return undefined;
      }
      size = repaired.length;
      first = dataStart;
    }
    if (valid.length === 0) {
      rmSync(path, { force: true });
      return undefined;
    }
    const segment: Segment = { id: this.nextId++, name, path, columns, dataStart, size, dirty: false, syncing: false, retired: true };
    return { segment, start: first, rows: valid.length };
  }
}

/**
 * Counts entries missing from a journal by seq: within an epoch seqs have no holes, so a hole is lost entries,
 * less the torn lines found inside it (each torn line held at least one entry: counted as unreadable).
 */
class SeqScan {
  lost = 0;
  unreadable = 0;
  private previous: bigint | undefined;
  private invalidSincePrevious = 0;

  constructor(lastCommitted: string | undefined) {
    this.previous = lastCommitted === undefined ? undefined : BigInt(lastCommitted);
  }

  valid(seq: bigint): void {
    const epoch = seq >> SEQ_SHIFT;
    const expected = this.previous !== undefined && this.previous >> SEQ_SHIFT === epoch ? this.previous + 1n : epoch << SEQ_SHIFT;
    const gap = seq > expected ? Number(seq - expected) : 0;
    const torn = Math.min(gap, this.invalidSincePrevious);
    this.unreadable += torn;
    this.lost += gap - torn;
    this.invalidSincePrevious = 0;
    this.previous = seq;
  }

  invalid(): void {
    this.invalidSincePrevious++;
  }

  /** Torn lines after the last whole one: at least one entry each. */
  finish(): void {
    this.unreadable += this.invalidSincePrevious;
    this.invalidSincePrevious = 0;
  }
}

/** The seq of a whole line (field count, no NUL, numeric last field), or undefined for a torn one. */
function parseLine(data: Buffer, start: number, end: number, fields: number): bigint | undefined {
  const line = data.subarray(start, end);
  if (line.indexOf(0) !== -1) return undefined;
  let tabs = 0;
  let last = -1;
  for (let p = line.indexOf(TAB); p !== -1; p = line.indexOf(TAB, p + 1)) {
    tabs++;
    last = p;
  }
  if (tabs !== fields - 1) return undefined;
  const text = line.toString("latin1", last + 1);
  return /^\d{1,20}$/.test(text) ? BigInt(text) : undefined;
}

/** The seq (last field) of the line starting at `start`. */
function seqOfLine(data: Buffer, start: number): string {
  const end = data.indexOf(NEWLINE, start);
  const line = data.subarray(start, end < 0 ? data.length : end);
  return line.toString("latin1", line.lastIndexOf(TAB) + 1);
}

/** Bytes up to the end of the maxRows-th line, or of the last whole line. */
function cutLines(data: Buffer, maxRows: number): { bytes: number; rows: number } {
  let rows = 0;
  let bytes = 0;
  for (let p = data.indexOf(NEWLINE); p !== -1 && rows < maxRows; p = data.indexOf(NEWLINE, p + 1)) {
    rows++;
    bytes = p + 1;
  }
  return { bytes, rows };
}

async function readRange(segment: Segment, offset: number, length: number, space: (length: number) => Buffer): Promise<Buffer> {
  if (segment.memory) return sliceChunks(segment.memory, offset, length);
  const handle = await open(segment.path!, "r");
  try {
    const buffer = space(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(buffer, read, length - read, offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buffer.subarray(0, read);
  } finally {
    await handle.close();
  }
}

function sliceChunks(chunks: readonly Buffer[], offset: number, length: number): Buffer {
  const parts: Buffer[] = [];
  let position = 0;
  for (const chunk of chunks) {
    const chunkEnd = position + chunk.length;
    if (chunkEnd > offset && position < offset + length) {
      parts.push(chunk.subarray(Math.max(0, offset - position), Math.min(chunk.length, offset + length - position)));
    }
    position = chunkEnd;
    if (position >= offset + length) break;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function writeAll(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written);
}

function closeFd(segment: Segment): void {
  if (segment.fd === undefined) return;
  try {
    closeSync(segment.fd);
  } catch {
    // already closed
  }
  segment.fd = undefined;
}

/** Free space below which the directory counts as full. */
const MIN_FREE_BYTES = 64 << 10;

/** Why the directory cannot take the journal (not creatable, read-only, full), or undefined if it can. */
export function probeDirectory(dir: string): Error | undefined {
  const probe = join(dir, `.probe-${process.pid}`);
  try {
    makeDirectory(dir);
    writeFileSync(probe, "probe");
    rmSync(probe, { force: true });
    const stats = statfsSync(dir);
    const free = Number(stats.bavail) * Number(stats.bsize);
    if (free < MIN_FREE_BYTES) return Object.assign(new Error(`no space left in ${dir} (${free} bytes free)`), { code: "ENOSPC" });
    return undefined;
  } catch (error) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // a read-only directory
    }
    return error as Error;
  }
}

/** mkdir -p whose error names the real cause (a recursive mkdir on a read-only filesystem reports ENOENT). */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && existsSync(dirname(dir))) mkdirSync(dir);
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
