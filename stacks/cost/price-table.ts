/**
 * The committed price tables (stacks/cost/prices/<region>.json): on-demand USD per region, dated, with their
 * source. A maintainer regenerates them from the AWS Price List bulk offer files (npm run cost:prices).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../service/src/paths";

export interface PriceTable {
  readonly region: string;
  readonly currency: "USD";
  /** When the prices were taken (YYYY-MM-DD). */
  readonly retrieved: string;
  readonly source: string;
  /** How the table was made (generated from offer files, or transcribed). */
  readonly method: string;
  readonly hoursPerMonth: number;
  readonly eksClusterHour: number;
  /** Linux, shared tenancy, per instance type. */
  readonly ec2Hour: Readonly<Record<string, number>>;
  readonly natGatewayHour: number;
  readonly natGatewayPerGb: number;
  /** Every public IPv4 address, attached or not (Elastic IPs of NAT gateways included). */
  readonly publicIpv4Hour: number;
  /** PostgreSQL, single-AZ, per instance class (Multi-AZ costs twice). */
  readonly rdsPostgresHour: Readonly<Record<string, number>>;
  /** Single-AZ, per storage type. */
  readonly rdsStorageGbMonth: Readonly<Record<string, number>>;
  readonly ebsGbMonth: Readonly<Record<string, number>>;
  readonly s3StandardGbMonth: number;
  readonly loadBalancerHour: { readonly classic: number; readonly network: number; readonly application: number };
  readonly secretsManagerSecretMonth: number;
}

/** In the source tree (the JSON files are not transpiled into dist/). */
export const PRICES_DIR = join(projectRoot(), "stacks", "cost", "prices");

/** Fields every table must have, with a number (or a map of numbers). */
const NUMBERS = ["hoursPerMonth", "eksClusterHour", "natGatewayHour", "natGatewayPerGb", "publicIpv4Hour", "s3StandardGbMonth", "secretsManagerSecretMonth"] as const;
const MAPS = ["ec2Hour", "rdsPostgresHour", "rdsStorageGbMonth", "ebsGbMonth", "loadBalancerHour"] as const;

/** The table for a region, or undefined when none is committed (its resources are then not priced). */
export function loadPriceTable(region: string, dir = PRICES_DIR): PriceTable | undefined {
  const file = join(dir, `${region}.json`);
  if (!existsSync(file)) return undefined;
  return checkPriceTable(JSON.parse(readFileSync(file, "utf8")), file);
}

export function checkPriceTable(raw: unknown, where: string): PriceTable {
  const table = raw as Record<string, unknown>;
  const fail = (what: string) => {
    throw new Error(`${where}: ${what}`);
  };
  if (!table || typeof table !== "object") fail("not a JSON object");
  if (table.currency !== "USD") fail(`currency must be USD, got ${String(table.currency)}`);
  for (const key of ["region", "retrieved", "source", "method"]) if (typeof table[key] !== "string" || table[key] === "") fail(`${key} must be a non-empty string`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(String(table.retrieved))) fail(`retrieved must be a date (YYYY-MM-DD), got ${String(table.retrieved)}`);
  const price = (value: unknown, key: string) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) fail(`${key} must be a price >= 0, got ${JSON.stringify(value)}`);
  };
  for (const key of NUMBERS) price(table[key], key);
  for (const key of MAPS) {
    const map = table[key];
    if (!map || typeof map !== "object") fail(`${key} must be an object of prices`);
    for (const [name, value] of Object.entries(map as object)) price(value, `${key}.${name}`);
  }
  return table as unknown as PriceTable;
}
