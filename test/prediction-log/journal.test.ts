/**
 * The local journal on real filesystems: lines written together in a microtask after the code that recorded them,
 * read back in order and deleted once committed; a restart takes over what a previous life left (a kill loses
 * nothing), counts what a crash tore or lost (seq gaps), caps its disk use by dropping and counting, and keeps
 * entries in memory while the directory is read-only or full (a real tmpfs where mounting is allowed).
 */
import { appendFileSync, readFileSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DiskBudget, Journal, type JournalEvents } from "../../service/src/prediction-log/journal";
import type { DropReason } from "../../service/src/prediction-log/metrics";
import { mountSmallDisk, smallDiskAvailable } from "../support/small-disk";
import { tempDir } from "./support";

const COLUMNS = ["id", "text", "seq"];

interface Recorder extends JournalEvents {
  readonly drops: Partial<Record<DropReason, number>>;
  readonly diskErrors: Error[];
  recovered: number;
}

function recorder(): Recorder {
  const drops: Partial<Record<DropReason, number>> = {};
  const diskErrors: Error[] = [];
  const r: Recorder = {
    drops,
    diskErrors,
    recovered: 0,
    stored: () => undefined,
    dropped: (reason, count) => void (drops[reason] = (drops[reason] ?? 0) + count),
    diskError: (error) => void diskErrors.push(error),
    diskRecovered: () => void r.recovered++,
  };
  return r;
}

function openJournal(dir: string, events = recorder(), options: { limit?: number; segmentBytes?: number; diskRetryMs?: number } = {}) {
  return new Journal({
    dir,
    prefix: "predictions",
    columns: COLUMNS,
    budget: new DiskBudget(options.limit ?? 1 << 30),
    events,
    segmentBytes: options.segmentBytes,
    fsyncIntervalMs: 0,
    diskRetryMs: options.diskRetryMs ?? 0,
  });
}

/** Reads and commits everything; returns the lines' fields. */
async function drain(journal: Journal, maxRows = 1000): Promise<string[][]> {
  const rows: string[][] = [];
  for (;;) {
    const chunk = await journal.read(journal.start, 1 << 20, maxRows);
    if (!chunk) return rows;
    const lines = chunk.data.toString().split("\n").filter(Boolean);
    expect(lines).toHaveLength(chunk.rows);
    rows.push(...lines.map((l) => l.split("\t")));
    journal.commit(chunk.end, chunk.rows, chunk.lastSeq);
  }
}

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".journal")).sort();
const turn = () => new Promise((resolve) => setImmediate(resolve));

it("writes a turn's lines in one go before its waiters run, reads them in seq order, deletes committed segments", async () => {
  const dir = tempDir("journal-");
  const journal = openJournal(dir, recorder(), { segmentBytes: 4096 });
  let written = false;
  for (let i = 0; i < 30; i++) journal.append(`${i}\ttext ${i}`);
  expect(journal.hasPending).toBe(true);
  journal.whenWritten(() => (written = true));
  expect(written).toBe(false);
  await turn();
  expect(written).toBe(true);
  for (let t = 1; t < 10; t++) {
    for (let i = t * 30; i < (t + 1) * 30; i++) journal.append(`${i}\ttext ${i}`);
    await turn();
  }
  expect(journal.backlogRows).toBe(300);
  expect(segments(dir).length).toBeGreaterThan(1); // rolled at 4 KiB

  const rows = await drain(journal, 70);
  expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 300 }, (_, i) => i));
  const seqs = rows.map((r) => BigInt(r[2]!));
  expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1n)).toBe(true);
  expect(journal.backlogRows).toBe(0);
  expect(segments(dir)).toHaveLength(1); // only the active one stays
  journal.close();
});

it("reads go into one buffer of the journal's (no new external memory per batch): a chunk is valid until the next read", async () => {
  const journal = openJournal(tempDir("journal-"));
  for (let i = 0; i < 100; i++) journal.append(`${i}\t${"x".repeat(100)}`);
  journal.flush();
  const first = (await journal.read(journal.start, 1 << 20, 50))!;
  const firstText = first.data.toString();
  expect(firstText.split("\n")[0]!.split("\t")[0]).toBe("0");
  const second = (await journal.read(first.end, 1 << 20, 50))!;
  expect(second.data.buffer).toBe(first.data.buffer);
  expect(second.data.toString().split("\n")[0]!.split("\t")[0]).toBe("50");
  expect(second.rows).toBe(50);
  expect(firstText.split("\n").filter(Boolean)).toHaveLength(50);
  journal.close();
});

