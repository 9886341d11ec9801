/**
 * The evaluator thread takes only idle CPU: it runs at nice 19 (setpriority on the thread, Linux), so a window's
 * test never competes with the event loop and inference workers of a saturated replica. Read from /proc, the way
 * the scheduler sees it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { WorkerEvaluator } from "../../service/src/online-drift/evaluator";

/** nice of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync("/proc/self/task").flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      return [Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])];
    } catch {
      return []; // the thread ended while listing
    }
  });
}

(existsSync("/proc/self/task") ? test : test.skip)("the evaluator thread runs at the lowest priority, the rest of the process does not", async () => {
  // Other test files in this jest worker may have left threads of their own: count from what is there now.
  const lowBefore = threadNices().filter((nice) => nice === 19).length;
  const evaluator = new WorkerEvaluator();
  try {
    evaluator.prepare();
    let nices = threadNices();
    const low = () => nices.filter((nice) => nice === 19).length;
    for (let i = 0; i < 200 && low() === lowBefore; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      nices = threadNices();
    }
    expect(low()).toBe(lowBefore + 1);
    expect(nices.filter((nice) => nice === 0).length).toBeGreaterThan(1);
  } finally {
    await evaluator.close();
  }
});
