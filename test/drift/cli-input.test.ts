/**
 * The CLI as a process on local tables: the HTML report renders in headless Chromium without external requests,
 * and bad input ends in a clear message (exit 2) or a report saying what was skipped, never a bare stack trace.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { EMBEDDED_MODEL_DIR, EMBEDDED_MODEL_NAME } from "../../service/src/contract";
import type { DriftReport } from "../../service/src/drift/report";
import { projectRoot } from "../../service/src/paths";
import { runDriftCli } from "./support";

const REFERENCE = join(projectRoot(), EMBEDDED_MODEL_DIR, "reference.csv");
const CHROMIUM = "/usr/bin/chromium";
const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

let dir: string;
let referenceLines: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drift-cli-"));
  referenceLines = (await readFile(REFERENCE, "utf8")).trim().split("\n");
});
afterAll(async () => {
  if (process.env.KEEP_DRIFT_OUTPUT) process.stderr.write(`drift test output kept in ${dir}\n`);
  else await rm(dir, { recursive: true, force: true });
});

/** reference.csv with each data row rewritten by `edit` (cells by column name). */
async function variant(name: string, edit: (cells: Record<string, string>, i: number) => void, columns?: string[]): Promise<string> {
  const header = referenceLines[0].split(",");
  const out = columns ?? header;
  const rows = referenceLines.slice(1).map((line, i) => {
    const values = line.split(",");
    const cells = Object.fromEntries(header.map((h, c) => [h, values[c]]));
    edit(cells, i);
    return out.map((h) => cells[h]).join(",");
  });
  const path = join(dir, name);
  await writeFile(path, [out.join(","), ...rows].join("\n") + "\n");
  return path;
}

async function readReport(out: string): Promise<DriftReport> {
  return JSON.parse(await readFile(join(out, "report.json"), "utf8"));
}

