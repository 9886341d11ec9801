// End to end on real parts: the service (stable and canary replicas, prediction log on Postgres) scraped every
// second by Prometheus together with a Pushgateway holding drift results and fake DCGM samples; every query of
// every dashboard panel must return data, every rule must evaluate without error, and a drift result pushed
// by the job must reach a webhook through Alertmanager (latency measured).
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { isAlertRule, modelRuleGroups, platformRuleGroups, rulesFile } from "../../alerts";
import { alertmanagerConfig } from "../../alerts/alertmanager";
import { modelDashboards, platformDashboards } from "../../dashboards";
import { DCGM_METRICS, DRIFT_COLUMNS, DRIFT_JOB_NAME, EMBEDDED_MODEL_DIR, EMBEDDED_MODEL_NAME, ENV, METRICS, ROUTES } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { freePort, sleep, waitFor } from "../support/net";
import { TestPostgres } from "../support/postgres";
import {
  RunningAlertmanager,
  RunningPrometheus,
  RunningPushgateway,
  startAlertmanager,
  startPrometheus,
  startPushgateway,
} from "../support/prometheus";
import { RunningService, startService } from "../support/service-process";
import { expandVariables } from "./dashboard-variables";

const MODEL = EMBEDDED_MODEL_NAME;

interface Notification {
  readonly receivedAt: number;
  readonly receiver: string;
  readonly alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

/** The webhook receiver Alertmanager notifies: records every notification with its arrival time. */
async function startWebhook(): Promise<{ url: string; notifications: Notification[]; server: Server }> {
  const notifications: Notification[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const payload = JSON.parse(body) as Omit<Notification, "receivedAt">;
      notifications.push({ receivedAt: Date.now(), receiver: payload.receiver, alerts: payload.alerts });
      response.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}/alerts`, notifications, server };
}

/** Drift job output as the CronJob pushes it (Prometheus text format), for the model's Pushgateway group. */
function driftPush(datasetDrifted: 0 | 1, runAt: number): string {
  const columns = [
    { column: "distance", method: "wasserstein", score: datasetDrifted ? 0.31 : 0.02, drifted: datasetDrifted },
    { column: "hour", method: "wasserstein", score: datasetDrifted ? 0.18 : 0.03, drifted: datasetDrifted },
    { column: "origin", method: "jensenshannon", score: 0.04, drifted: 0 },
    // The job pushes the model's prediction and target drift the same way (a binary model's columns).
    { column: DRIFT_COLUMNS.binary.prediction.name, method: "wasserstein", score: datasetDrifted ? 0.22 : 0.01, drifted: datasetDrifted },
    { column: DRIFT_COLUMNS.binary.target!.name, method: "jensenshannon", score: 0.03, drifted: 0 },
  ];
  return [
    `# TYPE ${METRICS.driftDatasetDrifted} gauge`,
    `${METRICS.driftDatasetDrifted} ${datasetDrifted}`,
    `# TYPE ${METRICS.driftShare} gauge`,
    `${METRICS.driftShare} ${datasetDrifted ? 2 / 3 : 0}`,
    `# TYPE ${METRICS.driftColumnScore} gauge`,
    ...columns.map((c) => `${METRICS.driftColumnScore}{column="${c.column}",method="${c.method}"} ${c.score}`),
    `# TYPE ${METRICS.driftColumnDrifted} gauge`,
    ...columns.map((c) => `${METRICS.driftColumnDrifted}{column="${c.column}"} ${c.drifted}`),
    `# TYPE ${METRICS.driftRows} gauge`,
    `${METRICS.driftRows}{dataset="reference"} 5000`,
    `${METRICS.driftRows}{dataset="current"} 1200`,
    `# TYPE ${METRICS.driftLastRunTimestampSeconds} gauge`,
    `${METRICS.driftLastRunTimestampSeconds} ${runAt / 1000}`,
  ].join("\n");
}

