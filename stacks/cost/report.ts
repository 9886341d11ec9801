/** Cost per environment and per stack, as text for people, JSON for machines, and deltas against a base. */
import { readSynthOutput } from "../ci/synth-output";
import { ENVIRONMENTS } from "../environments";
import { DEFAULT_ASSUMPTIONS, estimateStack, type CostAssumptions, type StackCost } from "./estimate";
import { loadPriceTable, type PriceTable } from "./price-table";

export interface EnvironmentCost {
  readonly environment: string;
  readonly monthly: number;
  readonly stacks: readonly StackCost[];
}

export interface CostReport {
  readonly currency: "USD";
  readonly assumptions: CostAssumptions;
  /** The tables used, by region: when and how they were made. */
  readonly prices: Readonly<Record<string, { readonly retrieved: string; readonly source: string; readonly method: string }>>;
  readonly environments: readonly EnvironmentCost[];
}

/** Estimates every stack of a cdktf output directory (optionally only some environments). */
export function estimateSynthOutput(
  outDir: string,
  options: { readonly environments?: readonly string[]; readonly assumptions?: CostAssumptions; readonly priceFor?: (region: string) => PriceTable | undefined } = {},
): CostReport {
  const tables = new Map<string, PriceTable | undefined>();
  const priceFor = options.priceFor ?? ((region: string) => loadPriceTable(region));
  const cachedPrice = (region: string) => {
    if (!tables.has(region)) tables.set(region, priceFor(region));
    return tables.get(region);
  };
  const assumptions = options.assumptions ?? DEFAULT_ASSUMPTIONS;
  const stacks = readSynthOutput(outDir)
    .filter((s) => !options.environments?.length || options.environments.includes(s.environment))
    .map((s) => estimateStack(s, cachedPrice, assumptions));
  const order = Object.keys(ENVIRONMENTS);
  const names = [...new Set(stacks.map((s) => s.environment))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const prices = Object.fromEntries(
    [...tables].filter((entry): entry is [string, PriceTable] => entry[1] !== undefined).map(([region, t]) => [region, { retrieved: t.retrieved, source: t.source, method: t.method }]),
  );
  return {
    currency: "USD",
    assumptions,
    prices,
    environments: names.map((environment) => {
      const own = stacks.filter((s) => s.environment === environment);
      return { environment, monthly: round(own.reduce((sum, s) => sum + s.monthly, 0)), stacks: own };
    }),
  };
}

export function findStack(report: CostReport, stack: string): StackCost | undefined {
  return report.environments.flatMap((e) => e.stacks).find((s) => s.stack === stack);
}

export function usd(x: number): string {
  const sign = x < 0 ? "-" : "";
  return `${sign}$${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** "+$12.40" / "-$3.00" / "$0.00" */
export function signedUsd(x: number): string {
  return x > 0 ? `+${usd(x)}` : usd(x);
}

export function formatCostReport(report: CostReport, base?: CostReport): string {
  const lines: string[] = [];
  for (const [region, t] of Object.entries(report.prices)) lines.push(`Prices: ${region}, on-demand USD, retrieved ${t.retrieved} (${t.method})`);
  lines.push(`Assumed: ${report.assumptions.s3StoredGb} GB stored per S3 bucket; usage-based charges (NAT and LB data, requests) not included.`, "");
  for (const env of report.environments) {
    const baseEnv = base?.environments.find((e) => e.environment === env.environment);
    lines.push(`${env.environment}: ${usd(env.monthly)} / month${baseEnv ? ` (${signedUsd(round(env.monthly - baseEnv.monthly))} against the base)` : ""}`);
    for (const stack of env.stacks) {
      const before = base ? findStack(base, stack.stack) : undefined;
      const delta = base ? (before ? ` (${signedUsd(round(stack.monthly - before.monthly))})` : " (new)") : "";
      lines.push(`  ${stack.stack.padEnd(32)} ${usd(stack.monthly).padStart(12)}${delta}`);
      for (const item of stack.items) {
        const rate = `${fmtQuantity(item.quantity)} ${item.unit} x $${item.unitPrice}`;
        lines.push(`    ${item.what.padEnd(52)} ${rate.padEnd(26)} ${usd(item.monthly).padStart(11)}${item.note ? `  (${item.note})` : ""}`);
      }
      for (const [reason, addresses] of groupNotPriced(stack)) lines.push(`    NOT PRICED ${addresses.length} x ${addresses[0].split(".")[0]}: ${reason}`);
    }
    const notPriced = env.stacks.reduce((n, s) => n + s.notPriced.length, 0);
    lines.push(`  ${notPriced === 0 ? "every billed resource priced" : `${notPriced} resource(s) not priced (listed above): the total is a lower bound`}`, "");
  }
  return lines.join("\n").trimEnd();
}

/** Not-priced resources of a stack grouped by type and reason. */
export function groupNotPriced(stack: StackCost): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const n of stack.notPriced) groups.set(`${n.type}\u0000${n.reason}`, [...(groups.get(`${n.type}\u0000${n.reason}`) ?? []), n.address]);
  return [...groups].map(([key, addresses]) => [key.split("\u0000")[1], addresses]);
}

function fmtQuantity(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
