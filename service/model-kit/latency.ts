/** ORT call latency per batch size, measured the way the service calls it (one session.run per batch). */
import type { InferenceSession } from "onnxruntime-node";
import type { ColumnSpec } from "../src/model/mlmodel";
import { PROBABILITIES_OUTPUT } from "./flight-delay-model";
import { columnFeeds } from "./onnx-scoring";

export interface BatchLatency {
  readonly batch: number;
  /** Median wall time of one session.run, microseconds. */
  readonly callMicros: number;
  readonly rowMicros: number;
}

/** Runs each batch size for about `secondsPerBatch` (after a warm-up) and reports the median call. */
export async function measureLatency(
  session: InferenceSession,
  columns: readonly ColumnSpec[],
  records: readonly Readonly<Record<string, unknown>>[],
  batches: readonly number[],
  fetches: readonly string[] = [PROBABILITIES_OUTPUT],
  secondsPerBatch = 0.5,
): Promise<BatchLatency[]> {
  const results: BatchLatency[] = [];
  for (const batch of batches) {
    const rows = Array.from({ length: batch }, (_, i) => records[i % records.length]);
    const feeds = columnFeeds(columns, rows);
    const names = [...fetches];
    for (let i = 0; i < 5; i++) await session.run(feeds, names);
    const samples: number[] = [];
    const deadline = performance.now() + secondsPerBatch * 1000;
    while (samples.length < 20 || (performance.now() < deadline && samples.length < 100_000)) {
      const start = process.hrtime.bigint();
      await session.run(feeds, names);
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    samples.sort((a, b) => a - b);
    const callMicros = samples[Math.floor(samples.length / 2)];
    results.push({ batch, callMicros: Number(callMicros.toFixed(1)), rowMicros: Number((callMicros / batch).toFixed(2)) });
  }
  return results;
}