/** What an NVIDIA DCGM exporter on one GPU node would expose. */
function dcgmSamples(): string {
  const gpu = (index: number) => `gpu="${index}",UUID="GPU-e2e-${index}",Hostname="gpu-node-1",modelName="NVIDIA A10G",device="nvidia${index}"`;
  return [0, 1]
    .flatMap((i) => [
      `${DCGM_METRICS.gpuUtil}{${gpu(i)}} ${40 + 10 * i}`,
      `${DCGM_METRICS.fbUsed}{${gpu(i)}} ${9000 + 1000 * i}`,
      `${DCGM_METRICS.fbFree}{${gpu(i)}} ${13000 - 1000 * i}`,
      `${DCGM_METRICS.gpuTemp}{${gpu(i)}} ${61 + i}`,
      `${DCGM_METRICS.powerUsage}{${gpu(i)}} ${120.5 + i}`,
      `${DCGM_METRICS.xidErrors}{${gpu(i)}} 0`,
    ])
    .join("\n");
}

describe("monitoring end to end", () => {
  let pg: TestPostgres;
  let pushgateway: RunningPushgateway;
  let prometheus: RunningPrometheus;
  let alertmanager: RunningAlertmanager;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  const services: RunningService[] = [];

  beforeAll(async () => {
    webhook = await startWebhook();
    [pg, pushgateway, alertmanager] = await Promise.all([
      TestPostgres.start(),
      startPushgateway(),
      startAlertmanager(
        alertmanagerConfig({
          page: { name: "page", webhook: { url: webhook.url } },
          ticket: { name: "ticket", webhook: { url: webhook.url } },
          groupWait: "1s",
          groupInterval: "1s",
        }),
      ),
    ]);
    const logUrl = await pg.createDatabase("predictions");
    for (const variant of ["stable", "canary"]) {
      services.push(
        await startService({
          env: {
            [ENV.modelVariant]: variant,
            [ENV.predictionLogUrl]: logUrl,
            [ENV.predictionLogSpillDir]: join(projectRoot(), ".tmp", `e2e-spill-${variant}-${process.pid}`),
            [ENV.logLevel]: "warn",
            // Small online-drift windows, so the few requests below fill some and its panels have data.
            [ENV.onlineDriftWindow]: "20",
            [ENV.onlineDriftIntervalSeconds]: "0.5",
          },
        }),
      );
    }
    // The real rules, with `for` shortened so a pushed drift result fires within seconds.
    const groups = [...platformRuleGroups(), ...modelRuleGroups(MODEL)].map((group) => ({
      ...group,
      rules: group.rules.map((rule) => (isAlertRule(rule) ? { ...rule, for: "1s" } : rule)),
    }));
    prometheus = await startPrometheus({
      scrape: [
        // As Kubernetes service discovery would label the pods.
        ...services.map((service, i) => ({
          jobName: `${MODEL}-${i}`,
          targets: [new URL(service.url).host],
          metricsPath: ROUTES.metrics,
          labels: { namespace: "e2e", pod: `${MODEL}-${i}` },
        })),
        { jobName: "pushgateway", targets: [pushgateway.address], honorLabels: true },
      ],
      rules: [rulesFile(groups)],
      alertmanagers: [alertmanager.url],
    });
  }, 120000);

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await prometheus?.stop();
    await alertmanager?.stop();
    await pushgateway?.stop();
    await pg?.destroy();
    await new Promise((resolve) => webhook?.server.close(resolve));
  });

  async function driveTraffic(rounds: number): Promise<void> {
    const example = JSON.parse(readFileSync(join(projectRoot(), EMBEDDED_MODEL_DIR, "input_example.json"), "utf8")) as { columns: string[]; data: unknown[][] };
    const records = example.data.map((row) => Object.fromEntries(example.columns.map((column, i) => [column, row[i]])));
    for (const service of services) {
      const answered: { prediction_id: string; label: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        const single = await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(records[i % records.length]) });
        expect(single.status).toBe(200);
        answered.push((await single.json()) as { prediction_id: string; label: number });
      }
      const batch = await fetch(service.url + ROUTES.predictBatch, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(records) });
      expect(batch.status).toBe(200);
      // Bad input is the caller's (4xx) and shows on the status panel.
      expect((await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(400);
      // Ground truth for every answer: every third one wrong, so hit rate and business cost are non-trivial.
      const items = answered.map((p, i) => ({ prediction_id: p.prediction_id, actual: i % 3 === 0 ? 1 - p.label : p.label }));
      let lastFeedback = "";
      const feedback = await waitFor("feedback accepted", async () => {
        const response = await fetch(service.url + ROUTES.feedback, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ items }) });
        if (response.status !== 200) lastFeedback = `${response.status} ${await response.text()}`;
        return response.status === 200 ? response : undefined;
      }, 30000, 500).catch((error: Error) => {
        throw new Error(`${error.message}; last answer: ${lastFeedback.slice(0, 500)}`);
      });
      expect(feedback.status).toBe(200);
    }
  }

  it("serves data to every query of every dashboard panel, and evaluates every rule without error", async () => {
    await pushgateway.push(DRIFT_JOB_NAME, { model: MODEL }, driftPush(0, Date.now()));
    await pushgateway.push("dcgm", { instance: "gpu-node-1:9400" }, dcgmSamples());
    await prometheus.waitForTargetsUp(30000);
    // Two rounds a few scrapes apart: increase() and rate() need a counter to move between samples.
    await driveTraffic(30);
    await sleep(3000);
    await driveTraffic(30);
    await prometheus.waitForSeries(`${METRICS.modelFeedbackTotal}`, 20000, (s) => s.length >= 2);
    await sleep(3000);

    const dashboards = [...modelDashboards(MODEL), ...platformDashboards()];
    const empty: string[] = [];
    const onlyNaN: string[] = [];
    let queries = 0;
    let panels = 0;
    for (const dashboard of dashboards) {
      for (const panel of (dashboard.json.panels as { type: string; title: string; targets?: { expr: string }[] }[]).filter((p) => p.type !== "row")) {
        panels++;
        for (const target of panel.targets ?? []) {
          queries++;
          const samples = await prometheus.query(expandVariables(target.expr, MODEL));
          if (samples.length === 0) empty.push(`${dashboard.title} / ${panel.title}: ${target.expr}`);
          else if (samples.every((sample) => Number.isNaN(sample.value))) onlyNaN.push(`${dashboard.title} / ${panel.title}: ${target.expr}`);
        }
      }
    }
    console.log(`e2e: ${queries - empty.length}/${queries} dashboard queries over ${panels} panels returned data (${onlyNaN.length} only NaN)`);
    expect(empty).toEqual([]);
    expect(onlyNaN).toEqual([]);

    // Every rule evaluated against the real series: no PromQL error (e.g. many-to-many matching on real labels).
    const response = await fetch(`${prometheus.url}/api/v1/rules`);
    const rules = ((await response.json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }).data.groups.flatMap((g) => g.rules);
    expect(rules.filter((rule) => rule.health !== "ok").map((rule) => `${rule.name}: ${rule.lastError}`)).toEqual([]);
    expect(rules.length).toBe([...platformRuleGroups(), ...modelRuleGroups(MODEL)].flatMap((g) => g.rules).length);
    // Recorded series exist for both variants.
    const latency = await prometheus.query(`model_variant:${METRICS.predictionLatencySeconds}:p99_rate5m`);
    expect(latency.map((s) => s.metric.variant).sort()).toEqual(["canary", "stable"]);
  }, 120000);

  it("routes a pushed drift result to the ticket receiver through Alertmanager", async () => {
    const pushedAt = Date.now();
    await pushgateway.push(DRIFT_JOB_NAME, { model: MODEL }, driftPush(1, pushedAt));
    const notification = await waitFor(
      "DataDriftDetected at the webhook",
      async () => webhook.notifications.find((n) => n.receivedAt >= pushedAt && n.alerts.some((a) => a.labels.alertname === "DataDriftDetected" && a.status === "firing")),
      30000,
      50,
    );
    const latencyMs = notification.receivedAt - pushedAt;
    console.log(`e2e: drift push -> Prometheus -> Alertmanager -> webhook in ${latencyMs} ms (scrape 1s, eval 1s, for 1s, group_wait 1s)`);
    const alert = notification.alerts.find((a) => a.labels.alertname === "DataDriftDetected")!;
    expect(notification.receiver).toBe("ticket");
    expect(alert.labels).toMatchObject({ severity: "ticket", model: MODEL });
    expect(alert.annotations.summary).toBe(`${MODEL}: data drift, 66.67% of features drifted in the last drift run`);
    expect(alert.annotations.runbook_url).toMatch(/flight-delay\.md#datadriftdetected$/);
    expect(latencyMs).toBeLessThan(15000);
  }, 60000);
});
