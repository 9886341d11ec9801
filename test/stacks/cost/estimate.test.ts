/**
 * The cost estimate on the real synthesized stacks of every environment (written to a temp cdktf.out the way
 * `npm run synth` writes it), with the committed price table: each figure recomputed from the environment
 * configuration, unknown types and prices listed as not priced (never zero), deltas against another synth.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "cdktf";
import { buildStacks, ENVIRONMENTS, type EnvironmentConfig } from "../../../stacks";
import type { SynthStack } from "../../../stacks/ci/synth-output";
import { main } from "../../../stacks/cost/cli";
import { estimateStack, quantityGb } from "../../../stacks/cost/estimate";
import { checkPriceTable, loadPriceTable } from "../../../stacks/cost/price-table";
import { estimateSynthOutput, findStack } from "../../../stacks/cost/report";

/** Synthesizes environments into a fresh directory, as npm run synth does (manifest.json + stacks/<name>/cdk.tf.json). */
function synthTo(environments: readonly EnvironmentConfig[]): string {
  const outdir = mkdtempSync(join(tmpdir(), "cost-synth-"));
  const app = new App({ outdir, skipValidation: true });
  buildStacks(app, environments);
  app.synth();
  return outdir;
}

const prices = loadPriceTable("eu-west-1")!;
const hours = prices.hoursPerMonth;
let outdir: string;
beforeAll(() => {
  outdir = synthTo(Object.values(ENVIRONMENTS));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const item = (stack: ReturnType<typeof findStack>, what: RegExp) => stack!.items.filter((i) => what.test(i.what));

describe("cost estimate of the synthesized stacks", () => {
  test("the committed table is dated, sourced, on-demand USD for the environments' region", () => {
    expect(prices).toMatchObject({ region: "eu-west-1", currency: "USD", retrieved: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), source: expect.stringMatching(/AWS/) });
    expect(ENVIRONMENTS.staging.cluster.kind === "eks" && ENVIRONMENTS.staging.cluster.region).toBe("eu-west-1");
  });

  test("staging: control plane, node groups by instance type x desired size, one NAT gateway, RDS single-AZ, S3, LB, volumes", () => {
    const report = estimateSynthOutput(outdir, { environments: ["staging"] });
    const platform = findStack(report, "platform-staging")!;
    const env = ENVIRONMENTS.staging;
    if (env.cluster.kind !== "eks") throw new Error("staging is EKS");
    const nodes = env.cluster.systemNodes;
    expect(item(platform, /EKS control plane/)[0].monthly).toBeCloseTo(hours * prices.eksClusterHour, 2);
    expect(item(platform, new RegExp(`^${nodes.desired} x ${nodes.instanceTypes[0]}$`))[0].monthly).toBeCloseTo(nodes.desired! * hours * prices.ec2Hour[nodes.instanceTypes[0]], 2);
    // The GPU pool scales from zero on SPOT: priced, at 0, with both facts said.
    const gpu = item(platform, /x g5\.xlarge/)[0];
    expect(gpu).toMatchObject({ monthly: 0, note: expect.stringMatching(/SPOT capacity priced at on-demand.*desired size 0/) });
    expect(item(platform, /NAT gateway/)).toHaveLength(1);
    expect(item(platform, /RDS PostgreSQL db\.t4g\.medium \(single-AZ\)/)[0].monthly).toBeCloseTo(hours * prices.rdsPostgresHour["db.t4g.medium"], 2);
    expect(item(platform, /RDS gp3 storage 50 GB/)[0].monthly).toBeCloseTo(50 * prices.rdsStorageGbMonth.gp3, 2);
    expect(item(platform, /Classic Load Balancer \(Service type LoadBalancer\)/)).toHaveLength(1);
    expect(item(platform, /Prometheus storage \(1 x 50Gi\)/)[0].quantity).toBe(50);
    expect(platform.notPriced).toEqual([]);
    expect(platform.noCharge).toMatchObject({ aws_vpc: 1, aws_subnet: 6, aws_iam_role: 4 });
    expect(platform.monthly).toBeCloseTo(platform.items.reduce((s, i) => s + i.monthly, 0), 1);
  });

  test("prod: Multi-AZ doubles RDS, NAT per zone, the GPU pool priced as its first instance type", () => {
    const platform = findStack(estimateSynthOutput(outdir, { environments: ["prod"] }), "platform-prod")!;
    expect(item(platform, /NAT gateway/)).toHaveLength(3);
    expect(item(platform, /public IPv4/)).toHaveLength(3);
    expect(item(platform, /RDS PostgreSQL db\.r7g\.large \(Multi-AZ\)/)[0].quantity).toBe(2 * hours);
    expect(item(platform, /RDS gp3 storage 200 GB \(Multi-AZ\)/)[0].quantity).toBe(400);
    const gpu = item(platform, /^1 x g5\.2xlarge$/)[0];
    expect(gpu).toMatchObject({ monthly: Math.round(hours * prices.ec2Hour["g5.2xlarge"] * 100) / 100, note: expect.stringMatching(/first of g5\.2xlarge, g6\.2xlarge/) });
    expect(item(platform, /100 GB root volume/)).toHaveLength(1);
    expect(item(platform, /Prometheus storage \(2 x 200Gi\): 400 GB gp3/)).toHaveLength(1);
  });

  test("dev runs on an existing cluster: nothing is counted as zero, the cluster-side resources are listed as not priced", () => {
    const dev = estimateSynthOutput(outdir, { environments: ["dev"] }).environments[0];
    expect(dev.monthly).toBe(0);
    const platform = dev.stacks.find((s) => s.stack === "platform-dev")!;
    expect(platform.items).toEqual([]);
    expect(platform.notPriced.map((n) => n.type).sort()).toEqual(["helm_release", "helm_release", "helm_release", "kubernetes_persistent_volume_claim_v1"]);
    expect(platform.notPriced.every((n) => /existing cluster \(kubeconfig, no AWS provider\)/.test(n.reason))).toBe(true);
  });

  test("an unknown resource type, an unknown instance type and a region without a table are not priced, never zero", () => {
    const stack = findStackConfig("platform-staging");
    const config = structuredClone(stack.config) as any;
    config.resource.aws_elasticache_cluster = { Cache: { node_type: "cache.r7g.large" } };
    const nodeGroup = Object.values<any>(config.resource.aws_eks_node_group).find((g) => g.node_group_name === "system");
    nodeGroup.instance_types = ["x9z.metal"];
    const changed = estimateStack({ ...stack, config }, (r) => loadPriceTable(r));
    expect(changed.notPriced).toEqual(
      expect.arrayContaining([
        { address: "aws_elasticache_cluster.Cache", type: "aws_elasticache_cluster", reason: "aws_elasticache_cluster is not in the cost model (stacks/cost/estimate.ts)" },
        expect.objectContaining({ type: "aws_eks_node_group", reason: "no on-demand price for instance type x9z.metal in the eu-west-1 table" }),
      ]),
    );
    const elsewhere = estimateStack(stack, () => undefined);
    expect(elsewhere.monthly).toBe(0);
    expect(elsewhere.notPriced.find((n) => n.type === "aws_eks_cluster")!.reason).toBe("no price table for region eu-west-1 (stacks/cost/prices/eu-west-1.json)");
  });

  test("npm run cost: per environment and stack, --json, --env, and a delta against another synth", () => {
    const bigger = structuredClone(ENVIRONMENTS.staging) as any;
    bigger.cluster.systemNodes = { ...bigger.cluster.systemNodes, desired: 3 };
    const base = synthTo([ENVIRONMENTS.dev, bigger, ENVIRONMENTS.prod]);
    try {
      const out: string[] = [];
      const io = { log: (t: string) => out.push(t), error: (t: string) => out.push(t) };
      expect(main(["--synth-dir", outdir, "--env", "staging", "--compare", base], io)).toBe(0);
      const perNode = Math.round(hours * prices.ec2Hour["m6i.xlarge"] * 100) / 100 + 20 * prices.ebsGbMonth.gp2;
      expect(out[0]).toMatch(new RegExp(`platform-staging\\s+\\$[\\d,.]+ \\(-\\$${perNode.toFixed(2)}\\)`));
      expect(out[0]).not.toMatch(/^prod:/m);
      out.length = 0;
      expect(main(["--synth-dir", outdir, "--json"], io)).toBe(0);
      const json = JSON.parse(out[0]);
      expect(json.environments.map((e: { environment: string }) => e.environment)).toEqual(["dev", "staging", "prod"]);
      expect(json.prices["eu-west-1"].retrieved).toBe(prices.retrieved);
      expect(main(["--env", "qa"], io)).toBe(2);
      expect(out.at(-1)).toMatch(/unknown environment qa/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test("quantities and table validation", () => {
    expect(quantityGb("200Gi")).toBe(200);
    expect(quantityGb("512Mi")).toBe(0.5);
    expect(() => quantityGb("lots")).toThrow(/not a Kubernetes quantity/);
    expect(() => checkPriceTable({ ...prices, retrieved: "yesterday" }, "t.json")).toThrow(/t\.json: retrieved must be a date/);
    expect(() => checkPriceTable({ ...prices, ec2Hour: { "m6i.large": -1 } }, "t.json")).toThrow(/ec2Hour\.m6i\.large must be a price >= 0/);
  });
});

function findStackConfig(name: string): SynthStack {
  const { readSynthOutput } = require("../../../stacks/ci/synth-output") as typeof import("../../../stacks/ci/synth-output");
  return readSynthOutput(outdir).find((s) => s.name === name)!;
}
