/** The logger the prediction log writes to (pino's child logger in the service, a memory logger in tests). */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * At most one line per key and interval, with how many were held back since the last one: a failing spill
 * disk or a flood of refused rows must not write a log line per entry (12,599 lines in 13 s before this).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  error(key: string, obj: object, msg: string): void {
    this.write("error", key, obj, msg);
  }

  warn(key: string, obj: object, msg: string): void {
    this.write("warn", key, obj, msg);
  }

  private write(level: "error" | "warn", key: string, obj: object, msg: string): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    this.log[level](seen?.suppressed ? { ...obj, suppressedSinceLastLine: seen.suppressed } : obj, msg);
  }
}
