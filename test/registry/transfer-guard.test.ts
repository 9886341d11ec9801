/**
 * The phases of one transfer's limits, driven directly (what a real connection would report): each limit fires
 * only in its own phase, and the error names the limit and the variable that sets it.
 */
import { ModelSourceError } from "../../service/src/registry";
import { ABORTED, DEFAULT_DOWNLOAD_LIMITS, TransferGuard, type DownloadLimits } from "../../service/src/registry/transfer";

const LONG = 60_000;
const limits = (overrides: Partial<DownloadLimits>): DownloadLimits => ({
  connectTimeoutMs: LONG,
  firstByteTimeoutMs: LONG,
  idleTimeoutMs: LONG,
  rateWindowMs: LONG,
  minBytesPerSecond: 1,
  maxBytes: DEFAULT_DOWNLOAD_LIMITS.maxBytes,
  ...overrides,
});

/** The error the guard aborted with. */
function aborted(guard: TransferGuard): Promise<ModelSourceError> {
  return new Promise((resolve) => guard.signal.addEventListener("abort", () => resolve(guard.error(new Error("aborted"))), { once: true }));
}

const guards: TransferGuard[] = [];
function guard(expectedBytes: number, overrides: Partial<DownloadLimits>, outer?: AbortSignal): TransferGuard {
  const created = new TransferGuard("download of model.onnx from mlflow-artifacts:/1/run/artifacts/model", expectedBytes, limits(overrides), outer);
  guards.push(created);
  return created;
}
afterEach(() => guards.splice(0).forEach((g) => g.finish()));

test("no connection within the connect timeout fails naming MODEL_DOWNLOAD_CONNECT_TIMEOUT_SECONDS", async () => {
  const error = await aborted(guard(100, { connectTimeoutMs: 30 }));
  expect(error).toMatchObject({ errorCode: "TIMEOUT", retryable: true });
  expect(error.message).toBe("download of model.onnx from mlflow-artifacts:/1/run/artifacts/model could not connect within 30 ms (MODEL_DOWNLOAD_CONNECT_TIMEOUT_SECONDS)");
});

test("once connected, the connect timeout no longer applies and the first-byte wait does", async () => {
  const g = guard(100, { connectTimeoutMs: 30, firstByteTimeoutMs: 120, minBytesPerSecond: 1e9 });
  g.connected();
  const error = await aborted(g);
  expect(error.message).toMatch(/sent no first byte within 120 ms \(MODEL_DOWNLOAD_FIRST_BYTE_TIMEOUT_SECONDS plus 100 listed bytes/);
});

test("the idle timeout runs only between chunks: each chunk restarts it", async () => {
  const g = guard(1000, { idleTimeoutMs: 400, minBytesPerSecond: 1e9 });
  g.connected();
  g.responded();
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    g.received(1);
  }
  expect(g.signal.aborted).toBe(false);
  expect((await aborted(g)).message).toMatch(/stalled: no data for 400 ms \(MODEL_DOWNLOAD_IDLE_TIMEOUT_SECONDS\)$/);
});

test("steady progress below the minimum rate fails at the end of a rate window, never idle", async () => {
  const g = guard(1_000_000, { rateWindowMs: 100, minBytesPerSecond: 100_000, idleTimeoutMs: 10_000 });
  g.responded();
  const ticker = setInterval(() => g.received(10), 10);
  try {
    expect((await aborted(g)).message).toMatch(/is too slow: \d+ bytes in the last 100 ms, below MODEL_DOWNLOAD_MIN_BYTES_PER_SECOND=100000$/);
  } finally {
    clearInterval(ticker);
  }
});

test("the last stretch of a file only needs what is left of it", async () => {
  // 20 bytes left need not move 100 kB in a window.
  const g = guard(20, { rateWindowMs: 50, minBytesPerSecond: 2_000_000 });
  g.responded();
  g.received(20);
  await new Promise((resolve) => setTimeout(resolve, 120));
  expect(g.signal.aborted).toBe(false);
});

test("the overall deadline bounds a file that crawls through a long rate window, never idle", async () => {
  // 100 bytes at 1000 B/s = 100 ms, twice (the proxy's copy, the transfer), plus connect and first byte (10 ms
  // each): 220 ms. A byte every 10 ms would take a second, inside the 60 s rate window and the 1 s idle timeout.
  const g = guard(100, { connectTimeoutMs: 10, firstByteTimeoutMs: 10, minBytesPerSecond: 1000, idleTimeoutMs: 1000 });
  g.connected();
  g.responded();
  const ticker = setInterval(() => g.received(1), 10);
  try {
    const error = await aborted(g);
    expect(error).toMatchObject({ errorCode: "TIMEOUT" });
    expect(error.message).toMatch(/did not finish within 220 ms \(the deadline for 100 listed bytes at MODEL_DOWNLOAD_MIN_BYTES_PER_SECOND=1000\)$/);
  } finally {
    clearInterval(ticker);
  }
});

test("more bytes than the listing promised fail at once as INVALID_ARTIFACT", () => {
  const g = guard(10, {});
  g.responded();
  g.received(10);
  expect(g.signal.aborted).toBe(false);
  g.received(1);
  expect(g.signal.aborted).toBe(true);
  expect(g.error(new Error("aborted"))).toMatchObject({ errorCode: "INVALID_ARTIFACT", message: expect.stringContaining("sent more than the 10 bytes its listing says") });
});

test("the outer signal (a superseded reload) aborts with ABORTED and its reason", () => {
  const outer = new AbortController();
  const g = guard(10, {}, outer.signal);
  outer.abort(new Error("the alias moved to version 3"));
  expect(g.signal.aborted).toBe(true);
  expect(g.error(new Error("aborted"))).toMatchObject({ errorCode: ABORTED, retryable: false, message: expect.stringContaining("the alias moved to version 3") });
});

test("a finished transfer is never aborted afterwards, and the connection's own error passes through as UNAVAILABLE", async () => {
  const g = guard(10, { connectTimeoutMs: 20 });
  g.finish();
  await new Promise((resolve) => setTimeout(resolve, 60));
  expect(g.signal.aborted).toBe(false);
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  expect(g.error(refused)).toMatchObject({ errorCode: "UNAVAILABLE", message: expect.stringContaining("was interrupted (ECONNREFUSED)") });
});
