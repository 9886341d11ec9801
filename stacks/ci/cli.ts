/**
 * npm run ci -- <command>: every step of the workflows that is more than one tool call.
 *
 *   matrix --workflow plan|apply [--environments staging,prod]   job matrices from cdktf.out, to $GITHUB_OUTPUT
 *   plan   --stack S [--base-synth-dir DIR]                        init + plan + summary + cost -> ci-out/S/result.json
 *   check  --stack S                                               exit 1 when that plan failed
 *   apply  --stack S                                               plan, then apply exactly that plan file
 *
 * Common: --synth-dir (default cdktf.out), --out (default ci-out). A failed plan still exits 0 from `plan`, so the
 * comment step can show it; `check` fails the job afterwards.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { estimateSynthOutput, findStack } from "../cost/report";
import { applyPhases, planMatrix } from "./matrix";
import { renderDriftIssue, renderPlanComment, summarizePlan, type CommentCost } from "./plan-summary";
import type { StackResult } from "./stack-result";
import { readSynthOutput, type SynthStack } from "./synth-output";
import { applyPlanFile, planStack } from "./terraform";

interface Io {
  log(text: string): void;
  error(text: string): void;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: Io = console): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: [...rest],
    options: {
      workflow: { type: "string" },
      environments: { type: "string", default: "staging,prod" },
      stack: { type: "string" },
      "synth-dir": { type: "string", default: "cdktf.out" },
      "base-synth-dir": { type: "string" },
      out: { type: "string", default: "ci-out" },
    },
  });
  try {
    switch (command) {
      case "matrix":
        return matrix(values.workflow, values["synth-dir"], values.environments.split(","), env, io);
      case "plan":
        return await plan(required(values.stack, "--stack"), values["synth-dir"], values["base-synth-dir"], values.out, env, io);
      case "check":
        return check(required(values.stack, "--stack"), values.out, io);
      case "apply":
        return await apply(required(values.stack, "--stack"), values["synth-dir"], env, io);
      default:
        throw new Error(`unknown command "${command ?? ""}": matrix, plan, check or apply`);
    }
  } catch (error) {
    io.error(`ci ${command ?? ""}: ${(error as Error).message}`);
    return 1;
  }
}

function matrix(workflow: string | undefined, synthDir: string, environments: string[], env: NodeJS.ProcessEnv, io: Io): number {
  const stacks = readSynthOutput(synthDir);
  const outputs: Record<string, unknown> =
    workflow === "plan" ? { stacks: planMatrix(stacks) } : workflow === "apply" ? applyPhases(stacks, environments) : fail(`--workflow must be plan or apply, got ${workflow}`);
  for (const [name, value] of Object.entries(outputs)) writeOutput(env, name, JSON.stringify(value), io);
  return 0;
}

async function plan(name: string, synthDir: string, baseDir: string | undefined, outDir: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const stack = findSynthStack(synthDir, name);
  const result = await planStack(stack.dir);
  const summary = summarizePlan(name, result.plan, result.exitCode, result.stderr);
  const cost = stackCost(synthDir, baseDir, stack, io);
  const context = runContext(env);
  const stackResult: StackResult = {
    stack: name,
    environment: stack.environment,
    summary,
    cost,
    comment: renderPlanComment(summary, cost, context),
    driftIssue: renderDriftIssue(summary, context),
  };
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "result.json"), `${JSON.stringify(stackResult, null, 2)}\n`);
  writeFileSync(join(dir, "comment.md"), `${stackResult.comment}\n`);
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, `${stackResult.comment}\n\n`);
  writeOutput(env, "exitcode", String(result.exitCode), io);
  writeOutput(env, "status", summary.status, io);
  return 0;
}

function check(name: string, outDir: string, io: Io): number {
  const file = join(outDir, name, "result.json");
  if (!existsSync(file)) throw new Error(`${file} does not exist: run npm run ci -- plan --stack ${name} first`);
  const result = JSON.parse(readFileSync(file, "utf8")) as StackResult;
  if (result.summary.status !== "failed") return 0;
  io.error(`ci check: the plan of ${name} failed:\n${result.summary.error ?? ""}`);
  return 1;
}

async function apply(name: string, synthDir: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const stack = findSynthStack(synthDir, name);
  const result = await planStack(stack.dir);
  const summary = summarizePlan(name, result.plan, result.exitCode, result.stderr);
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, `${renderPlanComment(summary, undefined, runContext(env))}\n\n`);
  if (summary.status === "failed") {
    io.error(`ci apply: the plan of ${name} failed; nothing applied:\n${summary.error ?? ""}`);
    return 1;
  }
  if (summary.status === "no-changes") {
    io.log(`ci apply: ${name} has no changes; nothing to apply`);
    return 0;
  }
  const applied = await applyPlanFile(stack.dir);
  return applied.code === 0 ? 0 : 1;
}

function stackCost(synthDir: string, baseDir: string | undefined, stack: SynthStack, io: Io): CommentCost | undefined {
  try {
    const current = findStack(estimateSynthOutput(synthDir, { environments: [stack.environment] }), stack.name);
    if (!current) return undefined;
    let base: number | undefined;
    let baseKnown = false;
    if (baseDir && existsSync(join(baseDir, "manifest.json"))) {
      try {
        base = findStack(estimateSynthOutput(baseDir, { environments: [stack.environment] }), stack.name)?.monthly;
        baseKnown = true;
      } catch (error) {
        io.error(`ci plan: main's synth output in ${baseDir} could not be estimated: ${(error as Error).message}`);
      }
    }
    return { monthly: current.monthly, base, baseKnown, notPriced: current.notPriced.length };
  } catch (error) {
    io.error(`ci plan: no cost estimate for ${stack.name}: ${(error as Error).message}`);
    return undefined;
  }
}

function findSynthStack(synthDir: string, name: string): SynthStack {
  const stack = readSynthOutput(synthDir).find((s) => s.name === name);
  if (!stack) throw new Error(`stack ${name} is not in ${synthDir}`);
  return stack;
}

function runContext(env: NodeJS.ProcessEnv) {
  const runUrl = env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  return { commit: env.GITHUB_SHA, runUrl };
}

/** `name=value` into $GITHUB_OUTPUT (values here are single-line JSON), or stdout outside Actions. */
function writeOutput(env: NodeJS.ProcessEnv, name: string, value: string, io: Io): void {
  if (value.includes("\n")) throw new Error(`output ${name} must be one line`);
  if (env.GITHUB_OUTPUT) appendFileSync(env.GITHUB_OUTPUT, `${name}=${value}\n`);
  else io.log(`${name}=${value}`);
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new Error(`${flag} is required`);
  return value;
}

function fail(message: string): never {
  throw new Error(message);
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
