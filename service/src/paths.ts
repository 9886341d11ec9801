import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The repository (or image) root: the nearest folder above this file holding package.json. Works the same from
 * service/src (jest, ts sources) and dist/service/src (built), so nothing hard-codes "../../..".
 */
export function projectRoot(from: string = __dirname): string {
  let dir = resolve(from);
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** A worker thread's script beside the module in `dir`: the compiled sibling, or its build output when that module runs from source (jest). */
export function workerScript(dir: string, file: string): string {
  const sibling = join(dir, file);
  if (existsSync(sibling)) return sibling;
  const root = projectRoot(dir);
  return join(root, "dist", relative(root, dir), file);
}
