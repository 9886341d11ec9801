/**
 * `npm run model:build [-- --heavy] [-- --out DIR]`: trains the flight-delay demo model on the real
 * flights data and writes its MLflow model directory (default: the embedded model the service serves).
 * `--heavy` writes the compute-heavy MLP variant used by the batching benchmark instead.
 */
import { join } from "node:path";
import { EMBEDDED_MODEL_DIR, HEAVY_MODEL_DIR } from "../src/contract/settings";
import { readModelPackage } from "../src/model/mlmodel";
import { buildFlightDelayModel } from "./build-flight-delay";
import { FLIGHT_DELAY_INPUTS } from "./flight-delay-model";
import { buildHeavyModel } from "./heavy-model";
import { measureLatency } from "./latency";
import { ONNX_FILE } from "./mlflow-model-dir";
import { createSession } from "./onnx-scoring";

interface Arguments {
  readonly heavy: boolean;
  readonly out?: string;
}

function parseArguments(argv: readonly string[]): Arguments {
  let heavy = false;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--heavy") heavy = true;
    else if (argv[i] === "--out") {
      out = argv[++i];
      if (!out) throw new UsageError("--out needs a directory");
    } else throw new UsageError(`unknown argument ${argv[i]}`);
  }
  return { heavy, out };
}

class UsageError extends Error {}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const started = performance.now();
  const outDir = args.out ?? join(process.cwd(), args.heavy ? HEAVY_MODEL_DIR : EMBEDDED_MODEL_DIR);
  const { metrics, onnx } = args.heavy ? await buildHeavyModel(outDir) : await buildFlightDelayModel(outDir);
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  // Latency is measured, printed and not stored: it depends on the machine, and the files must not.
  const session = await createSession(join(outDir, ONNX_FILE));
  const latency = await measureLatency(session, FLIGHT_DELAY_INPUTS, (await readModelPackage(outDir)).inputExample, args.heavy ? [1, 8, 32, 64, 128] : [1, 8, 64]);
  await session.release();
  console.log(JSON.stringify({ outDir, seconds, onnxBytes: onnx.length, metrics, ortLatencyOneThread: latency }, null, 2));
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`model:build: ${error.message}\nusage: npm run model:build [-- --heavy] [-- --out DIR]`);
    process.exitCode = 2;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
});
