/**
 * The gRPC service as a Fastify plugin: decorates `app.grpc` (bound by server.ts, or by a test, with
 * `app.grpc.listen(host, port)`) and ties it to the app's lifecycle. When the app closes, gRPC stops taking calls
 * in preClose, alongside the HTTP listener, and the app's onClose waits for its calls in flight before the model
 * manager and the prediction log close (onClose hooks run last-registered first: register this plugin after the
 * prediction log).
 */
import fp from "fastify-plugin";
import type { ServiceMetrics } from "../metrics/service-metrics";
import type { V2Service } from "../v2/service";
import { GrpcInferenceServer } from "./inference-server";

export interface GrpcPluginOptions {
  readonly service: V2Service;
  readonly metrics: ServiceMetrics;
  readonly maxMessageBytes: number;
  readonly requestTimeoutMs: number;
  /** Longest the calls in flight may take to answer once closing starts. */
  readonly drainTimeoutMs: number;
}

declare module "fastify" {
  interface FastifyInstance {
    grpc: GrpcInferenceServer;
  }
}

export const grpcPlugin = fp<GrpcPluginOptions>(
  async (app, options) => {
    const server = new GrpcInferenceServer({ ...options, log: app.log.child({ component: "grpc" }) });
    app.decorate("grpc", server);
    let draining: Promise<void> | undefined;
    app.addHook("preClose", (done) => {
      draining = server.close(options.drainTimeoutMs);
      done();
    });
    app.addHook("onClose", async () => {
      await (draining ?? server.close(options.drainTimeoutMs));
    });
  },
  { name: "modelport-grpc" },
);
