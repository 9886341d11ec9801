import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository root (the folder with package.json), whether code runs from constructs/ or dist/constructs/. */
export function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository root (package.json) above " + __dirname);
    dir = parent;
  }
  return dir;
}
