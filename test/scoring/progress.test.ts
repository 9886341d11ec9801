/** Progress: a bar redrawn in place on a terminal, plain lines otherwise, from the same counts. */
import { Writable } from "node:stream";
import { Progress } from "../../service/src/scoring/progress";

function stream(isTTY: boolean) {
  const chunks: string[] = [];
  const s = new Writable({ write: (chunk, _enc, done) => (chunks.push(String(chunk)), done()) }) as Writable & { isTTY: boolean; columns: number };
  s.isTTY = isTTY;
  s.columns = 200;
  return { s, chunks };
}

test("a line says rows read of the total, scored, rejected, the rate and what is left", () => {
  const { s } = stream(false);
  const counts = { read: 250_000, scored: 249_990, rejected: 10 };
  const progress = new Progress({ stream: s, total: 1_000_000, counts: () => counts });
  const line = progress.line();
  progress.stop();
  expect(line).toMatch(/^score: 25% 250,000\/1,000,000 rows read, 249,990 scored, 10 rejected, [\d,]+ rows\/s, ETA \d+ s$/);
});

test("without a known total (text inputs) there is no percentage; a terminal gets a bar, redrawn with \\r, and a final newline", () => {
  const { s } = stream(false);
  expect(new Progress({ stream: s, counts: () => ({ read: 5, scored: 5, rejected: 0 }) }).line()).toMatch(/^score: 5 rows read, 5 scored, 0 rejected/);
  const tty = stream(true);
  const progress = new Progress({ stream: tty.s, total: 10, counts: () => ({ read: 5, scored: 4, rejected: 1 }) });
  progress.stop();
  expect(tty.chunks[0]).toMatch(/^\rscore: \[#{12}\.{12}\]  50% 5\/10 rows read/);
  expect(tty.chunks.at(-1)).toBe("\n");
});