describe("HTML report", () => {
  it("renders in headless Chromium: a non-trivial screenshot, no external URLs, summary before charts", async () => {
    // Longer flights at later hours: distance and hour drift, the rest does not.
    const current = await variant("shifted.csv", (c) => {
      c.distance = String(Number(c.distance) * 1.6 + 200);
      c.hour = String(Math.min(23, Number(c.hour) + 3));
    });
    const out = join(dir, "html");
    const result = await runDriftCli(["--model-dir", join(projectRoot(), EMBEDDED_MODEL_DIR), "--model", EMBEDDED_MODEL_NAME, "--current", current, "--out", out, "--no-push"]);
    expect(result.code).toBe(0);
    const report = await readReport(out);
    expect(report.columns.slice(0, 2).map((c) => c.column).sort()).toEqual(["distance", "hour"]);

    const html = await readFile(join(out, "report.html"), "utf8");
    expect(html).not.toMatch(/https?:\/\//i);
    // Summary first, then the features in the report's order (most drifted first).
    const positions = report.columns.map((c) => html.indexOf(`>${c.column}<`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);

    const screenshot = join(dir, "report.png");
    await promisify(execFile)(
      CHROMIUM,
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        `--user-data-dir=${await mkdtemp(join(dir, "chromium-"))}`, `--screenshot=${screenshot}`, "--window-size=1200,1600", pathToFileURL(join(out, "report.html")).href],
      { timeout: 30_000 },
    );
    const png = await readFile(screenshot);
    expect((await stat(screenshot)).size).toBeGreaterThan(20_000);
    // A single-colour page compresses to almost nothing; count distinct bytes in the compressed image data.
    expect(new Set(png.subarray(100)).size).toBeGreaterThan(200);
  }, 60_000);
});

describe("bad input", () => {
  it("missing reference: exit 2 naming the file", async () => {
    const missing = join(dir, "nope.csv");
    const result = await runDriftCli(["--reference", missing, "--current", REFERENCE, "--out", join(dir, "o1"), "--no-push"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(missing);
    noStack(result.stderr);
  });

  it("unreadable reference (a directory, an unknown format): exit 2 naming it", async () => {
    const folder = await mkdtemp(join(dir, "folder-"));
    const asCsv = `${folder}.csv`;
    await promisify(execFile)("mkdir", [asCsv]);
    for (const reference of [asCsv, join(dir, "table.xlsx")]) {
      const result = await runDriftCli(["--reference", reference, "--current", REFERENCE, "--out", join(dir, "o2"), "--no-push"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(reference);
      noStack(result.stderr);
    }
  });

  it("empty reference: exit 2 saying it has no rows", async () => {
    const empty = join(dir, "empty.csv");
    await writeFile(empty, `${referenceLines[0]}\n`);
    const result = await runDriftCli(["--reference", empty, "--current", REFERENCE, "--out", join(dir, "o3"), "--no-push"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${empty} has no rows`);
  });

  it("empty current data: exit 0, a report that compared nothing and says why", async () => {
    const empty = join(dir, "empty-current.csv");
    await writeFile(empty, `${referenceLines[0]}\n`);
    const out = join(dir, "o4");
    const result = await runDriftCli(["--reference", REFERENCE, "--current", empty, "--out", out, "--no-push"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("no current rows");
    const report = await readReport(out);
    expect(report.dataset.drifted).toBe(false);
    expect(report.skipped.length).toBeGreaterThan(0);
    expect(new Set(report.skipped.map((s) => s.reason))).toEqual(new Set(["no rows in the current data"]));
  });

  it("columns missing from the current data: the report lists them as skipped", async () => {
    const current = await variant("no-origin.csv", () => undefined, ["hour", "day_of_week", "day_of_month", "distance", "destination", "probability"]);
    const out = join(dir, "o5");
    const result = await runDriftCli(["--model-dir", join(projectRoot(), EMBEDDED_MODEL_DIR), "--current", current, "--out", out, "--no-push"]);
    expect(result.code).toBe(0);
    const report = await readReport(out);
    const skipped = Object.fromEntries(report.skipped.map((s) => [s.column, s.reason]));
    expect(skipped.origin).toMatch(/absent from the current data|not read/);
    expect(skipped.actual).toMatch(/absent from the current data|not read/);
    expect(report.columns.map((c) => c.column)).not.toContain("origin");
    expect(report.columns).toHaveLength(5);
  });

  it("non-numeric values in a numeric column: counted, noted, and the rest compared", async () => {
    const current = await variant("bad-distance.csv", (c, i) => {
      if (i % 10 === 0) c.distance = "far";
    });
    const out = join(dir, "o6");
    const result = await runDriftCli(["--model-dir", join(projectRoot(), EMBEDDED_MODEL_DIR), "--current", current, "--out", out, "--no-push"]);
    expect(result.code).toBe(0);
    const distance = (await readReport(out)).columns.find((c) => c.column === "distance")!;
    expect(distance.current).toMatchObject({ count: 4500, invalid: 500 });
    expect(distance.notes.join(" ")).toContain("500 current values are not finite numbers");
    expect(distance.drifted).toBe(false);
  });

  it("bad options: exit 2 with the option named and no stack trace", async () => {
    for (const [args, message] of [
      [["--current", REFERENCE, "--reference", REFERENCE, "--method", "magic"], "--method magic"],
      [["--model", "m", "--window", "soon"], "--window soon"],
      [["--current", REFERENCE, "--reference", REFERENCE, "--column-threshold", "distance=-1"], "--column-threshold distance"],
      [["--current", REFERENCE, "--reference", REFERENCE, "--drift-share", "3"], "--drift-share 3"],
    ] as const) {
      const result = await runDriftCli([...args, "--out", join(dir, "o7"), "--no-push"], { PREDICTION_LOG_URL: "postgres://x@127.0.0.1:9/x" });
      expect({ code: result.code, message: result.stderr.includes(message) }).toEqual({ code: 2, message: true });
      noStack(result.stderr);
    }
  });
});
