/** Online drift settings (ONLINE_DRIFT_*), their defaults, and why they are what they are (README "Online drift"). */
export interface OnlineDriftSettings {
  /** Values per feature in a tested window; 0 turns online drift off. */
  readonly window: number;
  /** Expected windows between false alarms on traffic that has not drifted (per replica and version). */
  readonly falseAlarmWindows: number;
  /** Shortest time between two evaluations (a busy replica fills windows faster than it needs to test them). */
  readonly intervalMs: number;
}

export const DEFAULT_ONLINE_DRIFT: OnlineDriftSettings = {
  window: 1000,
  falseAlarmWindows: 10_000,
  // Evaluations cost CPU and false alarms per second, not per window: every 10 s, a replica at any traffic tests
  // at most 8,640 windows a day (under one false alarm a day at the default calibration, where every second
  // gave ~9), and the evaluator's share of a saturated core stays well under 1% (every second it took 5-7%).
  intervalMs: 10_000,
};
