/**
 * The journal's checkpoint file on a real filesystem: two slots written in turn in place (no rename, no new
 * file), the newer whole slot wins, a slot torn by a crash falls back to the checkpoint before it, and a
 * checkpoint of the earlier format (the JSON alone) is still read, by the file and by a journal taking it over.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CheckpointFile } from "../../service/src/prediction-log/checkpoint-file";
import { DiskBudget, Journal } from "../../service/src/prediction-log/journal";
import { tempDir } from "./support";

const at = (n: number) => ({ segment: `predictions-${String(1796000000000 + n).padStart(15, "0")}-000001`, offset: 100 * n, lastSeq: String(1_000_000 + n) });

function tear(path: string, slot: number): void {
  const data = readFileSync(path);
  data.write("{\"n\":9", slot * 512, "latin1"); // the start of a newer write, the rest of the slot still the old one
  writeFileSync(path, data);
}

it("reads back the newest of its writes, made in place in two alternating slots", () => {
  const path = join(tempDir("checkpoint-"), "predictions.checkpoint");
  const file = new CheckpointFile(path);
  expect(file.read()).toBeUndefined();
  file.write(at(1));
  const inode = statSync(path).ino;
  for (let n = 2; n <= 7; n++) file.write(at(n));
  file.close();
  expect(statSync(path).ino).toBe(inode);
  expect(statSync(path).size).toBeLessThanOrEqual(1024);
  expect(new CheckpointFile(path).read()).toEqual(at(7));
});

it("a slot torn by a crash mid-write: the checkpoint before it is read, and the next write does not overwrite that one", () => {
  const path = join(tempDir("checkpoint-"), "predictions.checkpoint");
  const file = new CheckpointFile(path);
  for (let n = 1; n <= 4; n++) file.write(at(n)); // n = 4 is in slot 0, n = 3 in slot 1
  file.close();
  tear(path, 0);
  const reopened = new CheckpointFile(path);
  expect(reopened.read()).toEqual(at(3));
  reopened.write(at(5)); // goes to slot 0 (the torn one), keeping 3 in slot 1
  tear(path, 0);
  expect(new CheckpointFile(path).read()).toEqual(at(3));
  tear(path, 1);
  expect(new CheckpointFile(path).read()).toBeUndefined();
});

it("a checkpoint of the earlier format (its JSON alone) is read, and replaced by slots at the next write", () => {
  const path = join(tempDir("checkpoint-"), "predictions.checkpoint");
  writeFileSync(path, JSON.stringify(at(1)));
  const file = new CheckpointFile(path);
  expect(file.read()).toEqual(at(1));
  file.write(at(2));
  expect(new CheckpointFile(path).read()).toEqual(at(2));
  file.write(at(3));
  file.close();
  expect(new CheckpointFile(path).read()).toEqual(at(3));
});

it("a journal left by the earlier release (checkpoint in the earlier format) replays from that checkpoint, and commits in place", async () => {
  const dir = tempDir("journal-");
  const open = () =>
    new Journal({ dir, prefix: "predictions", columns: ["id", "seq"], budget: new DiskBudget(1 << 30), events: { stored: () => undefined, dropped: () => undefined, diskError: () => undefined, diskRecovered: () => undefined }, fsyncIntervalMs: 0 });
  const first = open();
  for (let i = 0; i < 30; i++) first.append(String(i));
  first.flush();
  const chunk = (await first.read(first.start, 1 << 20, 10))!;
  first.commit(chunk.end, chunk.rows, chunk.lastSeq);
  // Rewritten as the earlier release wrote it: the same checkpoint, as its JSON alone.
  const path = join(dir, "predictions.checkpoint");
  const current = new CheckpointFile(path).read()!;
  writeFileSync(path, JSON.stringify(current));
  // No close(): killed.
  const second = open();
  expect(second.recovery).toMatchObject({ rows: 20, lost: 0, unreadable: 0 });
  const rest = (await second.read(second.start, 1 << 20, 100))!;
  expect(rest.data.toString().split("\n")[0]!.split("\t")[0]).toBe("10");
  const inode = statSync(path).ino;
  second.commit(rest.end, rest.rows, rest.lastSeq);
  expect(statSync(path).ino).toBe(inode);
  second.close();
  expect(open().recovery).toMatchObject({ rows: 0, lost: 0 });
});
