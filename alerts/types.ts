/** Shapes of rules as Prometheus reads them, and the richer definitions they (and the runbooks) are made from. */
import type { Task } from "../service/src/contract";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly (AlertRule | RecordingRule)[];
}

export const isAlertRule = (rule: AlertRule | RecordingRule): rule is AlertRule => "alert" in rule;

/**
 * page: wakes someone up (only ModelNotLoaded: nothing is served). ticket: look at it in working hours.
 * Alertmanager routes on this label.
 */
export type Severity = "page" | "ticket";
export const SEVERITIES: readonly Severity[] = ["page", "ticket"];

/** Which runbook page an alert belongs to. */
export type RunbookPage = { readonly kind: "model"; readonly model: string } | { readonly kind: "platform" };

/** One alert with everything its rule, its runbook section and its tests are generated from. */
export interface AlertDefinition {
  readonly name: string;
  readonly severity: Severity;
  readonly expr: string;
  /** How long the condition must hold before the alert fires. */
  readonly for: string;
  /** One line, Go template allowed ({{ $labels.model }}). */
  readonly summary: string;
  /** Says the live value ({{ $value }}) against the threshold. */
  readonly description: string;
  /** Runbook: what the alert means and what to check first, in order. */
  readonly meaning: string;
  readonly firstSteps: readonly string[];
  /** Extra static labels (e.g. the service an alert belongs to, for inhibition). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Thresholds of one model's alerts; the runbook prints them as the service's SLOs. */
export interface ModelAlertThresholds {
  /** p99 prediction latency (seconds). @default 0.1 */
  readonly latencyP99Seconds: number;
  /** Share of inference requests answered 5xx. @default 0.01 */
  readonly errorRatio: number;
  /** binary: positive rate of the last hour vs the last day, in absolute points (0.10 = 10 points). @default 0.1 */
  readonly positiveRateShift: number;
  /** multiclass: largest change of one class's share of answers, last hour vs last day, in points. @default 0.1 */
  readonly classShareShift: number;
  /**
   * regression: largest gap between the last hour's and the last day's cumulative distribution of predicted
   * values, over the histogram's buckets (a binned Kolmogorov-Smirnov distance). @default 0.15
   */
  readonly valueDistributionShift: number;
  /** tensor: the same distance for the output norm's distribution. @default 0.15 */
  readonly outputNormShift: number;
  /** Answers an hour needs before its distribution is compared with the day's. @default 100 */
  readonly minHourlyPredictions: number;
  /** binary, multiclass: live hit rate (accuracy) below baseline * (1 - this). @default 0.1 */
  readonly hitRateRelativeDrop: number;
  /** regression: live mean absolute error above baseline MAE * (1 + this). @default 0.1 */
  readonly maeRelativeRise: number;
  /** Labelled predictions needed before hit rate or cost are judged. @default 100 */
  readonly minFeedback: number;
  /** Cost per labelled prediction (6 h) over this factor times its 7-day average. @default 1.5 */
  readonly businessCostFactor: number;
  /** Hours after which a missing drift run alerts. @default 26 (a daily job plus slack) */
  readonly driftStaleHours: number;
  /** Canary error ratio above the stable one by more than this (absolute). @default 0.01 */
  readonly canaryErrorRatioMargin: number;
  /** Canary p99 above this factor times the stable p99. @default 1.5 */
  readonly canaryLatencyFactor: number;
  /** Predictions each variant needs in 5 m before canary and stable are compared. @default 100 */
  readonly canaryMinPredictions: number;
  /** Connections one replica's HTTP layer closed for one reason in 15 minutes before it alerts. @default 10 */
  readonly connectionDrops15m: number;
}

export const DEFAULT_MODEL_THRESHOLDS: ModelAlertThresholds = {
  latencyP99Seconds: 0.1,
  errorRatio: 0.01,
  positiveRateShift: 0.1,
  classShareShift: 0.1,
  valueDistributionShift: 0.15,
  outputNormShift: 0.15,
  minHourlyPredictions: 100,
  hitRateRelativeDrop: 0.1,
  maeRelativeRise: 0.1,
  minFeedback: 100,
  businessCostFactor: 1.5,
  driftStaleHours: 26,
  canaryErrorRatioMargin: 0.01,
  canaryLatencyFactor: 1.5,
  canaryMinPredictions: 100,
  connectionDrops15m: 10,
};

export interface PlatformAlertThresholds {
  /** GPU core temperature (°C). @default 85 */
  readonly gpuTemperatureCelsius: number;
  /** Share of GPU framebuffer memory used. @default 0.95 */
  readonly gpuMemoryUsedRatio: number;
}

export const DEFAULT_PLATFORM_THRESHOLDS: PlatformAlertThresholds = {
  gpuTemperatureCelsius: 85,
  gpuMemoryUsedRatio: 0.95,
};

/** Where the runbooks are published; runbook_url = `${runbookBaseUrl}/${page}.md#${alert anchor}`. */
export const DEFAULT_RUNBOOK_BASE_URL = "https://github.com/modelport/modelport/blob/main/alerts/runbooks";

export interface AlertOptions {
  /** Base URL the runbook_url annotation points under. @default DEFAULT_RUNBOOK_BASE_URL (this repository's alerts/runbooks) */
  readonly runbookBaseUrl?: string;
  /** Overrides of the model alert thresholds. @default DEFAULT_MODEL_THRESHOLDS */
  readonly thresholds?: Partial<ModelAlertThresholds>;
  /** Overrides of the platform alert thresholds. @default DEFAULT_PLATFORM_THRESHOLDS */
  readonly platformThresholds?: Partial<PlatformAlertThresholds>;
}

/**
 * Everything one model's rules, dashboards and runbook are generated from: its task and its alert options, so
 * a panel's threshold line and runbook link are the rule's own.
 */
export interface ModelMonitoringOptions extends AlertOptions {
  /** What the model's outputs are: decides its quality alerts, prediction panels and feedback panels. @default "binary" */
  readonly task?: Task;
}

export const DEFAULT_TASK: Task = "binary";
