// Transpiles the TypeScript sources to dist/ with swc (about a second); type checking is `npm run typecheck`.
// Incremental: a file is rewritten only when its source is newer, so `npm start` after a build is instant.
// .proto files are copied as they are (service/src/grpc loads its protocol file at run time).
import { transformFile } from "@swc/core";
import { copyFile, mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
// test/support is included because bench/ reuses its real-component harnesses (Postgres, Prometheus, ...).
const sources = ["main.ts", "stacks", "constructs", "service", "dashboards", "alerts", "bench", "test/support"];
const outDir = join(root, "dist");
const quiet = process.argv.includes("--quiet");

async function* walk(path) {
  const info = await stat(path).catch(() => undefined);
  if (!info) return;
  if (info.isFile()) {
    if ((path.endsWith(".ts") && !path.endsWith(".d.ts")) || path.endsWith(".proto")) yield path;
    return;
  }
  for (const entry of await readdir(path)) {
    if (entry === "node_modules" || entry.startsWith(".")) continue;
    yield* walk(join(path, entry));
  }
}

let built = 0;
const jobs = [];
for (const source of sources) {
  for await (const file of walk(join(root, source))) {
    const target = join(outDir, relative(root, file)).replace(/\.ts$/, ".js");
    jobs.push(
      (async () => {
        const [src, out] = await Promise.all([stat(file), stat(target).catch(() => undefined)]);
        if (out && out.mtimeMs >= src.mtimeMs) return;
        // Protocol files (the gRPC service's .proto) are read at run time beside the code that loads them.
        if (file.endsWith(".proto")) {
          await mkdir(dirname(target), { recursive: true });
          await copyFile(file, target);
          built++;
          return;
        }
        const { code, map } = await transformFile(file, {
          sourceMaps: true,
          jsc: { parser: { syntax: "typescript" }, target: "es2022" },
          module: { type: "commonjs" },
        });
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, `${code}\n//# sourceMappingURL=${target.split("/").pop()}.map\n`);
        await writeFile(`${target}.map`, map ?? "");
        built++;
      })(),
    );
  }
}
await Promise.all(jobs);
if (!quiet || built > 0) console.error(`build: ${built} of ${jobs.length} files transpiled to dist/`);
