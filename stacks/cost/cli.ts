/**
 * npm run cost -- [--env <name>]... [--json] [--synth-dir cdktf.out] [--compare <other cdktf.out>] [--s3-gb 100]
 *
 * Monthly estimate per environment and per stack from the synthesized stacks (run `npm run synth` first; `npm run
 * cost` does). Exit code 0; 2 for bad arguments or a missing synth output.
 */
import { parseArgs } from "node:util";
import { ENVIRONMENTS } from "../environments";
import { DEFAULT_ASSUMPTIONS } from "./estimate";
import { estimateSynthOutput, formatCostReport } from "./report";

export const USAGE = `Usage: npm run cost -- [--env <name>]... [--json] [--synth-dir <dir>] [--compare <dir>] [--s3-gb <n>]
  --env <name>        only this environment (${Object.keys(ENVIRONMENTS).join(", ")}); repeatable. Default: all
  --json              the full estimate as JSON
  --synth-dir <dir>   cdktf output to read. Default: cdktf.out
  --compare <dir>     another cdktf output (e.g. main's): deltas per stack and environment
  --s3-gb <n>         GB assumed stored per S3 bucket. Default: ${DEFAULT_ASSUMPTIONS.s3StoredGb}`;

export function main(argv: readonly string[], out: { log(t: string): void; error(t: string): void } = console): number {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        env: { type: "string", multiple: true, default: [] },
        json: { type: "boolean", default: false },
        "synth-dir": { type: "string", default: "cdktf.out" },
        compare: { type: "string" },
        "s3-gb": { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (error) {
    out.error(`cost: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out.log(USAGE);
    return 0;
  }
  const unknown = values.env.filter((e) => !(e in ENVIRONMENTS));
  const s3 = values["s3-gb"] === undefined ? DEFAULT_ASSUMPTIONS.s3StoredGb : Number(values["s3-gb"]);
  if (unknown.length > 0 || !(Number.isFinite(s3) && s3 >= 0)) {
    out.error(`cost: ${unknown.length ? `unknown environment ${unknown.join(", ")}` : `--s3-gb ${values["s3-gb"]}: expected a number >= 0`}\n${USAGE}`);
    return 2;
  }
  try {
    const options = { environments: values.env, assumptions: { s3StoredGb: s3 } };
    const report = estimateSynthOutput(values["synth-dir"], options);
    const base = values.compare ? estimateSynthOutput(values.compare, options) : undefined;
    out.log(values.json ? JSON.stringify(base ? { ...report, base } : report, null, 2) : formatCostReport(report, base));
    return 0;
  } catch (error) {
    out.error(`cost: ${(error as Error).message}`);
    return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
