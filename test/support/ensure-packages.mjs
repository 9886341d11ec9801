// The Debian packages the tests run for real (PostgreSQL, Prometheus + promtool, Alertmanager + amtool,
// Pushgateway, Chromium, wrk): `npm test` calls this first, so the README's test command works on a bare
// Debian 12 machine. Missing packages are installed when we can (root, or sudo without a password), with their
// services kept from starting (the tests start private instances on loopback); otherwise it stops at once with
// the exact command to run. Plain Node, no dependencies: it runs before anything is built.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";

/** Debian package -> a file it installs that the tests use (what "installed" means here). */
const PACKAGES = {
  postgresql: () => postgresBin("initdb"),
  prometheus: () => onPath("promtool"),
  "prometheus-alertmanager": () => onPath("amtool"),
  "prometheus-pushgateway": () => onPath("prometheus-pushgateway"),
  chromium: () => onPath("chromium"),
  wrk: () => onPath("wrk"),
};
const POLICY_RC = "/usr/sbin/policy-rc.d";

function onPath(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

function postgresBin(name) {
  const base = "/usr/lib/postgresql";
  return existsSync(base) && readdirSync(base).some((version) => existsSync(`${base}/${version}/bin/${name}`));
}

function installer() {
  if (process.getuid?.() === 0) return [];
  if (spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0) return ["sudo", "-n"];
  return undefined;
}

function run(prefix, args) {
  const [command, ...rest] = [...prefix, ...args];
  execFileSync(command, rest, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

function install(prefix, missing) {
  const started = Date.now();
  console.log(`test setup: installing Debian packages ${missing.join(" ")} (once; their services stay stopped)`);
  // policy-rc.d exit 101 = "do not start services" for every package's maintainer scripts.
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) {
    if (prefix.length === 0) writeFileSync(POLICY_RC, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    else run(prefix, ["sh", "-c", `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY_RC} && chmod 755 ${POLICY_RC}`]);
  }
  try {
    run(prefix, ["apt-get", "update", "-qq"]);
    run(prefix, ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
  } finally {
    if (ownPolicy) {
      if (prefix.length === 0) rmSync(POLICY_RC, { force: true });
      else run(prefix, ["rm", "-f", POLICY_RC]);
    }
  }
  console.log(`test setup: installed in ${Math.round((Date.now() - started) / 1000)} s`);
}

const missing = Object.entries(PACKAGES)
  .filter(([, installed]) => !installed())
  .map(([name]) => name);
if (missing.length > 0) {
  const prefix = installer();
  if (!prefix) {
    console.error(
      `npm test needs these Debian packages, and this user cannot install them (not root, no passwordless sudo):\n` +
        `  ${missing.join(" ")}\n` +
        `Install them once, keeping their services from starting (the tests start their own on loopback):\n` +
        `  sudo sh -c 'printf "#!/bin/sh\\nexit 101\\n" > ${POLICY_RC} && chmod 755 ${POLICY_RC} && ` +
        `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}; rm -f ${POLICY_RC}'`,
    );
    process.exit(1);
  }
  install(prefix, missing);
  const still = missing.filter((name) => !PACKAGES[name]());
  if (still.length > 0) {
    console.error(`test setup: apt-get finished but these are still missing: ${still.join(" ")}`);
    process.exit(1);
  }
}
