// Runs in every jest worker before the tests: keep cdktf's synth folders and other temp files inside the
// project (.tmp/, git-ignored) instead of littering the system TMPDIR.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const tmp = join(__dirname, "..", "..", ".tmp", "jest");
mkdirSync(tmp, { recursive: true });
process.env.TMPDIR = tmp;
process.env.CHECKPOINT_DISABLE = "1";
