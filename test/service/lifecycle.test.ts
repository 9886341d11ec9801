/**
 * The real process, as Kubernetes runs it: bad configuration stops start-up with a message naming the
 * variable; SIGTERM under load turns readiness 503 at once, finishes in-flight requests and exits 0.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENV, ROUTES } from "../../service/src/contract";
import { projectRoot } from "../../service/src/paths";
import { sleep } from "../support/net";
import { embeddedModel } from "../support/service-app";
import { startService } from "../support/service-process";

it("refuses to start on bad configuration, naming each variable", () => {
  const result = spawnSync(process.execPath, [join(projectRoot(), "dist", "service", "src", "server.js")], {
    env: { ...process.env, [ENV.port]: "http", [ENV.batchMaxSize]: "-3" },
    encoding: "utf8",
    timeout: 20000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain(`${ENV.port}=http is not an integer`);
  expect(result.stderr).toContain(`${ENV.batchMaxSize}=-3`);
});

it("drains on SIGTERM under load: readiness 503 first, no failed request, exit 0", async () => {
  const example = (await embeddedModel()).inputExample[0];
  const service = await startService({ env: { [ENV.shutdownDelaySeconds]: "1", [ENV.logLevel]: "info" } });
  // A load balancer stand-in: it stops routing new requests once readiness reports 503.
  let routable = true;
  const statuses: number[] = [];
  const failures: string[] = [];
  const worker = async () => {
    while (routable) {
      try {
        const response = await fetch(service.url + ROUTES.predict, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(example),
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      } catch (error) {
        failures.push(String((error as Error).cause ?? error));
      }
    }
  };
  const probe = async () => {
    while (routable) {
      const ready = await fetch(service.url + ROUTES.readyz).then((r) => r.status, () => 0);
      if (ready !== 200) routable = false;
      await sleep(50);
    }
  };
  const load = Promise.all([...Array.from({ length: 16 }, worker), probe()]);
  await sleep(1000);
  const exitCode = service.stop("SIGTERM");
  await load;
  expect(await exitCode).toBe(0);
  expect(failures).toEqual([]);
  // Load kept running through the drain (the count itself depends on the machine: ~100-600 here).
  expect(statuses.length).toBeGreaterThan(20);
  expect(statuses.every((s) => s === 200)).toBe(true);
  expect(service.output()).toContain("shutdown complete");
}, 30000);

it("makes no call home: onnxruntime telemetry stays off (no event database in HOME, no debug log)", async () => {
  const home = mkdtempSync(join(tmpdir(), "home-"));
  const example = (await embeddedModel()).inputExample[0];
  const startedAt = Date.now();
  const service = await startService({ env: { HOME: home } });
  const response = await fetch(service.url + ROUTES.predict, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(example) });
  expect(response.status).toBe(200);
  const pid = service.process.pid!;
  expect(await service.stop()).toBe(0);
  expect(readdirSync(home)).toEqual([]);
  // Other processes (test workers importing onnxruntime-node directly) leave such files; one with this pid that
  // predates this service is theirs.
  const debugLog = `/tmp/mat-debug-${pid}.log`;
  expect(existsSync(debugLog) && statSync(debugLog).mtimeMs >= startedAt - 1000).toBe(false);
});
