/**
 * Issue 19 findings 4, 5 and 10 (duplicate Host) on real sockets against the real app listening on loopback:
 * raw `net` clients, because what is tested is what a client can do below HTTP (send half a request, never
 * read, pipeline, repeat a header). No durations are asserted; waits are generous polls.
 */
import { connect, type Socket } from "node:net";
import { ENV, METRICS, ROUTES } from "../../service/src/contract";
import type { ModelportApp } from "../../service/src/app";
import { connectionStats } from "../../service/src/http/server";
import { waitFor } from "../support/net";
import { embeddedModel, metricValue, startTestApp } from "../support/service-app";

let body: string;
beforeAll(async () => {
  body = JSON.stringify((await embeddedModel()).inputExample[0]);
});

const request = (extraHeaders = "") =>
  `POST ${ROUTES.predict} HTTP/1.1\r\nHost: test\r\n${extraHeaders}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

interface RawClient {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  readonly closed: Promise<void>;
}

function rawClient(port: number, send?: string): RawClient {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (chunk) => (received += chunk));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  if (send !== undefined) socket.write(send);
  return { socket, received: () => received, closed };
}

const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

/** One well-behaved request on a fresh connection: its status, or "reset"/"no answer". */
async function normalRequest(port: number): Promise<string> {
  const client = rawClient(port, request());
  const deadline = setTimeout(() => client.socket.destroy(), 20_000);
  for (;;) {
    const status = statusLines(client.received())[0];
    if (status || client.socket.destroyed) {
      clearTimeout(deadline);
      client.socket.destroy();
      return status?.slice(9) ?? "no answer";
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function listening(env: Record<string, string>): Promise<{ app: ModelportApp; port: number }> {
  const app = await startTestApp(env);
  await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, port: (app.server.address() as { port: number }).port };
}

const dropped = (app: ModelportApp, reason: string) => metricValue(app, METRICS.httpConnectionsDroppedTotal, { reason });

describe("slow clients (slowloris)", () => {
  it("are answered 408 and disconnected once their headers or body are late, while normal clients are served", async () => {
    // Before: requestTimeout/connectionTimeout were 0, so these were held indefinitely (~1,000 of them exhausted
    // a 1024-descriptor limit and every normal connection was reset).
    const { app, port } = await listening({ [ENV.httpHeadersTimeoutMs]: "1000", [ENV.httpRequestTimeoutMs]: "2000" });
    try {
      const headersOnly = `POST ${ROUTES.predict} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`;
      const slow = [
        ...Array.from({ length: 100 }, () => rawClient(port, "POST /predict HTTP/1.1\r\nHost: te")), // headers never finish
        ...Array.from({ length: 100 }, () => rawClient(port, headersOnly)), // body never finishes
        ...Array.from({ length: 50 }, () => rawClient(port)), // nothing at all
      ];
      expect(await normalRequest(port)).toBe("200");
      await Promise.all(slow.map((c) => c.closed));
      for (const c of slow) expect(statusLines(c.received())).toEqual(["HTTP/1.1 408"]);
      expect(await dropped(app, "request_timeout")).toBe(250);
      expect(await normalRequest(port)).toBe("200");
    } finally {
      await app.close();
    }
  });

  it("closes a connection that falls silent with a request open (HTTP_CONNECTION_TIMEOUT_MS), counted", async () => {
    const { app, port } = await listening({ [ENV.requestTimeoutMs]: "100", [ENV.httpConnectionTimeoutMs]: "1000", [ENV.httpRequestTimeoutMs]: "600000" });
    try {
      const silent = rawClient(port, `POST ${ROUTES.predict} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"ho`);
      await silent.closed;
      expect(await dropped(app, "connection_timeout")).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe("connection cap (HTTP_MAX_CONNECTIONS)", () => {
  it("makes room by closing the oldest connection with nothing in progress, and refuses only when all are busy", async () => {
    const { app, port } = await listening({ [ENV.httpMaxConnections]: "20" });
    try {
      // 20 connections that never send a request (a slowloris holding slots): the 21st, a normal client, is
      // served, and the oldest of them is closed for it.
      const silent = Array.from({ length: 20 }, () => rawClient(port));
      await waitFor("20 connections accepted", async () => ((await connectionCount(app)) === 20 ? true : undefined), 10_000, 20);
      expect(await normalRequest(port)).toBe("200");
      await silent[0]!.closed;
      expect(silent.slice(1).every((c) => !c.socket.destroyed)).toBe(true);
      expect(await dropped(app, "max_connections")).toBe(1);
      for (const c of silent) c.socket.destroy();
      await waitFor("the silent ones gone", async () => ((await connectionCount(app)) === 0 ? true : undefined), 10_000, 20);

      // 20 connections each with a request in progress (headers in, body still coming): nothing to give way,
      // so the 21st is closed on arrival, unanswered, and counted.
      const partial = `POST ${ROUTES.predict} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`;
      const busy = Array.from({ length: 20 }, () => rawClient(port, partial));
      await waitFor("20 requests in progress", async () => (connectionStats(app.server)?.busy === 20 ? true : undefined), 10_000, 20);
      const extra = rawClient(port, request());
      await extra.closed;
      expect(extra.received()).toBe("");
      expect(await dropped(app, "max_connections")).toBe(2);
      expect(busy.every((c) => !c.socket.destroyed)).toBe(true);
      for (const c of busy) c.socket.destroy();
    } finally {
      await app.close();
    }
  });
});

