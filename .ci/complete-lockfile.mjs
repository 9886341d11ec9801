// npm ci refuses a lockfile that lacks any optional dependency of a locked package, but this workplace's npm
// registry serves Linux binaries only, so `npm install` here leaves out @swc/core-darwin-arm64 and friends.
// This adds the missing platform-specific optional packages as entries npm skips on other platforms (os, cpu,
// libc from the package name), so `npm ci` works everywhere. Run it after every `npm install`:
//   node .ci/complete-lockfile.mjs            (rewrites package-lock.json; --check only reports)
import { readFileSync, writeFileSync } from "node:fs";

const OS = ["darwin", "win32", "linux", "freebsd", "android", "openharmony", "sunos", "aix", "netbsd", "openbsd"];
const CPU = ["arm64", "x64", "ia32", "arm", "ppc64", "s390x", "riscv64", "loong64", "mips64el", "wasm32"];
const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const check = process.argv.includes("--check");

/** os/cpu/libc of a platform binary package from its name (e.g. @swc/core-linux-arm-gnueabihf). */
function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return undefined;
  const libc = os === "linux" ? (parts.some((p) => p.startsWith("musl")) ? ["musl"] : ["glibc"]) : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

const added = [];
const unknown = [];
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = key === "" ? "" : `${key}/`;
    if (lock.packages[`${base}node_modules/${name}`] || lock.packages[`node_modules/${name}`]) continue;
    const platform = platformOf(name);
    if (!platform) {
      unknown.push(`${name}@${version} (optional dependency of ${key || "the root"})`);
      continue;
    }
    lock.packages[`node_modules/${name}`] = { version, optional: true, ...platform };
    added.push(`${name}@${version}`);
  }
}
if (unknown.length > 0) {
  console.error(`complete-lockfile: cannot tell the platform of:\n  ${unknown.join("\n  ")}`);
  process.exit(1);
}
if (check) {
  if (added.length > 0) {
    console.error(`complete-lockfile: package-lock.json lacks ${added.length} platform packages; run node .ci/complete-lockfile.mjs`);
    process.exit(1);
  }
} else if (added.length > 0) {
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
}
console.error(`complete-lockfile: ${added.length} platform package entries added`);
