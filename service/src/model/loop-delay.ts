/**
 * Recent event-loop delay of this process, for deadline timers: a timer set for T fires at T plus however late
 * the loop runs, so a fallback meant to go out by the deadline must be scheduled that much earlier. One monitor
 * per process (the loop is shared by every batcher); its p99 over the last window is read on the hot path as a
 * plain number.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/** Sampling interval of the delay monitor (ms); Node records each interval in full, so it is subtracted. */
const RESOLUTION_MS = 5;
/** How often the p99 is recomputed, over the samples since the previous time. */
const WINDOW_MS = 500;

export interface LoopDelay {
  /** p99 of how late the loop ran over the last window, in ms (0 on an idle loop). */
  p99Ms(): number;
}

class LoopDelayMonitor implements LoopDelay {
  private readonly histogram: IntervalHistogram;
  private recentP99Ms = 0;
  private users = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  }

  p99Ms(): number {
    return this.recentP99Ms;
  }

  /** Starts sampling on first use; the returned function stops it once no user is left. */
  use(): () => void {
    if (this.users++ === 0) {
      this.histogram.enable();
      this.timer = setInterval(() => {
        this.recentP99Ms = this.histogram.count > 0 ? Math.max(0, this.histogram.percentile(99) / 1e6 - RESOLUTION_MS) : 0;
        this.histogram.reset();
      }, WINDOW_MS);
      this.timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) {
        clearInterval(this.timer);
        this.histogram.disable();
        this.histogram.reset();
        this.recentP99Ms = 0;
      }
    };
  }
}

let shared: LoopDelayMonitor | undefined;

/** The process-wide monitor, started until `release` is called (reference-counted). */
export function processLoopDelay(): { delay: LoopDelay; release: () => void } {
  shared ??= new LoopDelayMonitor();
  return { delay: shared, release: shared.use() };
}
