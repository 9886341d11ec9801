/**
 * promtool unit-test cases for every alert: input series as the service, the drift job and DCGM would expose
 * them, the moment of evaluation, and the exact alerts (labels and rendered annotations) expected then. Each
 * alert has at least one case where it fires and one close call where it must stay silent.
 */
import { DCGM_METRICS, DRIFT_JOB_NAME, GRPC_METHODS, METRICS, ROUTES } from "../../service/src/contract";

export const MODEL = "flight-delay";

export interface Series {
  readonly series: string;
  /** promtool expanding notation: "0+10x30", "1 0 1", "_x5 1x10". */
  readonly values: string;
}
export interface ExpectedAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly summary: string;
  readonly description: string;
}
export interface RuleCase {
  readonly name: string;
  readonly alert: string;
  /** The model whose rules (and runbook page) the case tests. @default MODEL (a binary classifier) */
  readonly model?: string;
  /** Sample spacing of the input series. @default "1m" */
  readonly interval?: string;
  /** Rule evaluation interval (long windows are tested at a coarser step). @default "1m" */
  readonly evaluationInterval?: string;
  readonly series: readonly Series[];
  readonly evalTime: string;
  /** Empty: the alert must not fire at evalTime. */
  readonly expected: readonly ExpectedAlert[];
}

export const series = (metric: string, labels: Record<string, string>, values: string): Series => ({
  series: `${metric}{${Object.entries(labels).map(([name, value]) => `${name}="${value}"`).join(",")}}`,
  values,
});

// One replica per variant, as Kubernetes service discovery labels them.
export const stablePod = { namespace: "prod", job: "flight-delay", instance: "10.0.0.1:8080", pod: "flight-delay-stable-1" };
export const canaryPod = { namespace: "prod", job: "flight-delay", instance: "10.0.0.2:8080", pod: "flight-delay-canary-1" };
const stable = { ...stablePod, model: MODEL, variant: "stable" };
const canary = { ...canaryPod, model: MODEL, variant: "canary" };
const stableV3 = { ...stable, version: "3" };
const canaryV4 = { ...canary, version: "4" };
const pushed = { job: DRIFT_JOB_NAME, instance: "", model: MODEL };
const gpu0 = { job: "dcgm", instance: "10.0.1.5:9400", Hostname: "gpu-node-1", gpu: "0", UUID: "GPU-0aa1", modelName: "NVIDIA A10G" };

/** Latency histogram whose observations all fall in the bucket ending at `le` (cumulative buckets). */
function latencyHistogram(labels: Record<string, string>, le: string, perMinute: number, minutes: number): Series[] {
  const bounds = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
  return [
    ...bounds.map((bound) =>
      series(`${METRICS.predictionLatencySeconds}_bucket`, { ...labels, le: bound }, Number(bound) >= Number(le) || bound === "+Inf" ? `0+${perMinute}x${minutes}` : `0x${minutes}`),
    ),
    series(`${METRICS.predictionLatencySeconds}_count`, labels, `0+${perMinute}x${minutes}`),
  ];
}

function predictions(labels: Record<string, string>, perMinute: { positive: number; negative: number }, minutes: number): Series[] {
  return [
    series(METRICS.predictionsTotal, { ...labels, outcome: "positive" }, `0+${perMinute.positive}x${minutes}`),
    series(METRICS.predictionsTotal, { ...labels, outcome: "negative" }, `0+${perMinute.negative}x${minutes}`),
  ];
}

function http(pod: Record<string, string>, perMinute: { ok: number; errors: number }, minutes: number, route: string = ROUTES.predict): Series[] {
  return [
    series(METRICS.httpRequestsTotal, { ...pod, method: "POST", route, status_code: "200" }, `0+${perMinute.ok}x${minutes}`),
    series(METRICS.httpRequestsTotal, { ...pod, method: "POST", route, status_code: "500" }, `0+${perMinute.errors}x${minutes}`),
  ];
}

const loaded = (labels: Record<string, string>, values: string) => series(METRICS.modelLoaded, labels, values);

