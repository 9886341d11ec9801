/**
 * The object-storage sink's encoder thread: journal lines in, one Parquet file per partition out (read back with
 * the drift job's reader), a roll's range cut exactly at its last seq, refused rows named, and a thread that dies
 * mid-roll failing only that call: the next roll runs on a new thread.
 */
import { ParquetEncoder } from "../../service/src/prediction-log/parquet-encoder";
import { PREDICTION_LINE_COLUMNS, predictionLine } from "../../service/src/prediction-log/rows";
import { readParquet } from "../../service/src/drift/readers/parquet";
import { entry } from "./support";

const OPTIONS = { location: { bucket: "log", prefix: "p" }, stream: "predictions" as const, replica: "replica-a", rowGroupRows: 1000 };

function lines(from: number, count: number, hourOf: (i: number) => number = () => 5): Buffer {
  let text = "";
  for (let i = from; i < from + count; i++) {
    const e = { ...entry(i), createdAt: new Date(Date.UTC(2026, 11, 2, hourOf(i), 0, 0, i % 1000)) };
    text += `${predictionLine(e, "replica-a")}\t${1000 + i}\n`;
  }
  return Buffer.from(text);
}

async function rowsOf(body: Uint8Array): Promise<number> {
  let rows = 0;
  const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  for await (const group of readParquet(buffer)) rows += group.rows;
  return rows;
}

const encoders: ParquetEncoder[] = [];
afterEach(async () => {
  await Promise.all(encoders.splice(0).map((e) => e.close()));
});

it("encodes a roll's lines into one file per partition hour, on its own thread, cut at the recorded last seq", async () => {
  const encoder = new ParquetEncoder();
  encoders.push(encoder);
  encoder.begin(OPTIONS);
  const first = await encoder.take(lines(0, 3000, (i) => (i < 1500 ? 5 : 6)), PREDICTION_LINE_COLUMNS, undefined);
  expect(first).toMatchObject({ rows: 3000, firstSeq: "1000", lastSeq: "3999", reachedEnd: false });
  // A redo of a recorded range ends at its last seq even when the journal holds more.
  const second = await encoder.take(lines(3000, 100), PREDICTION_LINE_COLUMNS, "4049");
  expect(second).toMatchObject({ rows: 50, firstSeq: "4000", lastSeq: "4049", reachedEnd: true });
  expect(second.bytes).toBe(lines(3000, 50).length);
  const roll = await encoder.finish();
  expect(roll.rejected).toEqual([]);
  const keys = roll.files.map((f) => f.key).sort();
  expect(keys).toEqual([
    "p/predictions/model=flight-delay/version=3/date=2026-12-02/hour=05/replica-a-00000000000000001000.parquet",
    "p/predictions/model=flight-delay/version=3/date=2026-12-02/hour=06/replica-a-00000000000000001000.parquet",
  ]);
  const counts = await Promise.all(roll.files.map((f) => rowsOf(f.body)));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(3050);
});

it("names refused rows, and a thread that dies mid-roll fails that call only", async () => {
  const encoder = new ParquetEncoder();
  encoders.push(encoder);
  encoder.begin(OPTIONS);
  const bad = Buffer.from(lines(0, 2).toString().replace(/\t2026-12-02T05[^\t]*/, "\tnot a time"));
  await encoder.take(bad, PREDICTION_LINE_COLUMNS, undefined);
  const roll = await encoder.finish();
  expect(roll.rejected).toHaveLength(1);
  expect(roll.rejected[0]!.message).toMatch(/no partition time/);
  await expect(encoder.finish()).rejects.toThrow(/no roll begun/);

  encoder.begin(OPTIONS);
  const pending = encoder.take(lines(0, 200_000), PREDICTION_LINE_COLUMNS, undefined);
  await encoder.close();
  await expect(pending).rejects.toThrow(/parquet encoder thread exited/);
  encoder.begin(OPTIONS);
  await expect(encoder.take(lines(0, 10), PREDICTION_LINE_COLUMNS, undefined)).resolves.toMatchObject({ rows: 10 });
  expect((await encoder.finish()).files).toHaveLength(1);
});
