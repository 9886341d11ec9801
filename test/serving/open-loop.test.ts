// The benchmark's open-loop generator against a real HTTP server on loopback: it keeps its rate whatever the
// server does, counts every request once (answer by status, timeout or error), and times from the schedule.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { runOpenLoop } from "../../bench/open-loop";

let server: Server;
let url: string;
let received = 0;
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const n = received++;
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      if (bodies.length < 3) bodies.push(body);
      if (n % 10 === 9) return; // never answered: the client must time it out
      const status = n % 2 === 0 ? 200 : 503;
      const delay = n % 10 === 4 ? 60 : 0;
      setTimeout(() => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ n })), delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/predict`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it("sends at the given rate, counts every request once and times answers from their scheduled send", async () => {
  received = 0;
  let measuringAt = -1;
  const result = await runOpenLoop({
    url,
    rate: 200,
    durationS: 1,
    warmUpS: 0.5,
    body: '{"x":1}',
    timeoutMs: 300,
    onMeasuring: () => (measuringAt = received),
  });
  expect(result.sent).toBe(200);
  expect(received).toBe(300); // warm-up requests are sent too, only not measured
  expect(measuringAt).toBeGreaterThanOrEqual(0);
  // Every measured request ends exactly one way; every 10th is never answered and times out.
  const answers = Object.values(result.status).reduce((a, b) => a + b, 0);
  expect(answers).toBe(result.answered);
  expect(result.answered + result.timeouts + result.errors).toBe(200);
  // Per ten requests the server answers five 200s and four 503s and drops one (arrival order across
  // connections may shift a request or two between warm-up and the measured phase).
  expect(result.errors).toBe(0);
  expect(Math.abs(result.timeouts - 20)).toBeLessThanOrEqual(2);
  expect(Math.abs(result.status["200"]! - 100)).toBeLessThanOrEqual(3);
  expect(Math.abs(result.status["503"]! - 80)).toBeLessThanOrEqual(3);
  expect(Object.keys(result.status).sort()).toEqual(["200", "503"]);
  // One answer in ten waits 60 ms: p90 and beyond see it, p50 does not.
  expect(result.p50Ms).toBeLessThan(30);
  expect(result.maxMs).toBeGreaterThanOrEqual(60);
  expect(bodies[0]).toBe('{"x":1}');
});

it("refuses a rate or duration that is not positive", () => {
  expect(() => runOpenLoop({ url, rate: 0, durationS: 1, body: "{}" })).toThrow(/got 0 req\/s/);
});
