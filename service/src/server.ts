/**
 * Process entry point: configuration, listen (HTTP on PORT, gRPC on GRPC_PORT), and a graceful shutdown on
 * SIGTERM/SIGINT — readiness turns 503 at once, both listeners stay open for SHUTDOWN_DELAY_SECONDS (load balancers
 * stop routing here), in-flight requests and gRPC calls finish, the prediction log flushes, and the process exits 0
 * within SHUTDOWN_GRACE_SECONDS.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { buildApp } from "./app";
import { ConfigError, loadConfig, type ServiceConfig } from "./config";

async function main(): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`modelport: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(config);
  await app.listen({ port: config.port, host: config.host });
  const grpcPort = await app.grpc.listen(config.host, config.grpc.port);
  app.log.info({ port: grpcPort }, "Open Inference Protocol over gRPC listening");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, delayMs: config.shutdownDelayMs }, "shutting down: readiness is 503, draining in-flight requests");
    app.beginShutdown();
    const deadline = setTimeout(() => {
      app.log.error({ graceMs: config.shutdownGraceMs }, "shutdown grace period exceeded; exiting with in-flight work");
      process.exit(1);
    }, config.shutdownGraceMs);
    deadline.unref();
    await sleep(config.shutdownDelayMs);
    await app.close();
    app.log.info("shutdown complete");
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  console.error("modelport: failed to start:", error);
  process.exit(1);
});
