// Label values reach PromQL through eq()/oneOf(): any string must yield a query that parses and matches that
// exact value; model names that cannot be group or file names are refused with a message naming them.
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { modelRuleGroups } from "../../alerts";
import { eq, oneOf, selector } from "../../alerts/promql";
import { promtool } from "../support/prometheus";

describe("PromQL label matchers", () => {
  it("parse for arbitrary label values (promtool)", async () => {
    const values = fc.sample(fc.string({ unit: "binary", maxLength: 30 }), { numRuns: 300, seed: 42 });
    const exprs = values.map((value, i) => selector("up", [eq("model", value), oneOf("variant", [value, `${value}.*`, "stable"])]) + ` * ${i}`);
    const dir = mkdtempSync(join(tmpdir(), "escaping-"));
    try {
      const file = join(dir, "rules.yml");
      writeFileSync(file, stringify({ groups: [{ name: "escaping", rules: exprs.map((expr, i) => ({ record: `escaping_${i}`, expr })) }] }));
      const check = await promtool(["check", "rules", file]);
      expect(check.stdout + check.stderr).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses model names that cannot name a rule group, file and URL, naming the bad value", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (model) => {
        let groups: unknown;
        try {
          groups = modelRuleGroups(model);
        } catch (error) {
          expect((error as Error).message).toContain(JSON.stringify(model));
          return;
        }
        expect(model).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
        expect(groups).toHaveLength(2);
      }),
      { numRuns: 300 },
    );
  });
});
