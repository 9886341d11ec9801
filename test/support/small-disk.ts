/**
 * A real small (or read-only) filesystem for spill-disk tests: a tmpfs of a given size mounted on a temp dir,
 * so ENOSPC and EROFS come from the kernel, not from a mock. Needs root with mount rights (CAP_SYS_ADMIN), as
 * this machine and CI's containers have; available() says when it is not, and the tests that need it skip.
 *
 *   const disk = mountSmallDisk(256 * 1024);   // ENOSPC after ~256 KiB
 *   disk.readOnly(); disk.writable();           // remount
 *   disk.unmount();                             // in afterAll
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk {
  readonly dir: string;
  readOnly(): void;
  writable(): void;
  unmount(): void;
}

let probed: boolean | undefined;

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN). */
export function smallDiskAvailable(): boolean {
  if (probed !== undefined) return probed;
  try {
    const disk = mountSmallDisk(64 * 1024);
    disk.unmount();
    probed = true;
  } catch {
    probed = false;
  }
  return probed;
}

export function mountSmallDisk(sizeBytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), "small-disk-"));
  const mount = (options: string) => execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
  try {
    mount(`size=${sizeBytes},mode=0755`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let mounted = true;
  return {
    dir,
    readOnly: () => void execFileSync("mount", ["-o", "remount,ro", dir], { stdio: "pipe" }),
    writable: () => void execFileSync("mount", ["-o", "remount,rw", dir], { stdio: "pipe" }),
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
