/** Is the model service up and answering fast and correctly: latency, errors, model loaded, traffic, reloads. */
import { ROUTES, SERVICE_PORT_NAME } from "../../service/src/contract";
import {
  LABEL,
  METRICS,
  RELOAD_FAILURE,
  attributedToServingProcess,
  SHADOW,
  STABLE,
  counterEvents,
  eq,
  maxBy,
  ne,
  selector,
  sumBy,
} from "../promql";
import type { AlertDefinition, ModelAlertThresholds } from "../types";
import { RECORDED } from "./recording";
import { label, modelVariant, percent, seconds, value } from "./templates";

const perReplica = [LABEL.namespace, LABEL.model, LABEL.variant, LABEL.pod, LABEL.instance];

export function serviceAlerts(model: string, t: ModelAlertThresholds): AlertDefinition[] {
  const ofModel = eq(LABEL.model, model);
  const served = [ofModel, ne(LABEL.variant, SHADOW)];
  const loaded = selector(METRICS.modelLoaded, served);
  const traffic = (variant: string) => selector(RECORDED.predictionRate5m, [ofModel, eq(LABEL.variant, variant)]);
  const reloadFailures = selector(METRICS.modelReloadsTotal, [ofModel, eq(LABEL.result, RELOAD_FAILURE)]);
  // Per process, without model labels: attributed to the model and variant the process serves.
  const dropped = (window: string) => attributedToServingProcess(`increase(${METRICS.httpConnectionsDroppedTotal}[${window}])`, { matchers: [ofModel], by: [] });
  return [
    {
      name: "ModelNotLoaded",
      severity: "page",
      expr: `${maxBy([LABEL.namespace, LABEL.model, LABEL.variant], loaded)} == 0\nor\nabsent(${loaded})`,
      for: "5m",
      summary: `${label(LABEL.model)}: no replica has a model loaded, predictions are failing`,
      description:
        `No replica of ${label(LABEL.model)}{{ with $labels.${LABEL.variant} }} ({{ . }}){{ end }} has had a model loaded and warmed for 5 minutes` +
        `{{ if not $labels.${LABEL.variant} }}: no replica exports model_loaded at all{{ end }}. Requests get 503 or the configured fallback.`,
      meaning:
        "Every replica reports `model_loaded == 0`, or none is scraped. Causes, most likely first: the registry alias points to a " +
        "version whose artifacts cannot be downloaded or do not load (bad ONNX, signature mismatch), MLflow or S3 is unreachable, " +
        "pods crash-loop (OOM, bad config) or were scaled to zero. The only paging alert: nothing is being served.",
      firstSteps: [
        "kubectl -n $NS get pods -l $SELECTOR -o wide   # Running? Ready? restarts?",
        `kubectl -n $NS port-forward svc/$SVC 8080:${SERVICE_PORT_NAME} & sleep 1; curl -s localhost:8080${ROUTES.readyz}   # 503 says why`,
        "kubectl -n $NS logs -l $SELECTOR --tail=100 | grep -iE 'model|registry|error'",
        `curl -s localhost:8080${ROUTES.model}   # which version it tried to load`,
        "If the new version is at fault, roll back: move the alias to the previous version (see Rollback).",
      ],
    },
    {
      name: "HighLatency",
      severity: "ticket",
      expr: `${selector(RECORDED.latencyP99, [ofModel])} > ${t.latencyP99Seconds}`,
      for: "5m",
      summary: `${modelVariant}: p99 prediction latency ${value.duration} over ${seconds(t.latencyP99Seconds)}`,
      description:
        `p99 prediction latency (batch queueing included) of ${modelVariant} has been above ${seconds(t.latencyP99Seconds)} for 5 minutes: ` +
        `now ${value.duration}.`,
      meaning:
        `The slowest 1% of predictions take longer than the SLO (${seconds(t.latencyP99Seconds)}). Usually CPU saturation (too few ` +
        "replicas, HPA at max, noisy neighbour), a bigger model version, or batch settings that queue records too long.",
      firstSteps: [
        "Service dashboard: Batching row (queue wait, batch size) and Runtime row (event-loop lag, CPU).",
        "kubectl -n $NS top pods -l $SELECTOR; kubectl -n $NS get hpa",
        "Did the version change? Top row 'Served version'. If the new version is slower, roll back.",
      ],
    },
    {
      name: "HighErrorRate",
      severity: "ticket",
      expr: `${selector(RECORDED.http5xxRatio, [ofModel])} > ${t.errorRatio}`,
      for: "5m",
      summary: `${modelVariant}: ${value.percent} of inference requests fail with 5xx`,
      description:
        `${value.percent} of requests to the inference routes of ${modelVariant} were answered 5xx over 5 minutes ` +
        `(threshold ${percent(t.errorRatio)}). 503s from load shedding count: callers saw them.`,
      meaning:
        "Callers are getting server errors: model errors (500), or, with no fallback configured, load shedding (503): requests " +
        "the queue could not finish before their deadline (reason shed or timeout) or a full queue (queue_full). 4xx (bad input) " +
        "are the caller's and are not counted.",
      firstSteps: [
        "Service dashboard: 'Requests by status' and 'Fallbacks and rejections' show which kind.",
        "kubectl -n $NS logs -l $SELECTOR --tail=200 | grep -E '\"statusCode\":5'",
        "Rejections (shed, timeout, queue_full): the model is over capacity, so scale out (raising MAX_QUEUE only helps queue_full); model errors right after a version change: roll back.",
      ],
    },
    {
      name: "NoTraffic",
      severity: "ticket",
      expr: `${traffic(STABLE)} offset 1d > 0\nunless on (${LABEL.namespace}, ${LABEL.model}, ${LABEL.variant})\n${traffic(STABLE)} > 0`,
      for: "15m",
      summary: `${modelVariant}: no predictions for 15 minutes`,
      description: `${modelVariant} answered no predictions in the last 15 minutes; this time yesterday it answered {{ printf "%.2f" $value }}/s.`,
      meaning:
        "The model is up but nobody reaches it: the mesh routes elsewhere (VirtualService weights), the caller is down or " +
        "changed its URL, or a NetworkPolicy blocks it. Yesterday's traffic at this hour proves this is not just a quiet service.",
      firstSteps: [
        "kubectl -n $NS get virtualservice,destinationrule -o yaml | grep -A3 weight",
        "kubectl -n $NS get endpoints $SVC",
        "Service dashboard: 'Requests/s by route' (probes still arrive, predictions do not?)",
      ],
    },
    {
      name: "ReadinessFlapping",
      severity: "ticket",
      expr: `${sumBy(perReplica, `changes(${selector(METRICS.modelLoaded, [ofModel])}[15m])`)} > 2`,
      for: "0m",
      summary: `${modelVariant}: replica {{ $labels.${LABEL.instance} }} loaded/unloaded its model ${value.raw} times in 15 minutes`,
      description:
        `model_loaded of ${modelVariant} on {{ $labels.${LABEL.instance} }} changed ${value.raw} times in 15 minutes: ` +
        "the replica keeps going in and out of readiness.",
      meaning:
        "A replica swaps or loses its model repeatedly: hot reloads that alternate between versions (alias moved back and forth), " +
        "a pod restarting (OOM, liveness), or a registry that answers intermittently.",
      firstSteps: [
        "kubectl -n $NS get pods -l $SELECTOR   # RESTARTS column",
        "kubectl -n $NS describe pod $POD | grep -A5 'Last State'",
        "kubectl -n $NS logs $POD --tail=200 | grep -i reload",
      ],
    },
    {
      name: "ModelReloadFailing",
      severity: "ticket",
      expr: counterEvents(reloadFailures, "15m", perReplica),
      for: "0m",
      summary: `${modelVariant}: model reload failed on {{ $labels.${LABEL.instance} }}`,
      description:
        `${value.raw} model (re)load(s) of ${modelVariant} failed on {{ $labels.${LABEL.instance} }} in 15 minutes. ` +
        "A replica that had a model keeps serving it; one that had none is not ready.",
      meaning:
        "The service polled the registry, saw a new version behind the alias and could not load it (download error, corrupt " +
        "artifact, input signature incompatible with the API contract), or the registry is unreachable.",
      firstSteps: [
        "kubectl -n $NS logs -l $SELECTOR --tail=300 | grep -iE 'reload|load failed|registry'",
        `curl -s localhost:8080${ROUTES.model}   # the version still served (after port-forward)`,
        "Check the version in MLflow: status READY? artifacts complete? If broken, move the alias back (Rollback).",
      ],
    },
    {
      name: "ConnectionsDropped",
      severity: "ticket",
      expr: `${sumBy([...perReplica, LABEL.reason], dropped("15m"))} > ${t.connectionDrops15m}`,
      for: "0m",
      summary: `${modelVariant}: {{ $labels.${LABEL.instance} }} closed ${value.raw} connections (${label(LABEL.reason)}) in 15 minutes`,
      description:
        `The HTTP layer of ${modelVariant} on {{ $labels.${LABEL.instance} }} closed ${value.raw} connections for reason ${label(LABEL.reason)} ` +
        `in 15 minutes (threshold ${t.connectionDrops15m}). Callers on those connections got no answer, or a 429/408 before the close.`,
      meaning:
        "The service protects itself from clients that would exhaust it, and every such close is counted by reason: " +
        "max_connections (the replica is at HTTP_MAX_CONNECTIONS: callers open a connection per request, or the replica needs company), " +
        "pipelining (a client sends more pipelined requests than HTTP_MAX_PIPELINED), request_timeout / connection_timeout (clients " +
        "that send too slowly or hold idle connections: a slowloris, or a caller's network), malformed (bytes that are not HTTP). " +
        "A few a day are normal on the internet; a steady stream means a misbehaving caller or too few replicas.",
      firstSteps: [
        "Service dashboard: 'Connections dropped' by reason and replica: one replica or all, since when.",
        "max_connections: kubectl -n $NS get hpa; check callers reuse connections (keep-alive) and scale out if the replicas are busy.",
        "timeouts or pipelining: kubectl -n $NS logs -l $SELECTOR --tail=300 | grep -i 'connection' — find the client (remote address) and its owner.",
      ],
    },
  ];
}
