/** The traffic simulator against the real service process: real flights in, every request answered 200. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../service/src/paths";
import { parseSimulateArgs, DRIFTED_MONTHS, TRAINING_MONTHS } from "../../service/src/drift/simulate";
import { ENV, FEEDBACK_TABLE } from "../../service/src/contract";
import { TestPostgres } from "../support/postgres";
import { startService, type RunningService } from "../support/service-process";

const SIMULATE = join(projectRoot(), "dist", "service", "src", "drift", "simulate.js");

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SIMULATE, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run simulate", () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService();
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
  });

  it("sends 200 drifted flights; every one is answered 200", async () => {
    const { code, stdout, stderr } = await run(["--drift", "true", "--url", service.url, "--requests", "200", "--concurrency", "4"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringContaining("months 6") });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ sent: 200, ok: 200, errors: 0, errorsByStatus: {}, months: [6] });
    expect(summary.requestsPerSecond).toBeGreaterThan(0);
  }, 60_000);

  it("with no service listening: exit 1 and a message naming the URL", async () => {
    const { code, stderr } = await run(["--drift", "false", "--url", "http://127.0.0.1:9", "--requests", "3", "--months", "1"]);
    expect(code).toBe(1);
    expect(stderr).toContain("http://127.0.0.1:9");
  }, 60_000);

  it("parses its options and refuses bad ones with the flag named", () => {
    expect(parseSimulateArgs(["--drift", "false"])).toMatchObject({ months: TRAINING_MONTHS, durationMs: 30_000, concurrency: 8, url: "http://127.0.0.1:8080" });
    expect(parseSimulateArgs(["--drift", "true", "--requests", "10"])).toMatchObject({ months: DRIFTED_MONTHS, requests: 10, durationMs: undefined });
    expect(parseSimulateArgs(["--drift", "true", "--duration", "2m"])).toMatchObject({ durationMs: 120_000 });
    expect(() => parseSimulateArgs(["--drift", "maybe"])).toThrow(/--drift maybe/);
    expect(() => parseSimulateArgs(["--drift", "true", "--requests", "0"])).toThrow(/--requests 0/);
    expect(() => parseSimulateArgs(["--drift", "true", "--duration", "soon"])).toThrow(/--duration soon/);
    expect(() => parseSimulateArgs(["--months", "9"])).toThrow(/--months 9/);
  });
});

describe("npm run simulate --feedback", () => {
  let pg: TestPostgres;
  let service: RunningService;
  beforeAll(async () => {
    pg = await TestPostgres.start();
    service = await startService({ env: { [ENV.predictionLogUrl]: await pg.createDatabase("simulate") } });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await pg?.stop();
  });

  it("sends each flight's real outcome as ground truth; the labels land in the feedback table", async () => {
    const { code, stdout } = await run(["--drift", "false", "--url", service.url, "--requests", "120", "--concurrency", "4", "--feedback"]);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ sent: 120, ok: 120, feedbackSent: 120 });
    const statuses = summary.feedbackByStatus as Record<string, number>;
    expect(Object.values(statuses).reduce((a, b) => a + b, 0)).toBe(120);
    const [{ n }] = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${FEEDBACK_TABLE}`, [], "simulate");
    expect(Number(n)).toBe(statuses.accepted ?? 0);
    expect(Number(n)).toBeGreaterThan(0);
  }, 60_000);
});
