/**
 * `npm run bench:registry [-- --root DIR] [-- --only a,b] [-- --out FILE]`
 *
 * Registry fault scenarios against the real service process (`dist/service/src/server.js`, default settings but a
 * 2 s poll interval) and the fake MLflow of test/support/fake-mlflow.ts, which answers as MLflow's handlers do:
 *   first-byte-15s   model.onnx's first byte comes 15 s late (the proxy's copy from the store): time to ready;
 *   runs-uri         a version registered from runs:/<run>/model: ready or the reason it is not;
 *   http-root        a version stored under an http(s)://…/api/2.0/mlflow-artifacts/artifacts/… root: likewise;
 *   trickle          the alias moves to a version whose model.onnx trickles 1 byte every 5 s: when the stalled
 *                    reload fails (model_reloads_total{result="failure"}), what /readyz says meanwhile;
 *   rollback         serving v2, the alias moves to a trickling v3, 10 s later back to v1: when v1 serves;
 *   retry-resume     a 40 MB external-data file arrives, model.onnx is cut, then healed: bytes fetched again;
 *   max-size         a version with a 200 MB junk file and MODEL_DOWNLOAD_MAX_BYTES=64 MiB: refused or cached.
 * Each prints one JSON line; all go to --out (default bench-results/registry-faults-<time>.json). `--root` runs
 * another checkout's build, so the same scenarios measure before/after a change. Wall-clock outcomes, not
 * benchmarks: each is bounded by its horizon and only meaningful to about one poll interval.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMBEDDED_MODEL_DIR, ENV, METRICS, ROUTES } from "../service/src/contract";
import { readModelPackage } from "../service/src/model/mlmodel";
import { projectRoot } from "../service/src/paths";
import { FakeMlflow } from "../test/support/fake-mlflow";
import { sleep } from "../test/support/net";
import { startService, type RunningService } from "../test/support/service-process";

const NAME = "flight-delay";
const POLL_SECONDS = 2;
const MODEL = join(projectRoot(), EMBEDDED_MODEL_DIR);

interface Context {
  readonly root?: string;
  readonly example: Record<string, unknown>;
}
type Result = Record<string, unknown> & { readonly scenario: string };
type Scenario = (context: Context) => Promise<Omit<Result, "scenario">>;

const SCENARIOS: Record<string, Scenario> = {
  "first-byte-15s": async (context) =>
    withRegistry(async (mlflow) => {
      const v1 = await mlflow.register(NAME, { dir: MODEL, aliases: ["champion"] });
      mlflow.delayFirstByte(v1, "model.onnx", 15_000);
      return withService(context, mlflow, {}, async (service, clock) => {
        const ready = await until(60_000, async () => ((await fetch(service.url + ROUTES.readyz)).ok ? true : undefined));
        return { ready_after_s: ready ? clock() : null, horizon_s: 60, reason_if_not: ready ? undefined : await readyReason(service) };
      });
    }),

  "runs-uri": (context) => loadsFrom(context, { fromRunUri: true }),
  "http-root": (context) => loadsFrom(context, { artifactRoot: "http" }),

  trickle: async (context) =>
    withRegistry(async (mlflow) => {
      await mlflow.register(NAME, { dir: MODEL, aliases: ["champion"] });
      const v2 = await mlflow.register(NAME, { dir: MODEL });
      mlflow.failTransfer(v2, "model.onnx", "trickle", { trickleEveryMs: 5000 });
      return withService(context, mlflow, {}, async (service, clock) => {
        await until(30_000, async () => ((await fetch(service.url + ROUTES.readyz)).ok ? true : undefined));
        const before = await failures(service);
        clock.reset();
        mlflow.setAlias(NAME, "champion", v2.version);
        await sleep(POLL_SECONDS * 1000 + 1000);
        const readyzWhileStuck = await (await fetch(service.url + ROUTES.readyz)).json();
        const failed = await until(150_000, async () => ((await failures(service)) > before ? true : undefined));
        return {
          reload_failure_counted_after_s: failed ? clock() : null,
          horizon_s: 150,
          readyz_while_stuck: readyzWhileStuck,
          readyz_after: await (await fetch(service.url + ROUTES.readyz)).json(),
        };
      });
    }),

  rollback: async (context) =>
    withRegistry(async (mlflow) => {
      const v1 = await mlflow.register(NAME, { dir: MODEL, aliases: ["champion"] });
      const v2 = await mlflow.register(NAME, { dir: MODEL });
      const v3 = await mlflow.register(NAME, { dir: MODEL });
      mlflow.failTransfer(v3, "model.onnx", "trickle", { trickleEveryMs: 5000 });
      return withService(context, mlflow, {}, async (service, clock) => {
        mlflow.setAlias(NAME, "champion", v2.version);
        await until(30_000, async () => ((await servedVersion(service, context)) === v2.version ? true : undefined));
        mlflow.setAlias(NAME, "champion", v3.version);
        await sleep(10_000);
        clock.reset();
        mlflow.setAlias(NAME, "champion", v1.version);
        const served = await until(120_000, async () => ((await servedVersion(service, context)) === v1.version ? true : undefined));
        return {
          rollback_served_after_s: served ? clock() : null,
          horizon_s: 120,
          poll_interval_s: POLL_SECONDS,
          serving_at_end: await servedVersion(service, context),
        };
      });
    }),

  "retry-resume": async (context) =>
    withModelCopy(async (dir) => {
      await writeFile(join(dir, "data.bin"), Buffer.alloc(40 * 1024 * 1024, 7));
      return withRegistry(async (mlflow) => {
        const v1 = await mlflow.register(NAME, { dir, aliases: ["champion"] });
        mlflow.failTransfer(v1, "model.onnx", "cut");
        return withService(context, mlflow, {}, async (service, clock) => {
          await until(10_000, async () => ((await failures(service)) > 0 ? true : undefined));
          mlflow.failTransfer(v1, "model.onnx", undefined);
          const ready = await until(60_000, async () => ((await fetch(service.url + ROUTES.readyz)).ok ? true : undefined));
          const downloads = mlflow.requests.filter((r) => r.endpoint === "downloadArtifact" && r.url.endsWith("/data.bin")).length;
          return { ready_after_s: ready ? clock() : null, data_bin_downloads: downloads, data_bin_bytes: 40 * 1024 * 1024 };
        });
      });
    }),

  "max-size": async (context) =>
    withModelCopy(async (dir) => {
      await writeFile(join(dir, "junk.bin"), Buffer.alloc(200 * 1024 * 1024, 1));
      return withRegistry(async (mlflow) => {
        await mlflow.register(NAME, { dir, aliases: ["champion"] });
        return withService(context, mlflow, { [ENV.modelDownloadMaxBytes]: String(64 * 1024 * 1024) }, async (service, clock) => {
          const settled = await until(60_000, async () =>
            (await fetch(service.url + ROUTES.readyz)).ok || (await failures(service)) > 0 ? true : undefined,
          );
          const junkDownloads = mlflow.requests.filter((r) => r.endpoint === "downloadArtifact" && r.url.endsWith("/junk.bin")).length;
          return {
            settled_after_s: settled ? clock() : null,
            ready: (await fetch(service.url + ROUTES.readyz)).ok,
            junk_downloads: junkDownloads,
            reason: await readyReason(service),
          };
        });
      });
    }),
};

async function loadsFrom(context: Context, options: { fromRunUri?: boolean; artifactRoot?: "http" }) {
  return withRegistry(async (mlflow) => {
    await mlflow.register(NAME, { dir: MODEL, aliases: ["champion"], ...options });
    return withService(context, mlflow, {}, async (service, clock) => {
      const ready = await until(20_000, async () => ((await fetch(service.url + ROUTES.readyz)).ok ? true : undefined));
      return { ready_after_s: ready ? clock() : null, served: await servedVersion(service, context), reason_if_not: ready ? undefined : await readyReason(service) };
    });
  });
}

// --- harness ----------------------------------------------------------------------------------------------------------

interface Clock {
  (): number;
  reset(): void;
}

function clockFrom(start: number): Clock {
  let origin = start;
  const clock = (() => Math.round((performance.now() - origin) / 100) / 10) as Clock;
  clock.reset = () => (origin = performance.now());
  return clock;
}

async function withRegistry<T>(run: (mlflow: FakeMlflow) => Promise<T>): Promise<T> {
  const mlflow = await FakeMlflow.start();
  try {
    return await run(mlflow);
  } finally {
    await mlflow.stop();
  }
}

async function withModelCopy<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const work = await mkdtemp(join(tmpdir(), "registry-faults-"));
  try {
    const dir = join(work, "model");
    await cp(MODEL, dir, { recursive: true });
    return await run(dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function withService<T>(
  context: Context,
  mlflow: FakeMlflow,
  env: Record<string, string>,
  run: (service: RunningService, clock: Clock) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const service = await startService({
    root: context.root,
    waitReady: false,
    env: {
      [ENV.modelUri]: `models:/${NAME}@champion`,
      [ENV.mlflowTrackingUri]: mlflow.url,
      [ENV.modelPollIntervalSeconds]: String(POLL_SECONDS),
      [ENV.logLevel]: "warn",
      ...env,
    },
  });
  try {
    return await run(service, clockFrom(started));
  } finally {
    await service.stop("SIGKILL");
  }
}

async function until(timeoutMs: number, probe: () => Promise<true | undefined>): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await probe().catch(() => undefined)) return true;
    await sleep(100);
  }
  return false;
}

async function readyReason(service: RunningService): Promise<unknown> {
  const body = (await (await fetch(service.url + ROUTES.readyz)).json()) as { reason?: unknown };
  return body.reason ?? body;
}

async function servedVersion(service: RunningService, context: Context): Promise<string | undefined> {
  const response = await fetch(service.url + ROUTES.predict, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(context.example),
  });
  return response.ok ? ((await response.json()) as { version: string }).version : undefined;
}

async function failures(service: RunningService): Promise<number> {
  const text = await (await fetch(service.url + ROUTES.metrics)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${METRICS.modelReloadsTotal}{`) && line.includes('result="failure"'))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main(): Promise<void> {
  const root = argument("root");
  const only = argument("only")?.split(",");
  const out = argument("out") ?? join(projectRoot(), "bench-results", `registry-faults-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  const example = { ...(await readModelPackage(MODEL)).inputExample[0]! };
  const results: Result[] = [];
  for (const [scenario, run] of Object.entries(SCENARIOS)) {
    if (only && !only.includes(scenario)) continue;
    const result: Result = { scenario, ...(await run({ root, example }).catch((error: Error) => ({ error: error.message }))) };
    console.log(JSON.stringify(result));
    results.push(result);
  }
  await mkdir(join(out, ".."), { recursive: true });
  await writeFile(out, JSON.stringify({ root: root ?? projectRoot(), results }, null, 2));
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