function connectionCount(app: ModelportApp): Promise<number> {
  return new Promise((resolve, reject) => app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

describe("pipelining (HTTP_MAX_PIPELINED_REQUESTS)", () => {
  it("answers up to the limit in order, then 429 and closes; the rest never reach the app", async () => {
    const { app, port } = await listening({ [ENV.httpMaxPipelinedRequests]: "4" });
    try {
      const over = Array.from({ length: 5 }, () => rawClient(port, request().repeat(14)));
      await Promise.all(over.map((c) => c.closed));
      for (const c of over) expect(statusLines(c.received())).toEqual([...Array(4).fill("HTTP/1.1 200"), "HTTP/1.1 429"]);
      expect(await dropped(app, "pipelining")).toBe(5);
      expect(await metricValue(app, METRICS.httpRequestsTotal, { route: ROUTES.predict, status_code: "200" })).toBe(5 * 4);
    } finally {
      await app.close();
    }
  });

  it("cuts a connection that floods pipelined requests, and normal clients are served meanwhile", async () => {
    // Before: 50 connections pipelining left a normal client 16-25 of ~197 answers and stalled the loop 7.6 s.
    const { app, port } = await listening({ [ENV.httpMaxPipelinedRequests]: "4" });
    try {
      const flood = Array.from({ length: 20 }, () => rawClient(port, request().repeat(500)));
      expect(await normalRequest(port)).toBe("200");
      await Promise.all(flood.map((c) => c.closed));
      for (const c of flood) expect(statusLines(c.received()).length).toBeLessThanOrEqual(5);
      expect(await dropped(app, "pipelining")).toBe(20);
      // Of 10,000 requests sent, at most the 4 per connection in progress at the cut reached the app.
      const served = (await metricValue(app, METRICS.httpRequestsTotal, { route: ROUTES.predict, status_code: "200" })) ?? 0;
      expect(served).toBeLessThanOrEqual(1 + 20 * 4);
      expect(await normalRequest(port)).toBe("200");
    } finally {
      await app.close();
    }
  });

  it("serves a client that pipelines within the limit, answer for answer", async () => {
    const { app, port } = await listening({ [ENV.httpMaxPipelinedRequests]: "8" });
    try {
      const client = rawClient(port, request().repeat(8));
      await waitFor("8 answers", async () => (statusLines(client.received()).length === 8 ? true : undefined), 10_000, 10);
      client.socket.write(request().repeat(8));
      await waitFor("16 answers", async () => (statusLines(client.received()).length === 16 ? true : undefined), 10_000, 10);
      expect(new Set(statusLines(client.received()))).toEqual(new Set(["HTTP/1.1 200"]));
      expect(client.socket.destroyed).toBe(false);
      client.socket.destroy();
    } finally {
      await app.close();
    }
  });
});

describe("duplicate Host headers", () => {
  it("are answered 400 (and one Host is served)", async () => {
    const { app, port } = await listening({});
    try {
      const twice = rawClient(port, request("Host: other\r\n"));
      await twice.closed;
      expect(statusLines(twice.received())).toEqual(["HTTP/1.1 400"]);
      expect(twice.received()).toMatch(/more than one Host header/);
      const differentCase = rawClient(port, request("host: test\r\n"));
      await differentCase.closed;
      expect(statusLines(differentCase.received())).toEqual(["HTTP/1.1 400"]);
      expect(await normalRequest(port)).toBe("200");
    } finally {
      await app.close();
    }
  });
});
