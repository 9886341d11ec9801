/**
 * The plan summary on `terraform show -json` output: plans Terraform 1.11 itself wrote (terraform_data: create,
 * update, replace, destroy, no-op, a failed plan; regenerated live and compared when terraform is installed)
 * and an AWS-shaped plan in the same documented format (internal/command/jsonplan). Then the PR comment
 * and drift issue rendered from them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderDriftIssue, renderPlanComment, summarizePlan, type PlanSummary, type TerraformPlanJson } from "../../../stacks/ci/plan-summary";
import { realPlans, terraformVersion } from "../../support/terraform-plans";

interface Fixture {
  readonly terraform_version: string;
  readonly exitCode: number;
  readonly stderr: string;
  readonly plan?: TerraformPlanJson;
}

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, "fixtures", `${name}.json`), "utf8")) as Fixture;
const summarize = (stack: string, f: Fixture) => summarizePlan(stack, f.plan, f.exitCode, f.stderr);

describe("plan summary of Terraform's own plans", () => {
  test("creates, updates, replaces and destroys are counted per type; destroys and replaces are named with why", () => {
    const s = summarize("demo", fixture("terraform-mixed"));
    expect(s.status).toBe("changes");
    expect(s.totals).toEqual({ create: 1, update: 1, replace: 1, delete: 1, forget: 0, import: 0 });
    expect(s.byType).toEqual({ terraform_data: { create: 1, update: 1, replace: 1, delete: 1, forget: 0, import: 0 } });
    expect(s.destroys).toEqual([{ address: "terraform_data.remove", why: "no longer in the configuration" }]);
    expect(s.replaces).toEqual([{ address: "terraform_data.replace", why: "`triggers_replace` cannot be updated in place" }]);
    expect(s.outputChanges).toBe(1);
    expect(s.terraformVersion).toBe("1.11.4");
  });

  test("a no-op plan (exit 0) has nothing to count", () => {
    const s = summarize("demo", fixture("terraform-noop"));
    expect(s).toMatchObject({ status: "no-changes", byType: {}, destroys: [], replaces: [] });
    expect(renderPlanComment(s, undefined)).toMatch(/^<!-- modelport-plan:demo -->\n### ✅ `demo`: no changes/);
  });

  test("a failed plan (exit 1, errored plan file) shows Terraform's diagnostic", () => {
    const f = fixture("terraform-failed");
    expect(f.plan!.errored).toBe(true);
    const s = summarize("demo", f);
    expect(s.status).toBe("failed");
    expect(s.error).toMatch(/^Error: Resource precondition failed[\s\S]*The change resource refuses to plan\.$/);
    const comment = renderPlanComment(s, undefined);
    expect(comment).toMatch(/### ❌ `demo`: plan failed\n\n```text\nError: Resource precondition failed/);
  });

  test("the committed fixtures are what the installed Terraform writes (regenerated through the CI runner)", async () => {
    const plans = await realPlans();
    if (!plans) {
      console.warn("terraform is not installed: the committed Terraform 1.11.4 fixtures are not re-checked");
      return;
    }
    const strip = (s: PlanSummary) => ({ ...s, terraformVersion: undefined });
    expect(plans.mixed.exitCode).toBe(2);
    expect(plans.noop.exitCode).toBe(0);
    expect(plans.failed.exitCode).toBe(1);
    expect(strip(summarizePlan("demo", plans.mixed.plan, 2))).toEqual(strip(summarize("demo", fixture("terraform-mixed"))));
    expect(strip(summarizePlan("demo", plans.noop.plan, 0))).toEqual(strip(summarize("demo", fixture("terraform-noop"))));
    expect(summarizePlan("demo", plans.failed.plan, 1, plans.failed.stderr).error).toEqual(summarize("demo", fixture("terraform-failed")).error);
    expect(terraformVersion()).toMatch(/^1\./);
  });

  test("a plan format other than 1.x is refused rather than misread", () => {
    expect(() => summarizePlan("demo", { format_version: "2.0" }, 2)).toThrow(/plan JSON format 2\.0 is not 1\.x/);
  });
});

describe("PR comment for an AWS stack", () => {
  const s = summarize("platform-staging", fixture("aws-platform-staging"));

  test("counts per resource type, data reads and no-ops left out, replaces named with the attribute that forces them", () => {
    expect(s.totals).toEqual({ create: 4, update: 3, replace: 2, delete: 1, forget: 0, import: 0 });
    expect(Object.keys(s.byType).sort()).toEqual(["aws_db_instance", "aws_eip", "aws_eks_node_group", "aws_nat_gateway", "aws_route_table", "aws_s3_bucket_lifecycle_configuration", "helm_release"]);
    expect(s.byType.aws_eks_node_group).toMatchObject({ update: 1, replace: 1 });
    expect(s.replaces).toEqual([
      { address: "aws_eks_node_group.GpuPool_265CD773", why: "`instance_types` cannot be updated in place" },
      { address: "aws_db_instance.Registry_Database_B40887E7", why: "`db_name` cannot be updated in place" },
    ]);
    expect(s.drifted).toBe(1);
  });

  test("renders one comment with the table, every destroy and replace, and the cost against main", () => {
    const comment = renderPlanComment(s, { monthly: 582.12, base: 515.16, baseKnown: true, notPriced: 0 }, { commit: "0123456789abcdef0123", runUrl: "https://github.com/modelport/modelport/actions/runs/42" });
    expect(comment.split("\n").slice(0, 4)).toEqual(["<!-- modelport-plan:platform-staging -->", "### 📝 `platform-staging`: 4 to add, 3 to change, 2 to replace, 1 to destroy", "", "| resource type | add | change | replace | destroy |"]);
    expect(comment).toContain("| `aws_nat_gateway` | 2 |  |  |  |");
    expect(comment).toContain("**⚠️ Destroyed** (1)\n- `aws_s3_bucket_lifecycle_configuration.Registry_BucketLifecycle_5E6F7A8B`: no longer in the configuration");
    expect(comment).toContain("- `aws_db_instance.Registry_Database_B40887E7`: `db_name` cannot be updated in place");
    expect(comment).toContain("**Monthly cost** (on-demand estimate): $582.12 (main $515.16, **+$66.96**)");
    expect(comment).toMatch(/<sub>terraform 1\.11\.4 · commit 0123456789ab · \[run\]\(https:\/\/github\.com\/modelport\/modelport\/actions\/runs\/42\)<\/sub>$/);
  });

  test("cost lines: a new stack, main not estimated, resources not priced", () => {
    expect(renderPlanComment(s, { monthly: 10, base: undefined, baseKnown: true, notPriced: 0 })).toContain("$10.00 (new stack)");
    expect(renderPlanComment(s, { monthly: 10, base: undefined, baseKnown: false, notPriced: 2 })).toContain("$10.00 (main: not estimated) · 2 resource(s) not priced (the figure is a lower bound)");
    expect(renderPlanComment(s, { monthly: 10, base: 12.5, baseKnown: true, notPriced: 0 })).toContain("(main $12.50, **-$2.50**)");
    expect(renderPlanComment(s, { monthly: 10, base: 10, baseKnown: true, notPriced: 0 })).toContain("(main $10.00, $0.00)");
  });

  test("the drift issue body says what drifted and how to resolve it", () => {
    const body = renderDriftIssue(s);
    expect(body).toMatch(/^<!-- modelport-drift:platform-staging -->\nThe scheduled plan of `platform-staging` against its live state is not empty: 4 to add/);
    expect(body).toContain("Terraform saw 1 object(s) changed outside Terraform.");
  });
});
