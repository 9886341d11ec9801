// The generated Alertmanager configuration: accepted by the real amtool, routes by severity, inhibition, and
// secrets only as file references.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { AlertmanagerProps, alertmanagerConfig } from "../../alerts";
import { EXAMPLE_ALERTMANAGER } from "../../alerts/emit";
import { amtool } from "../support/prometheus";

const props: AlertmanagerProps = {
  page: { name: "oncall", pagerDuty: { routingKeyFile: "/etc/alertmanager/secrets/receivers/pagerduty-key" } },
  ticket: {
    name: "team",
    slack: { apiUrlFile: "/etc/alertmanager/secrets/receivers/slack-url", channel: "#ml-alerts" },
    webhook: { url: "http://relay.monitoring.svc:8080/alerts", bearerTokenFile: "/etc/alertmanager/secrets/receivers/relay-token" },
  },
};

describe("alertmanagerConfig", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "amtool-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = async (config: Record<string, unknown>) => {
    const file = join(dir, `am-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, stringify(config));
    return amtool(["check-config", file]);
  };

  it.each([
    ["typed receivers", alertmanagerConfig(props)],
    ["the example written by npm run monitoring", EXAMPLE_ALERTMANAGER],
    ["receivers without channels", alertmanagerConfig({ page: { name: "p" }, ticket: { name: "t" } })],
  ])("passes amtool check-config: %s", async (_name, config) => {
    const result = await check(config);
    expect(result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("routes pages and tickets to their receivers, and tells which ModelNotLoaded inhibits", async () => {
    const file = join(dir, "routing.yml");
    writeFileSync(file, stringify(alertmanagerConfig(props)));
    const route = async (...labels: string[]) => (await amtool(["config", "routes", "test", `--config.file=${file}`, ...labels])).stdout.trim();
    expect(await route("alertname=ModelNotLoaded", "severity=page", "model=flight-delay")).toBe("oncall");
    expect(await route("alertname=HighLatency", "severity=ticket", "model=flight-delay")).toBe("team");
    expect(await route("alertname=Unknown")).toBe("team");
    const config = alertmanagerConfig(props) as { inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[] };
    expect(config.inhibit_rules).toEqual([
      {
        source_matchers: ['alertname="ModelNotLoaded"'],
        target_matchers: ['alertname=~"HighLatency|HighErrorRate|NoTraffic|CanaryWorseThanStable|PredictionDistributionShift"'],
        equal: ["model"],
      },
    ]);
  });

  it("references secrets by mounted file and never inlines them", () => {
    const yaml = stringify(alertmanagerConfig(props));
    expect(yaml).toContain("routing_key_file: /etc/alertmanager/secrets/receivers/pagerduty-key");
    expect(yaml).toContain("api_url_file: /etc/alertmanager/secrets/receivers/slack-url");
    expect(yaml).toContain("credentials_file: /etc/alertmanager/secrets/receivers/relay-token");
    expect(yaml).not.toMatch(/\b(routing_key|api_url|credentials|service_key|api_key):/);
  });

  it.each([
    [{ ...props, ticket: { name: "oncall" } }, /different names/],
    [{ ...props, page: { name: "oncall", pagerDuty: { routingKeyFile: "relative/key" } } }, /pagerDuty.routingKeyFile must be the absolute path/],
    [{ ...props, ticket: { name: "team", webhook: { url: "https://user:secret@hooks.example/x" } } }, /must not carry credentials/],
    [{ ...props, ticket: { name: "team", webhook: { url: "not a url" } } }, /webhook.url is not a URL/],
    [{ ...props, groupWait: "soon" }, /groupWait must be a Prometheus duration/],
    [{ ...props, page: { name: "on call" } }, /receiver name "on call"/],
  ] as [AlertmanagerProps, RegExp][])("rejects bad props with an actionable error (%#)", (bad, message) => {
    expect(() => alertmanagerConfig(bad)).toThrow(message);
  });
});