it("lines recorded in one synchronous run share one write, made in a microtask: a batch's answers never wait for the check phase", async () => {
  const dir = tempDir("journal-");
  const writes: number[] = [];
  const journal = openJournal(dir, { ...recorder(), stored: (rows) => void writes.push(rows) });
  const fileText = () => segments(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("");
  // A batch resolving its requests: each continuation records its line, then its answer waits for the write.
  const answered: number[] = [];
  await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      await null;
      journal.append(`${i}	batch`);
      await null;
      journal.whenWritten(() => answered.push(i));
    }),
  );
  // Still inside the same macrotask (no setImmediate has run): every line is in the file, every answer released.
  expect(answered).toEqual([0, 1, 2, 3, 4]);
  expect(writes).toEqual([5]);
  expect(fileText().split("\n").filter((l) => /\tbatch\t\d+$/.test(l))).toHaveLength(5);
  expect(journal.hasPending).toBe(false);
  journal.close();
});

it("a restart takes over the uncommitted lines a killed process left, and continues their order", async () => {
  const dir = tempDir("journal-");
  const first = openJournal(dir);
  for (let i = 0; i < 50; i++) first.append(`${i}\ta`);
  first.flush();
  const chunk = (await first.read(first.start, 1 << 20, 20))!;
  first.commit(chunk.end, chunk.rows, chunk.lastSeq);
  // No close(): the process is gone as after SIGKILL.

  const events = recorder();
  const second = openJournal(dir, events);
  expect(second.recovery).toEqual({ rows: 30, segments: 1, lost: 0, unreadable: 0 });
  for (let i = 50; i < 60; i++) second.append(`${i}\tb`);
  second.flush();
  const rows = await drain(second);
  expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 40 }, (_, i) => i + 20));
  // The new life's seqs sort after the old one's.
  expect(BigInt(rows[30]![2]!) > BigInt(rows[29]![2]!)).toBe(true);
  expect(events.drops).toEqual({});
  second.close();
});

it("a life that stores more than 2^20 entries keeps every one across a kill: the counter never runs into the life bits", async () => {
  const dir = tempDir("journal-");
  const first = openJournal(dir);
  const total = (1 << 20) + 1000;
  // Flushes of 4,096 lines, the last one straddling the counter's 20 bits.
  for (let i = 0; i < total; ) {
    for (const end = Math.min(total, i + 4096); i < end; i++) first.append(`${i}	x`);
    first.flush();
  }
  // No close(): killed.
  const events = recorder();
  const second = openJournal(dir, events);
  expect(second.recovery).toMatchObject({ rows: total, lost: 0, unreadable: 0 });
  expect(events.drops).toEqual({});
  const rows = await drain(second, 100_000);
  expect(rows).toHaveLength(total);
  const seqs = rows.map((r) => BigInt(r[2]!));
  expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
  // Below PostgreSQL's bigint.
  expect(seqs.at(-1)! < 2n ** 63n).toBe(true);
  second.close();
}, 60_000);

it("counts what a machine crash took: a torn last line, a torn middle, lines missing by seq", async () => {
  const dir = tempDir("journal-");
  const first = openJournal(dir);
  for (let i = 0; i < 100; i++) first.append(`${i}\tsome text`);
  first.flush();
  first.close();
  const [file] = segments(dir);
  const path = join(dir, file!);
  const text = readFileSync(path, "utf8");
  const [header, ...lines] = text.split("\n").filter(Boolean);
  // Lines 10-14 vanished, line 40's page came back as zeros, and the file ends in a torn line.
  const damaged = [
    ...lines.slice(0, 10),
    ...lines.slice(15, 40),
    "\0".repeat(lines[40]!.length),
    ...lines.slice(41, 99),
  ];
  writeFileSync(path, `${header}\n${damaged.join("\n")}\n${lines[99]!.slice(0, 7)}`);

  const events = recorder();
  const second = openJournal(dir, events);
  // 5 missing (lost), line 40 torn (unreadable, it was one entry), the torn tail (unreadable).
  expect(second.recovery).toEqual({ rows: 93, segments: 1, lost: 5, unreadable: 2 });
  const rows = await drain(second);
  expect(rows).toHaveLength(93);
  expect(rows.every((r) => r.length === 3 && r[1] === "some text")).toBe(true);
  second.close();
});

it("drops (and counts) what exceeds the cap, without a seq gap the next start would count again", async () => {
  const dir = tempDir("journal-");
  const events = recorder();
  const journal = openJournal(dir, events, { limit: 4096 });
  let accepted = 0;
  for (let turnIndex = 0; turnIndex < 40; turnIndex++) {
    for (let i = 0; i < 5; i++) journal.append(`${turnIndex * 5 + i}\t${"x".repeat(40)}`);
    journal.flush();
  }
  accepted = journal.backlogRows;
  expect(accepted).toBeGreaterThan(0);
  expect(events.drops.spill_full).toBe(200 - accepted);
  expect(journal.diskBytes).toBeLessThanOrEqual(4096);
  // Once the sink catches up there is room again.
  await drain(journal);
  journal.append("after\tthe drain");
  journal.flush();
  expect(journal.backlogRows).toBe(1);
  journal.close();
  const restarted = openJournal(dir, recorder());
  expect(restarted.recovery).toMatchObject({ rows: 1, lost: 0, unreadable: 0 });
  restarted.close();
});

