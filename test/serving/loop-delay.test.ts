// The process-wide event-loop delay the batcher's deadline timers fire early by: it sees a blocked loop, not an
// idle one, and stops sampling when its last user lets go.
import { processLoopDelay } from "../../service/src/model/loop-delay";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the loop cannot run timers meanwhile
  }
};

/** Blocks the loop for 60 ms every ~70 ms, for more than one sampling window. */
async function blockFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    block(60);
    await sleep(10);
  }
}

it("reports the recent p99 of how late the loop ran, ~0 when idle, 0 once released", async () => {
  const first = processLoopDelay();
  const second = processLoopDelay();
  try {
    await sleep(1100); // two windows of an idle loop
    // Idle: only scheduling noise (a few ms here, tens on a loaded machine); blocked: the 60 ms blocks.
    expect(first.delay.p99Ms()).toBeLessThan(40);
    await blockFor(1100);
    expect(first.delay.p99Ms()).toBeGreaterThan(50);
    expect(second.delay).toBe(first.delay); // one monitor per process
  } finally {
    first.release();
    first.release(); // releasing twice is harmless
  }
  // Still sampling for the second user: a blocked loop still shows.
  await blockFor(1100);
  expect(second.delay.p99Ms()).toBeGreaterThan(30);
  second.release();
  expect(second.delay.p99Ms()).toBe(0);
});
