// Tests that start the service or the drift job as real processes run the transpiled dist/ output.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function globalSetup(): void {
  execFileSync(process.execPath, [join(__dirname, "..", "..", "build.mjs"), "--quiet"], { stdio: "inherit" });
}
