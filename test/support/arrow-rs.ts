/** arrow-rs (Rust's Parquet implementation, as WebAssembly) as an independent reader: arrow-rs-roundtrip.mjs in a child process. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../service/src/paths";

/** Reads `input` with arrow-rs and writes what it decoded to `output` with arrow-rs's own writer; rejects if it cannot read it. */
export function arrowRsRoundTrip(input: string, output: string): Promise<{ rows: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot(), "test", "support", "arrow-rs-roundtrip.mjs"), input, output], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(stdout) as { rows: number }) : reject(new Error(`arrow-rs could not read ${input}: ${stderr}`))));
  });
}
