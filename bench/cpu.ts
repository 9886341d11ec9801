/**
 * CPU time and CPU affinity of the processes a benchmark runs, from /proc and taskset (util-linux).
 *
 * Throughput ratios on a small shared machine mix what a feature costs the service with what it costs everything
 * else on the same cores (the database, the load generator): CPU seconds per request of the service process (all
 * its threads) and of the database's processes say which is which, and pinning the service to cores of its own
 * (the load generator, the database and the bench elsewhere) measures req/s the way a replica with its own CPU
 * limit and a database on other nodes would see it.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { cpus } from "node:os";

/** USER_HZ: Linux reports /proc times in 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  /** utime + stime of the process (every thread), seconds. */
  readonly own: number;
  /** cutime + cstime: children it has reaped, seconds. */
  readonly reaped: number;
}

function procStat(pid: number, thread?: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, "utf8");
  } catch {
    return undefined; // exited
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (field: number) => Number(fields[field - 3]);
  return { ppid: at(4), own: (at(14) + at(15)) / TICKS_PER_SECOND, reaped: (at(16) + at(17)) / TICKS_PER_SECOND };
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  return procStat(pid)?.own ?? 0;
}

/**
 * CPU seconds of a process's main thread alone: a Node service's event loop, which parses, routes, logs and
 * answers every request. Where the event loop is the limit (a service sharing cores it can use), its CPU per
 * request, not the process's, is what decides req/s.
 */
export function mainThreadCpuSeconds(pid: number): number {
  return procStat(pid, pid)?.own ?? 0;
}

/** The live processes descended from `root` (not root itself). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = procStat(pid);
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      visit(child);
    }
  };
  visit(root);
  return out;
}

/**
 * CPU seconds of a process tree: the root, its live descendants and what its reaped children used (PostgreSQL's
 * postmaster and its backends, connections closed or not).
 */
export function treeCpuSeconds(root: number): number {
  const stat = procStat(root);
  if (!stat) return 0;
  const used = (s: ProcStat | undefined) => (s ? s.own + s.reaped : 0);
  return used(stat) + descendants(root).reduce((sum, pid) => sum + used(procStat(pid)), 0);
}

/** Restricts a process and every thread of it (and, with `tree`, its descendants) to `cpus` ("0", "1-3"). */
export function pin(pid: number, cpus: string, tree = false): void {
  for (const target of tree ? [pid, ...descendants(pid)] : [pid]) {
    try {
      execFileSync("taskset", ["-a", "-p", "-c", cpus, String(target)], { stdio: "ignore" });
    } catch (error) {
      if (procStat(target)) throw new Error(`taskset -a -p -c ${cpus} ${target} failed: ${(error as Error).message}`);
    }
  }
}

/** CPUs of the machine (not of this process's affinity, which pin() narrows: availableParallelism() would follow it). */
export function machineCpus(): number {
  return cpus().length;
}

/** Every CPU of the machine, as taskset names them. */
export function allCpus(): string {
  return `0-${machineCpus() - 1}`;
}
