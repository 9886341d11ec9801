/**
 * Progress of a run: a bar redrawn in place on a terminal, one line every `intervalMs` otherwise (logs of a
 * Kubernetes Job), both from the same counts. Percent and ETA appear when the total is known (Parquet footers).
 */
export interface ProgressCounts {
  readonly read: number;
  readonly scored: number;
  readonly rejected: number;
}

export interface ProgressOptions {
  readonly stream: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
  /** Rows this run will read, when known. */
  readonly total?: number;
  /** Between progress lines when the stream is not a terminal. @default 10000 */
  readonly intervalMs?: number;
  readonly counts: () => ProgressCounts;
  readonly prefix?: string;
}

const TTY_REDRAW_MS = 200;
const BAR = 24;

export class Progress {
  private readonly timer: NodeJS.Timeout;
  private readonly started = performance.now();
  private readonly tty: boolean;
  private lastLength = 0;

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.stream.isTTY === true;
    this.timer = setInterval(() => this.draw(), this.tty ? TTY_REDRAW_MS : (options.intervalMs ?? 10_000));
    this.timer.unref();
  }

  /** Stops redrawing; a terminal gets its final state and a newline. */
  stop(): void {
    clearInterval(this.timer);
    if (this.tty) {
      this.draw();
      this.options.stream.write("\n");
    }
  }

  line(): string {
    const { read, scored, rejected } = this.options.counts();
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? read / seconds : 0;
    const total = this.options.total;
    const parts = [`${read.toLocaleString("en-US")}${total ? `/${total.toLocaleString("en-US")}` : ""} rows read`, `${scored.toLocaleString("en-US")} scored`, `${rejected.toLocaleString("en-US")} rejected`, `${Math.round(rate).toLocaleString("en-US")} rows/s`];
    if (total && rate > 0 && read < total) parts.push(`ETA ${Math.ceil((total - read) / rate)} s`);
    const share = total ? Math.min(1, read / total) : undefined;
    const bar = this.tty && share !== undefined ? `[${"#".repeat(Math.round(share * BAR)).padEnd(BAR, ".")}] ${(share * 100).toFixed(0).padStart(3)}% ` : share !== undefined ? `${(share * 100).toFixed(0)}% ` : "";
    return `${this.options.prefix ?? "score"}: ${bar}${parts.join(", ")}`;
  }

  private draw(): void {
    const text = this.line();
    if (!this.tty) {
      this.options.stream.write(`${text}\n`);
      return;
    }
    const width = this.options.stream.columns ?? 120;
    const shown = text.slice(0, Math.max(20, width - 1));
    this.options.stream.write(`\r${shown.padEnd(this.lastLength)}`);
    this.lastLength = shown.length;
  }
}
