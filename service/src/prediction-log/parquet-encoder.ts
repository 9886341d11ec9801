/**
 * Builds the object-storage sink's Parquet files on a thread of their own: decoding a roll's journal lines and
 * encoding them (Snappy, statistics, row groups) took 10-13 µs of event-loop CPU per row, which /predict paid for
 * in throughput. The sink reads the journal and uploads on the event loop; this thread gets each chunk of lines
 * and gives back the finished files (their buffers transferred, not copied).
 */
import type { FinishedRoll, RollOptions, Taken } from "./parquet-roll";
import { WorkerClient } from "./worker-client";

export type EncoderRequest =
  | { readonly kind: "begin"; readonly options: RollOptions }
  | { readonly kind: "take"; readonly data: Uint8Array; readonly columns: readonly string[]; readonly last: string | undefined }
  | { readonly kind: "finish" };

export class ParquetEncoder {
  private readonly thread = new WorkerClient<EncoderRequest>("parquet-encoder-worker", "parquet encoder");

  /** Starts a roll (the previous one's state, finished or not, is dropped). */
  begin(options: RollOptions): void {
    this.thread.post({ kind: "begin", options });
  }

  take(data: Uint8Array, columns: readonly string[], last: string | undefined): Promise<Taken> {
    return this.thread.call({ kind: "take", data, columns, last });
  }

  finish(): Promise<FinishedRoll> {
    return this.thread.call({ kind: "finish" });
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