const disk = smallDiskAvailable() ? describe : describe.skip;
disk("on a real small or read-only filesystem (tmpfs)", () => {
  it("a full disk: entries wait in memory, nothing is dropped while that holds, the disk is used again when it has room", async () => {
    const small = mountSmallDisk(256 * 1024);
    try {
      // Fill the disk with something else, as another writer on the volume would.
      const filler = join(small.dir, "filler");
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(16 * 1024, 1));
      } catch {
        // ENOSPC: full
      }
      const events = recorder();
      const journal = openJournal(join(small.dir, "journal"), events);
      expect(journal.failure).toBeDefined(); // detected at start
      for (let i = 0; i < 100; i++) journal.append(`${i}\tkept in memory`);
      journal.flush();
      expect(journal.backlogRows).toBe(100);
      expect(journal.memoryBytes).toBeGreaterThan(0);
      expect(events.drops).toEqual({});

      truncateSync(filler, 0);
      for (let i = 100; i < 110; i++) journal.append(`${i}\ton disk again`);
      journal.flush();
      expect(events.recovered).toBe(1);
      expect(journal.failure).toBeUndefined();
      expect(journal.diskBytes).toBeGreaterThan(0);
      const rows = await drain(journal);
      expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 110 }, (_, i) => i));
      journal.close();
    } finally {
      small.unmount();
    }
  });

  it("read-only at start: detected (EROFS), entries held in memory, earlier lives' lines still read", async () => {
    const small = mountSmallDisk(1 << 20);
    try {
      const dir = join(small.dir, "journal");
      const before = openJournal(dir);
      before.append("0\ton disk");
      before.flush();
      before.close();
      small.readOnly();
      const events = recorder();
      const journal = openJournal(dir, events, { diskRetryMs: 60_000 });
      expect(journal.failure?.message).toMatch(/EROFS|read-only/);
      for (let i = 1; i <= 20; i++) journal.append(`${i}\tin memory`);
      journal.flush();
      expect(journal.backlogRows).toBe(21);
      const rows = await drain(journal);
      expect(rows.map((r) => r[1])).toEqual(["on disk", ...Array.from({ length: 20 }, () => "in memory")]);
      // Memory-held entries a kill takes at the end of a life leave no later line to show a gap: the spill
      // errors (counted) and readiness are what tell of them.
      expect(events.diskErrors.length).toBeGreaterThan(0);
    } finally {
      small.unmount();
    }
  });

  it("a disk that fills mid-life and frees up: the memory-held entries a kill then loses show as a seq gap at the next start", async () => {
    const small = mountSmallDisk(256 * 1024);
    try {
      const dir = join(small.dir, "journal");
      const events = recorder();
      const journal = openJournal(dir, events, { diskRetryMs: 0 });
      journal.append("0\tdisk");
      journal.flush();
      const filler = join(small.dir, "filler");
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(16 * 1024, 1));
      } catch {
        // ENOSPC: full
      }
      for (let i = 1; i <= 7; i++) journal.append(`${i}\tmemory ${"x".repeat(8 * 1024)}`);
      journal.flush();
      expect(journal.memoryBytes).toBeGreaterThan(0);
      expect(events.diskErrors[0]?.message).toMatch(/ENOSPC|no space/);
      truncateSync(filler, 0);
      journal.append("8\tdisk again");
      journal.flush();
      expect(events.recovered).toBe(1);
      // Killed now: the 7 in memory are lost; the lines before and after them are on disk.
      const next = openJournal(dir, recorder());
      expect(next.recovery).toEqual({ rows: 2, segments: 2, lost: 7, unreadable: 0 });
      next.close();
    } finally {
      small.unmount();
    }
  });
});

it("refuses, at construction, a prefix its segment names and checkpoint slots cannot hold, and leaves no file behind", () => {
  const dir = tempDir("journal-");
  const make = (prefix: string) => () =>
    new Journal({ dir, prefix, columns: COLUMNS, budget: new DiskBudget(1 << 20), events: recorder(), fsyncIntervalMs: 0 });
  for (const prefix of ["", "Predictions", "9lives", "a/b", "pré", "a".repeat(65)]) expect(make(prefix)).toThrow(/use 1-64 lower-case letters, digits, '-' or '_'/);
  expect(readdirSync(dir)).toEqual([]);
  const journal = make("a".repeat(64))();
  journal.close();
});
