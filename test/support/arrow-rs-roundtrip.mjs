// Reads a Parquet file with arrow-rs (the Rust Arrow/Parquet implementation, as WebAssembly: parquet-wasm) and
// writes what it decoded to a second file with arrow-rs's own writer: a reader other than hyparquet judges the
// first file, and the second shows what it saw. Prints {"rows": N} on stdout; a file it cannot read exits 1.
//   node test/support/arrow-rs-roundtrip.mjs <in.parquet> <out.parquet>
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initSync, readParquet, writeParquet } from "parquet-wasm/esm";

const require = createRequire(import.meta.url);
initSync({ module: readFileSync(require.resolve("parquet-wasm/esm/parquet_wasm_bg.wasm")) });
const [input, output] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(input));
const table = readParquet(bytes);
const rows = table.recordBatches().reduce((sum, batch) => sum + batch.numRows, 0);
writeFileSync(output, writeParquet(table));
process.stdout.write(`${JSON.stringify({ rows })}\n`);
