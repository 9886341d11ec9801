/**
 * npm run ci: matrices derived from a real synth of every environment, and plan / check / apply run through real
 * Terraform on a synthesized-looking stack made of terraform_data (no provider to download), with the
 * $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files Actions provides.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "cdktf";
import { buildStacks, ENVIRONMENTS } from "../../../stacks";
import { main } from "../../../stacks/ci/cli";
import { applyPhases, planMatrix } from "../../../stacks/ci/matrix";
import { describeStackName, readSynthOutput } from "../../../stacks/ci/synth-output";
import type { StackResult } from "../../../stacks/ci/stack-result";
import { terraformVersion } from "../../support/terraform-plans";

let synthDir: string;
beforeAll(() => {
  synthDir = mkdtempSync(join(tmpdir(), "ci-synth-"));
  const app = new App({ outdir: synthDir, skipValidation: true });
  buildStacks(app, Object.values(ENVIRONMENTS));
  app.synth();
});
afterAll(() => rmSync(synthDir, { recursive: true, force: true }));

describe("matrices from the synthesized stacks", () => {
  test("plan: every stack of every CI environment (dev, on a local cluster, is not one), with its region and role variable", () => {
    const stacks = readSynthOutput(synthDir);
    const { include } = planMatrix(stacks);
    const expected = stacks.filter((s) => s.environment !== "dev").map((s) => s.name);
    expect(include.map((e) => e.stack)).toEqual(expected);
    expect(include.map((e) => e.stack)).toEqual(["ci-prod", "ci-staging", "model-flight-delay-prod", "model-flight-delay-staging", "platform-prod", "platform-staging"]);
    expect(include[0]).toEqual({ stack: "ci-prod", environment: "prod", kind: "ci", region: "eu-west-1", planRoleVariable: "MODELPORT_PLAN_ROLE_ARN_PROD" });
  });

  test("apply: platform before models, per environment in the workflow's order; ci stacks never applied", () => {
    const phases = applyPhases(readSynthOutput(synthDir), ["staging", "prod"]);
    expect(Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, v.map((e) => e.stack)]))).toEqual({
      staging_platform: ["platform-staging"],
      staging_models: ["model-flight-delay-staging"],
      prod_platform: ["platform-prod"],
      prod_models: ["model-flight-delay-prod"],
    });
    expect(() => applyPhases(readSynthOutput(synthDir), ["staging"])).toThrow(/environment\(s\) prod have `ci` but the apply workflow has no jobs for them/);
  });

  test("adding a model adds its stack to both matrices, with no list kept by hand", () => {
    const dir = mkdtempSync(join(tmpdir(), "ci-synth-more-"));
    try {
      const staging = { ...ENVIRONMENTS.staging, models: [...ENVIRONMENTS.staging.models, { ...ENVIRONMENTS.staging.models[0], name: "churn" }] };
      const app = new App({ outdir: dir, skipValidation: true });
      buildStacks(app, [ENVIRONMENTS.dev, staging, ENVIRONMENTS.prod]);
      app.synth();
      expect(planMatrix(readSynthOutput(dir)).include.map((e) => e.stack)).toContain("model-churn-staging");
      expect(applyPhases(readSynthOutput(dir), ["staging", "prod"]).staging_models.map((e) => e.stack)).toEqual(["model-churn-staging", "model-flight-delay-staging"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("matrix outputs go to $GITHUB_OUTPUT as one line each", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gh-out-"));
    try {
      const output = join(dir, "output");
      writeFileSync(output, "");
      expect(await main(["matrix", "--workflow", "plan", "--synth-dir", synthDir], { GITHUB_OUTPUT: output })).toBe(0);
      const [line] = readFileSync(output, "utf8").trim().split("\n");
      expect(JSON.parse(line.replace(/^stacks=/, "")).include).toHaveLength(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("stack names follow stacks/index.ts, or are refused", () => {
    expect(describeStackName("model-flight-delay-prod")).toEqual({ environment: "prod", kind: "model", model: "flight-delay" });
    expect(describeStackName("ci-staging")).toEqual({ environment: "staging", kind: "ci" });
    expect(() => describeStackName("network-prod")).toThrow(/does not follow the naming/);
  });
});

const hasTerraform = terraformVersion() !== undefined;
(hasTerraform ? describe : describe.skip)("plan, check and apply through real Terraform", () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const io = { lines: [] as string[], log(t: string) { this.lines.push(t); }, error(t: string) { this.lines.push(t); } };
  const stackDir = () => join(root, "cdktf.out", "stacks", "model-demo-staging");
  const writeStack = (resources: Record<string, unknown>) => writeFileSync(join(stackDir(), "cdk.tf.json"), JSON.stringify({ resource: { terraform_data: resources } }));

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "ci-tf-"));
    mkdirSync(stackDir(), { recursive: true });
    writeFileSync(join(root, "cdktf.out", "manifest.json"), JSON.stringify({ version: "0.21.0", stacks: { "model-demo-staging": { name: "model-demo-staging", workingDirectory: "stacks/model-demo-staging", synthesizedStackPath: "stacks/model-demo-staging/cdk.tf.json" } } }));
    writeFileSync(join(root, "tfrc"), "");
    writeFileSync(join(root, "output"), "");
    writeFileSync(join(root, "summary.md"), "");
    env = { GITHUB_OUTPUT: join(root, "output"), GITHUB_STEP_SUMMARY: join(root, "summary.md"), GITHUB_SHA: "feedfacecafe00112233", TF_CLI_CONFIG_FILE: join(root, "tfrc") };
    process.env.TF_CLI_CONFIG_FILE = join(root, "tfrc");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const args = (command: string) => [command, "--stack", "model-demo-staging", "--synth-dir", join(root, "cdktf.out"), "--out", join(root, "ci-out")];
  const result = () => JSON.parse(readFileSync(join(root, "ci-out", "model-demo-staging", "result.json"), "utf8")) as StackResult;

  test("a plan with changes: exit code 2 recorded, comment written, the job itself continues", async () => {
    writeStack({ a: { input: "one" }, b: { input: "two" } });
    expect(await main(args("plan"), env, io)).toBe(0);
    expect(readFileSync(env.GITHUB_OUTPUT!, "utf8")).toContain("exitcode=2\nstatus=changes\n");
    expect(result().summary.totals.create).toBe(2);
    expect(result().comment).toMatch(/^<!-- modelport-plan:model-demo-staging -->\n### 📝 `model-demo-staging`: 2 to add/);
    // The stack has no AWS provider: no cloud cost, and nothing to price either.
    expect(result().cost).toEqual({ monthly: 0, base: undefined, baseKnown: false, notPriced: 0 });
    expect(readFileSync(env.GITHUB_STEP_SUMMARY!, "utf8")).toContain("`model-demo-staging`: 2 to add");
    expect(await main(args("check"), env, io)).toBe(0);
  });

  test("apply applies exactly the plan file it made; planning again finds nothing", async () => {
    expect(await main(args("apply"), env, io)).toBe(0);
    expect(await main(args("plan"), env, io)).toBe(0);
    expect(result().summary.status).toBe("no-changes");
    writeStack({ a: { input: "one" } });
    expect(await main(args("plan"), env, io)).toBe(0);
    expect(result().summary.destroys).toEqual([{ address: "terraform_data.b", why: "no longer in the configuration" }]);
  });

  test("a failed plan is reported in the comment, then fails the job at check; apply refuses it", async () => {
    writeStack({ a: { input: "${terraform_data.missing.id}" } });
    expect(await main(args("plan"), env, io)).toBe(0);
    expect(result().summary.status).toBe("failed");
    expect(result().comment).toMatch(/plan failed[\s\S]*Reference to undeclared resource/);
    expect(await main(args("check"), env, io)).toBe(1);
    expect(await main(args("apply"), env, io)).toBe(1);
    expect(io.lines.at(-1)).toMatch(/the plan of model-demo-staging failed; nothing applied/);
  });
});
