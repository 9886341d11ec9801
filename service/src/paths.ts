import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

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
