/** `npm run bench` arguments: a partial run (--only) never replaces BENCHMARKS.md with a part of the report. */
import { basename } from "node:path";
import { parseArgs } from "../../bench/run";

it("a full run writes BENCHMARKS.md; --only and --quick write no markdown unless --markdown names a file", () => {
  expect(basename(parseArgs([]).markdown!)).toBe("BENCHMARKS.md");
  expect(parseArgs(["--only", "logging"]).markdown).toBeUndefined();
  expect(parseArgs(["--quick"]).markdown).toBeUndefined();
  expect(parseArgs(["--only", "logging,online-drift", "--markdown", "/tmp/logging.md"]).markdown).toBe("/tmp/logging.md");
  expect([...parseArgs(["--only", "overload"]).only!].sort()).toEqual(["heavy", "overload"]);
  expect(() => parseArgs(["--only", "nope"])).toThrow(/--only takes a comma-separated list of demo, heavy/);
});
