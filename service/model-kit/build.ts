/**
 * `npm run model:build [-- --model NAME ...] [-- --heavy] [-- --out DIR]`: trains the demo models on the real
 * flights data and writes their MLflow model directories (default: every demo model of demo-models.ts, into
 * service/models/). `--model NAME` (repeatable) builds only those; `--heavy` writes the compute-heavy MLP
 * variant used by the batching benchmark instead; `--out DIR` writes the one model chosen to DIR.
 */
import { join } from "node:path";
import { HEAVY_MODEL_DIR } from "../src/contract/settings";
import { readModelPackage } from "../src/model/mlmodel";
import type { ModelBuild } from "./build-flight-delay";
import { DEMO_MODEL_NAMES, DEMO_MODELS, isDemoModelName, type DemoModelName } from "./demo-models";
import { FLIGHT_DELAY_INPUTS, PROBABILITIES_OUTPUT } from "./flight-delay-model";
import { buildHeavyModel } from "./heavy-model";
import { measureLatency } from "./latency";
import { ONNX_FILE } from "./mlflow-model-dir";
import { createSession } from "./onnx-scoring";

interface Arguments {
  readonly heavy: boolean;
  readonly models: readonly DemoModelName[];
  readonly out?: string;
}

const USAGE = "usage: npm run model:build [-- --model NAME ...] [-- --heavy] [-- --out DIR]";

function parseArguments(argv: readonly string[]): Arguments {
  let heavy = false;
  let out: string | undefined;
  const models: DemoModelName[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--heavy") heavy = true;
    else if (argv[i] === "--out") {
      out = argv[++i];
      if (!out) throw new UsageError("--out needs a directory");
    } else if (argv[i] === "--model") {
      const name = argv[++i] ?? "";
      if (!isDemoModelName(name)) throw new UsageError(`--model ${name || "(missing)"}: not a demo model; choose one of ${DEMO_MODEL_NAMES.join(", ")}`);
      if (!models.includes(name)) models.push(name);
    } else throw new UsageError(`unknown argument ${argv[i]}`);
  }
  if (heavy && models.length > 0) throw new UsageError("--heavy builds the heavy variant only: drop --model");
  if (out && !heavy && models.length !== 1) throw new UsageError("--out writes one model: choose it with --model NAME (or --heavy)");
  return { heavy, models: heavy ? [] : models.length > 0 ? models : DEMO_MODEL_NAMES, out };
}

class UsageError extends Error {}

interface BuildJob {
  readonly name: string;
  readonly outDir: string;
  readonly build: (outDir: string) => Promise<ModelBuild>;
  readonly output: string;
  readonly batches: readonly number[];
}

async function runJob(job: BuildJob): Promise<void> {
  const started = performance.now();
  const { metrics, onnx } = await job.build(job.outDir);
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  // Latency is measured, printed and not stored: it depends on the machine, and the files must not.
  const session = await createSession(join(job.outDir, ONNX_FILE));
  const latency = await measureLatency(session, FLIGHT_DELAY_INPUTS, (await readModelPackage(job.outDir)).inputExample, job.batches, [job.output]);
  await session.release();
  console.log(JSON.stringify({ model: job.name, outDir: job.outDir, seconds, onnxBytes: onnx.length, metrics, ortLatencyOneThread: latency }, null, 2));
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const jobs: BuildJob[] = args.heavy
    ? [{ name: "flight-delay-heavy", outDir: args.out ?? join(process.cwd(), HEAVY_MODEL_DIR), build: (dir) => buildHeavyModel(dir), output: PROBABILITIES_OUTPUT, batches: [1, 8, 32, 64, 128] }]
    : args.models.map((name) => ({
        name,
        outDir: args.out ?? join(process.cwd(), DEMO_MODELS[name].dir),
        build: (dir: string) => DEMO_MODELS[name].build(dir),
        output: DEMO_MODELS[name].mainOutput,
        batches: [1, 8, 64],
      }));
  for (const job of jobs) await runJob(job);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`model:build: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
});