export const DAY = 1440;
/** Per-replica alerts keep namespace, model, variant, pod and instance (not the scrape job). */
const replicaOf = ({ job: _job, ...rest }: Record<string, string>) => rest;

export const RULE_CASES: RuleCase[] = [
  // --- ModelNotLoaded ------------------------------------------------------------------------------------------
  {
    name: "pages when no stable replica has a model for 5 minutes",
    alert: "ModelNotLoaded",
    series: [loaded(stable, "0x10"), loaded({ ...stable, instance: "10.0.0.3:8080", pod: "flight-delay-stable-2" }, "0x10")],
    evalTime: "6m",
    expected: [
      {
        labels: { severity: "page", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay: no replica has a model loaded, predictions are failing",
        description:
          "No replica of flight-delay (stable) has had a model loaded and warmed for 5 minutes. Requests get 503 or the configured fallback.",
      },
    ],
  },
  {
    name: "pages when no replica exports model_loaded at all",
    alert: "ModelNotLoaded",
    series: [series("up", { job: "other" }, "1x10")],
    evalTime: "6m",
    expected: [
      {
        labels: { severity: "page", model: MODEL },
        summary: "flight-delay: no replica has a model loaded, predictions are failing",
        description:
          "No replica of flight-delay has had a model loaded and warmed for 5 minutes: no replica exports model_loaded at all. Requests get 503 or the configured fallback.",
      },
    ],
  },
  {
    name: "stays silent while one replica still serves, or only the shadow is unloaded",
    alert: "ModelNotLoaded",
    series: [
      loaded(stable, "1x10"),
      loaded({ ...stable, instance: "10.0.0.3:8080", pod: "flight-delay-stable-2" }, "0x10"),
      loaded({ ...stable, variant: "shadow" }, "0x10"),
    ],
    evalTime: "8m",
    expected: [],
  },
  {
    name: "stays silent during a load shorter than 5 minutes",
    alert: "ModelNotLoaded",
    series: [loaded(stable, "0 0 0 1x10")],
    evalTime: "6m",
    expected: [],
  },
  // --- HighLatency ---------------------------------------------------------------------------------------------
  {
    name: "fires when p99 stays above 100 ms for 5 minutes",
    alert: "HighLatency",
    series: latencyHistogram(stableV3, "0.25", 600, 20),
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: p99 prediction latency 248.5ms over 100ms",
        description: "p99 prediction latency (batch queueing included) of flight-delay (stable) in prod has been above 100ms for 5 minutes: now 248.5ms.",
      },
    ],
  },
  {
    name: "stays silent when p99 is below 100 ms",
    alert: "HighLatency",
    series: latencyHistogram(stableV3, "0.05", 600, 20),
    evalTime: "15m",
    expected: [],
  },
  // --- HighErrorRate -------------------------------------------------------------------------------------------
  {
    name: "fires when 10% of inference requests fail",
    alert: "HighErrorRate",
    series: [...http(stablePod, { ok: 540, errors: 60 }, 20), loaded(stable, "1x20")],
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: 10% of inference requests fail with 5xx",
        description:
          "10% of requests to the inference routes of flight-delay (stable) in prod were answered 5xx over 5 minutes (threshold 1%). 503s from load shedding count: callers saw them.",
      },
    ],
  },
  {
    name: "counts gRPC ModelInfer calls (protocol=grpc, their code as an HTTP status) with the REST ones",
    alert: "HighErrorRate",
    series: [
      ...http({ ...stablePod, protocol: "http" }, { ok: 540, errors: 0 }, 20),
      ...http({ ...stablePod, protocol: "grpc" }, { ok: 0, errors: 60 }, 20, GRPC_METHODS.modelInfer),
      loaded(stable, "1x20"),
    ],
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: 10% of inference requests fail with 5xx",
        description:
          "10% of requests to the inference routes of flight-delay (stable) in prod were answered 5xx over 5 minutes (threshold 1%). 503s from load shedding count: callers saw them.",
      },
    ],
  },
  {
    name: "ignores 5xx on non-inference routes (probes) and a 0.5% error ratio",
    alert: "HighErrorRate",
    series: [
      ...http(stablePod, { ok: 995, errors: 5 }, 20),
      ...http(stablePod, { ok: 0, errors: 60 }, 20, ROUTES.readyz),
      loaded(stable, "1x20"),
    ],
    evalTime: "15m",
    expected: [],
  },
  // --- NoTraffic -----------------------------------------------------------------------------------------------
  {
    name: "fires when traffic stops that flowed at the same time yesterday",
    alert: "NoTraffic",
    evaluationInterval: "5m",
    interval: "5m",
    series: predictions(stableV3, { positive: 10, negative: 40 }, DAY / 5).map((s) => ({ ...s, values: `${s.values} _x12` })),
    evalTime: `${DAY + 40}m`,
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: no predictions for 15 minutes",
        description: "flight-delay (stable) in prod answered no predictions in the last 15 minutes; this time yesterday it answered 0.17/s.",
      },
    ],
  },
  {
    name: "stays silent while traffic flows, and for a model that never had traffic",
    alert: "NoTraffic",
    evaluationInterval: "5m",
    interval: "5m",
    series: [...predictions(stableV3, { positive: 10, negative: 40 }, DAY / 5 + 10), loaded({ ...stable, model: "idle-model" }, `1x${DAY / 5 + 10}`)],
    evalTime: `${DAY + 40}m`,
    expected: [],
  },
  // --- ReadinessFlapping ---------------------------------------------------------------------------------------
  {
    name: "fires when a replica loads and unloads its model repeatedly",
    alert: "ReadinessFlapping",
    series: [loaded(stable, "1 0 1 0 1 0 1 1 1")],
    evalTime: "7m",
    expected: [
      {
        labels: { severity: "ticket", ...replicaOf(stable) },
        summary: "flight-delay (stable) in prod: replica 10.0.0.1:8080 loaded/unloaded its model 6 times in 15 minutes",
        description:
          "model_loaded of flight-delay (stable) in prod on 10.0.0.1:8080 changed 6 times in 15 minutes: the replica keeps going in and out of readiness.",
      },
    ],
  },
  {
    name: "stays silent for a single restart",
    alert: "ReadinessFlapping",
    series: [loaded(stable, "1 1 0 0 1 1 1 1 1")],
    evalTime: "7m",
    expected: [],
  },
  // --- ModelReloadFailing --------------------------------------------------------------------------------------
  {
    name: "fires on the first failure (a counter series that just appeared)",
    alert: "ModelReloadFailing",
    series: [
      series(METRICS.modelReloadsTotal, { ...stable, result: "success" }, "1x30"),
      series(METRICS.modelReloadsTotal, { ...stable, result: "failure" }, "_x20 1x10"),
    ],
    evalTime: "22m",
    expected: [
      {
        labels: { severity: "ticket", ...replicaOf(stable) },
        summary: "flight-delay (stable) in prod: model reload failed on 10.0.0.1:8080",
        description:
          "1 model (re)load(s) of flight-delay (stable) in prod failed on 10.0.0.1:8080 in 15 minutes. A replica that had a model keeps serving it; one that had none is not ready.",
      },
    ],
  },
  {
    name: "stays silent when the last failure is older than 15 minutes",
    alert: "ModelReloadFailing",
    series: [series(METRICS.modelReloadsTotal, { ...stable, result: "failure" }, "1x40")],
    evalTime: "35m",
    expected: [],
  },
  // --- ConnectionsDropped ----------------------------------------------------------------------------------------
  {
    name: "fires per replica and reason when more than 10 connections were closed in 15 minutes, also while the model is not loaded",
    alert: "ConnectionsDropped",
    series: [
      // As the service exports it: per process, no model labels (model_loaded says which model the pod serves).
      // 2 per minute at the connection cap: 30 in 15 minutes; slow clients trickle at 1 in 3 minutes (5): silent.
      // The model was unloaded at 20m (a failed reload, say): the drops still count.
      series(METRICS.modelLoaded, stable, "1x20 0x10"),
      series(METRICS.httpConnectionsDroppedTotal, { ...stablePod, reason: "max_connections" }, "0x10 0+2x20"),
      series(METRICS.httpConnectionsDroppedTotal, { ...stablePod, reason: "request_timeout" }, "0x10 0+0.34x20"),
    ],
    evalTime: "30m",
    expected: [
      {
        labels: { severity: "ticket", ...replicaOf(stable), reason: "max_connections" },
        summary: "flight-delay (stable) in prod: 10.0.0.1:8080 closed 30 connections (max_connections) in 15 minutes",
        description:
          "The HTTP layer of flight-delay (stable) in prod on 10.0.0.1:8080 closed 30 connections for reason max_connections in 15 minutes (threshold 10). Callers on those connections got no answer, or a 429/408 before the close.",
      },
    ],
  },
  {
    name: "stays silent at 9 in 15 minutes, and for another model",
    alert: "ConnectionsDropped",
    series: [
      series(METRICS.modelLoaded, stable, "1x30"),
      series(METRICS.httpConnectionsDroppedTotal, { ...stablePod, reason: "pipelining" }, "0x10 0+0.6x20"),
      // Another model's pod: its drops are its own alert's.
      series(METRICS.modelLoaded, { ...canaryPod, model: "other-model", variant: "stable" }, "1x30"),
      series(METRICS.httpConnectionsDroppedTotal, { ...canaryPod, reason: "max_connections" }, "0x10 0+5x20"),
    ],
    evalTime: "30m",
    expected: [],
  },
  // --- PredictionDistributionShift -----------------------------------------------------------------------------
  {
    name: "fires when the hourly positive rate leaves the daily one by more than 10 points",
    alert: "PredictionDistributionShift",
    evaluationInterval: "5m",
    interval: "5m",
    series: [
      series(METRICS.predictionsTotal, { ...stableV3, outcome: "positive" }, `0+10x${(DAY - 60) / 5} ${(10 * (DAY - 60)) / 5}+25x30`),
      series(METRICS.predictionsTotal, { ...stableV3, outcome: "negative" }, `0+40x${(DAY - 60) / 5} ${(40 * (DAY - 60)) / 5}+25x30`),
    ],
    evalTime: `${DAY + 60}m`,
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: positive rate moved 27.6% points in the last hour",
        description:
          "The share of positive predictions of flight-delay (stable) in prod over the last hour is 50% against 22.4% over the last day: a shift of 27.6% points (threshold 10%).",
      },
    ],
  },
  {
    name: "stays silent while the positive rate is steady",
    alert: "PredictionDistributionShift",
    evaluationInterval: "5m",
    interval: "5m",
    series: predictions(stableV3, { positive: 10, negative: 40 }, DAY / 5 + 20),
    evalTime: `${DAY + 60}m`,
    expected: [],
  },
  // --- HitRateBelowBaseline ------------------------------------------------------------------------------------
  {
    name: "fires when the live hit rate is far below the version's baseline",
    alert: "HitRateBelowBaseline",
    series: [
      ...["tp", "tn", "fp", "fn"].map((outcome) => series(METRICS.modelFeedbackTotal, { ...stableV3, outcome }, "0+1x90")),
      series(METRICS.modelBaselineHitRate, { ...stablePod, model: MODEL, version: "3" }, "0.9x90"),
    ],
    evalTime: "80m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable", version: "3" },
        summary: "flight-delay (stable) in prod: live hit rate 50% is over 10% below the baseline of version 3",
        description:
          "Over the last 6 hours of labelled predictions, version 3 of flight-delay (stable) in prod was right 50% of the time; it scored 90% at registration (alert below 90% of it).",
      },
    ],
  },
  {
    name: "stays silent at the baseline, and with too few labels to judge",
    alert: "HitRateBelowBaseline",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableV3, outcome: "tp" }, "0+9x90"),
      series(METRICS.modelFeedbackTotal, { ...stableV3, outcome: "fp" }, "0+1x90"),
      series(METRICS.modelBaselineHitRate, { ...stablePod, model: MODEL, version: "3" }, "0.9x90"),
      series(METRICS.modelFeedbackTotal, { ...canaryV4, outcome: "fp" }, "0+0.5x90"),
      series(METRICS.modelBaselineHitRate, { ...canaryPod, model: MODEL, version: "4" }, "0.9x90"),
    ],
    evalTime: "80m",
    expected: [],
  },
  // --- BusinessCostHigh ----------------------------------------------------------------------------------------
  {
    name: "fires when cost per labelled prediction triples against the 7-day average",
    alert: "BusinessCostHigh",
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableV3, outcome: "fp" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableV3, "0+60x160 9600+180x10"),
    ],
    evalTime: "170h",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable" },
        summary: "flight-delay (stable) in prod: cost per labelled prediction 3 is over 1.5x its 7-day average",
        description:
          "Cost-matrix-weighted errors of flight-delay (stable) in prod per labelled prediction were 3 over the last 6 hours, more than 1.5x the 7-day average of 1.101.",
      },
    ],
  },
  {
    name: "stays silent while the cost per labelled prediction is steady",
    alert: "BusinessCostHigh",
    evaluationInterval: "1h",
    interval: "1h",
    series: [
      series(METRICS.modelFeedbackTotal, { ...stableV3, outcome: "fp" }, "0+60x170"),
      series(METRICS.modelBusinessCostTotal, stableV3, "0+60x170"),
    ],
    evalTime: "170h",
    expected: [],
  },
  // --- DataDriftDetected ---------------------------------------------------------------------------------------
  {
    name: "fires when the last drift run called the dataset drifted",
    alert: "DataDriftDetected",
    series: [series(METRICS.driftShare, pushed, "0.6x5"), series(METRICS.driftDatasetDrifted, pushed, "1x5")],
    evalTime: "2m",
    expected: [
      {
        labels: { severity: "ticket", model: MODEL },
        summary: "flight-delay: data drift, 60% of features drifted in the last drift run",
        description:
          "The last drift run compared recent requests of flight-delay with the training reference and found 60% of the features drifted, enough to call the dataset drifted.",
      },
    ],
  },
  {
    name: "stays silent when the dataset did not drift (and for another model)",
    alert: "DataDriftDetected",
    series: [
      series(METRICS.driftShare, pushed, "0.25x5"),
      series(METRICS.driftDatasetDrifted, pushed, "0x5"),
      series(METRICS.driftDatasetDrifted, { ...pushed, model: "other-model" }, "1x5"),
      series(METRICS.driftShare, { ...pushed, model: "other-model" }, "0.9x5"),
    ],
    evalTime: "2m",
    expected: [],
  },
  // --- FeatureDrift --------------------------------------------------------------------------------------------
  {
    name: "fires for each drifted feature with its score",
    alert: "FeatureDrift",
    series: [
      series(METRICS.driftColumnScore, { ...pushed, column: "distance", method: "ks" }, "0.001x5"),
      series(METRICS.driftColumnDrifted, { ...pushed, column: "distance" }, "1x5"),
      series(METRICS.driftColumnScore, { ...pushed, column: "origin", method: "chisquare" }, "0.4x5"),
      series(METRICS.driftColumnDrifted, { ...pushed, column: "origin" }, "0x5"),
    ],
    evalTime: "2m",
    expected: [
      {
        labels: { severity: "ticket", model: MODEL, column: "distance", method: "ks" },
        summary: "flight-delay: feature distance drifted (ks 0.001)",
        description: "In the last drift run, feature distance of flight-delay drifted from the reference: ks score 0.001.",
      },
    ],
  },
  {
    name: "stays silent when no feature drifted",
    alert: "FeatureDrift",
    series: [
      series(METRICS.driftColumnScore, { ...pushed, column: "distance", method: "ks" }, "0.3x5"),
      series(METRICS.driftColumnDrifted, { ...pushed, column: "distance" }, "0x5"),
    ],
    evalTime: "2m",
    expected: [],
  },
  // --- OnlineFeatureDrift --------------------------------------------------------------------------------------
  {
    name: "fires for a feature the service found drifted in live traffic, with the lowest p-value of the replicas",
    alert: "OnlineFeatureDrift",
    series: [
      series(METRICS.onlineDriftPValue, { ...stableV3, column: "distance", method: "ks" }, "2e-9x5"),
      series(METRICS.onlineDriftDrifted, { ...stableV3, column: "distance" }, "1x5"),
      // A second replica of the same version still sees the distance at p = 0.2 (not drifted yet): the feature alarms once.
      series(METRICS.onlineDriftPValue, { ...stableV3, instance: "10.0.0.3:8080", pod: "flight-delay-stable-2", column: "distance", method: "ks" }, "0.2x5"),
      series(METRICS.onlineDriftDrifted, { ...stableV3, instance: "10.0.0.3:8080", pod: "flight-delay-stable-2", column: "distance" }, "0x5"),
      series(METRICS.onlineDriftPValue, { ...stableV3, column: "origin", method: "chisquare" }, "0.4x5"),
      series(METRICS.onlineDriftDrifted, { ...stableV3, column: "origin" }, "0x5"),
    ],
    evalTime: "2m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "stable", version: "3", column: "distance", method: "ks" },
        summary: "flight-delay (stable): feature distance drifted in live traffic (ks p-value 2e-09)",
        description:
          "The last window of recent requests to version 3 of flight-delay (stable) tested against the version's reference sample: feature distance has ks p-value 2e-09, under its calibrated threshold.",
      },
    ],
  },
  {
    name: "stays silent while the last windows did not drift (and for another model)",
    alert: "OnlineFeatureDrift",
    series: [
      series(METRICS.onlineDriftPValue, { ...stableV3, column: "distance", method: "ks" }, "0.03x5"),
      series(METRICS.onlineDriftDrifted, { ...stableV3, column: "distance" }, "0x5"),
      series(METRICS.onlineDriftPValue, { ...stableV3, model: "other-model", column: "distance", method: "ks" }, "1e-9x5"),
      series(METRICS.onlineDriftDrifted, { ...stableV3, model: "other-model", column: "distance" }, "1x5"),
    ],
    evalTime: "2m",
    expected: [],
  },
  // --- DriftJobStale -------------------------------------------------------------------------------------------
  {
    name: "fires when the last run is older than 26 hours",
    alert: "DriftJobStale",
    evaluationInterval: "10m",
    interval: "10m",
    // The run at t=0 pushed its timestamp (0); the gateway keeps serving it.
    series: [series(METRICS.driftLastRunTimestampSeconds, pushed, "0x200")],
    evalTime: "27h",
    expected: [
      {
        labels: { severity: "ticket", model: MODEL },
        summary: "flight-delay: no drift run in 26h",
        description: "The last drift run of flight-delay finished 1d 3h 0m 0s ago: drift is not being watched.",
      },
    ],
  },
  {
    name: "fires when no run was ever recorded in 26 hours",
    alert: "DriftJobStale",
    evaluationInterval: "10m",
    interval: "10m",
    series: [series("up", { job: "other" }, "1x200")],
    evalTime: "27h",
    expected: [
      {
        labels: { severity: "ticket", model: MODEL },
        summary: "flight-delay: no drift run in 26h",
        description: "No drift run of flight-delay was recorded in the last 26h: drift is not being watched.",
      },
    ],
  },
  {
    name: "stays silent while the job runs daily",
    alert: "DriftJobStale",
    evaluationInterval: "10m",
    interval: "10m",
    // A run every 24 h: the timestamp jumps to "now" at 0 h and 24 h.
    series: [series(METRICS.driftLastRunTimestampSeconds, pushed, "0x143 86400x60")],
    evalTime: "27h",
    expected: [],
  },
  // --- CanaryWorseThanStable -----------------------------------------------------------------------------------
  {
    name: "fires when the canary's 5xx ratio is 10 points above stable's",
    alert: "CanaryWorseThanStable",
    series: [
      ...http(stablePod, { ok: 600, errors: 0 }, 20),
      ...http(canaryPod, { ok: 540, errors: 60 }, 20),
      loaded(stable, "1x20"),
      loaded(canary, "1x20"),
      ...predictions(stableV3, { positive: 100, negative: 500 }, 20),
      ...predictions(canaryV4, { positive: 100, negative: 440 }, 20),
    ],
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "canary", reason: "errors" },
        summary: "flight-delay in prod: canary is worse than stable (errors)",
        description:
          "The canary's 5xx ratio is 10% above stable's (margin 1%) over the last 5 minutes, with at least 100 predictions on each.",
      },
    ],
  },
  {
    name: "fires when the canary's p99 is 5x stable's",
    alert: "CanaryWorseThanStable",
    series: [
      ...latencyHistogram(stableV3, "0.05", 600, 20),
      ...latencyHistogram(canaryV4, "0.25", 600, 20),
      ...predictions(stableV3, { positive: 100, negative: 500 }, 20),
      ...predictions(canaryV4, { positive: 100, negative: 500 }, 20),
    ],
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", namespace: "prod", model: MODEL, variant: "canary", reason: "latency" },
        summary: "flight-delay in prod: canary is worse than stable (latency)",
        description:
          "The canary's p99 latency is 4.995x stable's (limit 1.5x) over the last 5 minutes, with at least 100 predictions on each.",
      },
    ],
  },
  {
    name: "stays silent when the canary is as good, or has too little traffic to judge",
    alert: "CanaryWorseThanStable",
    series: [
      ...latencyHistogram(stableV3, "0.05", 600, 20),
      ...latencyHistogram(canaryV4, "0.25", 6, 20),
      ...predictions(stableV3, { positive: 100, negative: 500 }, 20),
      ...predictions(canaryV4, { positive: 1, negative: 5 }, 20),
      ...http(stablePod, { ok: 600, errors: 1 }, 20),
      ...http(canaryPod, { ok: 600, errors: 2 }, 20),
      loaded(stable, "1x20"),
      loaded(canary, "1x20"),
    ],
    evalTime: "15m",
    expected: [],
  },
  // --- PredictionLogLoss ---------------------------------------------------------------------------------------
  {
    name: "fires on the first dropped record",
    alert: "PredictionLogLoss",
    series: [
      series(METRICS.predictionLogWrittenTotal, stablePod, "0+100x20"),
      series(METRICS.predictionLogDroppedTotal, { ...stablePod, reason: "spill_write_failed" }, "_x10 3x10"),
      series(METRICS.predictionLogSpillDepth, stablePod, "0x20"),
    ],
    evalTime: "12m",
    expected: [
      {
        labels: { severity: "ticket", ...stablePod, reason: "dropped" },
        summary: "Prediction log on 10.0.0.1:8080: 3 records dropped",
        description:
          "3 prediction-log records were dropped in 5 minutes on 10.0.0.1:8080 (pod flight-delay-stable-1): they are lost for drift and feedback.",
      },
    ],
  },
  {
    name: "fires while the spill file keeps growing",
    alert: "PredictionLogLoss",
    series: [series(METRICS.predictionLogSpillDepth, stablePod, "0+50x30")],
    evalTime: "20m",
    expected: [
      {
        labels: { severity: "ticket", ...stablePod, reason: "spill_growing" },
        summary: "Prediction log on 10.0.0.1:8080: spill file growing",
        description:
          "The local spill file on 10.0.0.1:8080 grew by 750 records in 15 minutes: the database is not accepting writes and the spill disk will fill, after which records are dropped.",
      },
    ],
  },
  {
    name: "stays silent while the spill file drains and nothing is dropped",
    alert: "PredictionLogLoss",
    series: [
      series(METRICS.predictionLogSpillDepth, stablePod, "1500-50x30"),
      series(METRICS.predictionLogDroppedTotal, { ...stablePod, reason: "spill_write_failed" }, "2x40"),
    ],
    evalTime: "25m",
    expected: [],
  },
  {
    name: "fires on records dropped at the spill cap",
    alert: "PredictionLogLoss",
    series: [
      series(METRICS.predictionLogDroppedTotal, { ...stablePod, reason: "spill_full" }, "0x5 0+40x10"),
      series(METRICS.predictionLogSpillDepth, stablePod, "5000x15"),
    ],
    evalTime: "12m",
    expected: [
      {
        labels: { severity: "ticket", ...stablePod, reason: "dropped" },
        summary: "Prediction log on 10.0.0.1:8080: 200 records dropped",
        description:
          "200 prediction-log records were dropped in 5 minutes on 10.0.0.1:8080 (pod flight-delay-stable-1): they are lost for drift and feedback.",
      },
    ],
  },
  // --- PredictionLogSpillNearlyFull ----------------------------------------------------------------------------
  {
    name: "fires while the journal holds more than 80% of its cap",
    alert: "PredictionLogSpillNearlyFull",
    series: [
      series(METRICS.predictionLogSpillBytes, stablePod, "600000000+20000000x20"),
      series(METRICS.predictionLogSpillLimitBytes, stablePod, "966367641x20"),
    ],
    evalTime: "15m",
    expected: [
      {
        labels: { severity: "ticket", ...stablePod },
        summary: "Prediction log on 10.0.0.1:8080: spill 93.13% full",
        description:
          'The local prediction-log journal on 10.0.0.1:8080 (pod flight-delay-stable-1) holds 93.13% of its cap (PREDICTION_LOG_SPILL_MAX_BYTES, set from the spill volume): past it new predictions are served but not logged, counted in prediction_log_dropped_total{reason="spill_full"}.',
      },
    ],
  },
  {
    name: "stays silent at 70% of the cap",
    alert: "PredictionLogSpillNearlyFull",
    series: [
      series(METRICS.predictionLogSpillBytes, stablePod, "676457349x15"),
      series(METRICS.predictionLogSpillLimitBytes, stablePod, "966367641x15"),
    ],
    evalTime: "15m",
    expected: [],
  },
  // --- GPU -----------------------------------------------------------------------------------------------------
  {
    name: "fires on an XID error",
    alert: "GpuXidError",
    series: [series(DCGM_METRICS.xidErrors, gpu0, "0 0 79x5")],
    evalTime: "4m",
    expected: [
      {
        labels: { severity: "ticket", Hostname: "gpu-node-1", gpu: "0", UUID: "GPU-0aa1" },
        summary: "GPU 0 on gpu-node-1 reported XID error 79",
        description: "GPU 0 on gpu-node-1 (UUID GPU-0aa1) reported XID 79 (the last XID code DCGM saw).",
      },
    ],
  },
  {
    name: "stays silent without XID errors",
    alert: "GpuXidError",
    series: [series(DCGM_METRICS.xidErrors, gpu0, "0x5")],
    evalTime: "4m",
    expected: [],
  },
  {
    name: "fires when a GPU stays above 85°C",
    alert: "GpuTemperatureHigh",
    series: [series(DCGM_METRICS.gpuTemp, gpu0, "90x10")],
    evalTime: "6m",
    expected: [
      {
        labels: { severity: "ticket", Hostname: "gpu-node-1", gpu: "0", UUID: "GPU-0aa1" },
        summary: "GPU 0 on gpu-node-1 at 90°C",
        description: "GPU 0 on gpu-node-1 has been above 85°C for 5 minutes (now 90°C); it will throttle clocks.",
      },
    ],
  },
  {
    name: "stays silent for a short spike",
    alert: "GpuTemperatureHigh",
    series: [series(DCGM_METRICS.gpuTemp, gpu0, "80 80 92 92 80x6")],
    evalTime: "6m",
    expected: [],
  },
  {
    name: "fires when framebuffer memory stays over 95% used",
    alert: "GpuMemoryNearlyFull",
    series: [series(DCGM_METRICS.fbUsed, gpu0, "22000x15"), series(DCGM_METRICS.fbFree, gpu0, "500x15")],
    evalTime: "11m",
    expected: [
      {
        labels: { severity: "ticket", Hostname: "gpu-node-1", gpu: "0", UUID: "GPU-0aa1" },
        summary: "GPU 0 on gpu-node-1 framebuffer 97.78% used",
        description: "GPU 0 on gpu-node-1 has used over 95% of its memory for 10 minutes (now 97.78%): the next allocation fails with out-of-memory.",
      },
    ],
  },
  {
    name: "stays silent at half memory",
    alert: "GpuMemoryNearlyFull",
    series: [series(DCGM_METRICS.fbUsed, gpu0, "11000x15"), series(DCGM_METRICS.fbFree, gpu0, "11500x15")],
    evalTime: "11m",
    expected: [],
  },
];
