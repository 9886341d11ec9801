/**
 * Builds the object-storage sink's Parquet files on a thread of their own: decoding a roll's journal lines and
 * encoding them (Snappy, statistics, row groups) took 10-13 µs of event-loop CPU per row, which /predict paid for
 * in throughput. The sink reads the journal and uploads on the event loop; this thread gets each chunk of lines
 * and gives back the finished files (their buffers transferred, not copied).
 */
import type { FinishedRoll, RollOptions, Taken } from "./parquet-roll";
import { WorkerClient } from "./worker-client";

/** The shared chunk buffer's first size: the sink's reads are up to 4 MiB. */
const MIN_SHARED_BYTES = 4 << 20;

export type EncoderRequest =
  | { readonly kind: "begin"; readonly options: RollOptions }
  | { readonly kind: "take"; readonly data: Uint8Array; readonly columns: readonly string[]; readonly last: string | undefined }
  | { readonly kind: "finish" };

export class ParquetEncoder {
  private readonly thread = new WorkerClient<EncoderRequest>("parquet-encoder-worker", "parquet encoder");
  private shared: Uint8Array | undefined;

  /** Starts a roll (the previous one's state, finished or not, is dropped). */
  begin(options: RollOptions): void {
    this.thread.post({ kind: "begin", options });
  }

  /**
   * Hands over a chunk of lines through memory shared with the thread, reused from chunk to chunk (the call is
   * answered before the next chunk is copied in, and the thread keeps no reference to it). Posting the journal's
   * Buffer instead cloned its whole read buffer with every chunk, and a fresh copy per chunk paid a page fault
   * for every 4 KiB of it: 12-20 ms of the event loop for each 2.7 MB chunk here, 1.5-1.8 µs a row.
   */
  take(data: Uint8Array, columns: readonly string[], last: string | undefined): Promise<Taken> {
    if (!this.shared || this.shared.length < data.length) this.shared = new Uint8Array(new SharedArrayBuffer(Math.max(data.length, MIN_SHARED_BYTES)));
    this.shared.set(data);
    return this.thread.call({ kind: "take", data: this.shared.subarray(0, data.length), columns, last });
  }

  finish(): Promise<FinishedRoll> {
    return this.thread.call({ kind: "finish" });
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
