/**
 * The GitHub workflows, offline: each file against the published workflow schema (@action-validator/core, which
 * embeds SchemaStore's github-workflow.json), then what the schema cannot say: triggers, least-privilege
 * permissions per job, every action pinned to the commit of a release tag, steps that only call npm scripts or
 * tested modules, matrices that come from the synthesized output, the apply order, and OIDC subjects that match
 * what CiRoles trusts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { App, TerraformStack, Testing } from "cdktf";
import { parse } from "yaml";
import { buildStacks, CI_REPOSITORY, ENVIRONMENTS } from "../../stacks";
import { TERRAFORM_VERSION } from "../../stacks/ci/terraform";
import { projectRoot } from "../../service/src/paths";

type Json = Record<string, any>;
const DIR = join(projectRoot(), ".github", "workflows");
const text = (file: string) => readFileSync(join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Json;
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();

/**
 * Every action in use, at the commit its release tag points to (looked up in the actions' own repositories:
 * git rev-parse <tag>^{commit}). A Dependabot bump changes both the SHA and the tag comment.
 */
const PINS: Record<string, { sha: string; tag: string }> = {
  "actions/checkout": { sha: "3d3c42e5aac5ba805825da76410c181273ba90b1", tag: "v7.0.1" },
  "actions/setup-node": { sha: "820762786026740c76f36085b0efc47a31fe5020", tag: "v7.0.0" },
  "actions/upload-artifact": { sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", tag: "v7.0.0" },
  "actions/download-artifact": { sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", tag: "v8.0.1" },
  "actions/github-script": { sha: "ed597411d8f924073f98dfc5c65a23a2325f34cd", tag: "v8.0.0" },
  "hashicorp/setup-terraform": { sha: "dfe3c3f87815947d99a8997f908cb6525fc44e9e", tag: "v4.0.1" },
  "aws-actions/configure-aws-credentials": { sha: "e6de054238d6b7531b4efff3b6587d9aade6a06c", tag: "v6.2.3" },
};

function jobs(file: string): [string, Json][] {
  return Object.entries(workflow(file).jobs as Record<string, Json>);
}
function steps(file: string): Json[] {
  return jobs(file).flatMap(([, job]) => job.steps ?? []);
}
const assumesAws = (job: Json) => (job.steps ?? []).some((s: Json) => String(s.uses ?? "").startsWith("aws-actions/configure-aws-credentials@"));

describe("workflows", () => {
  test("are the four expected files", () => {
    expect(files).toEqual(["apply-stacks.yml", "apply.yml", "drift.yml", "plan.yml"]);
  });

  test.each(files)("%s validates against the GitHub workflow schema", (file) => {
    expect(validateWorkflow(text(file)).errors).toEqual([]);
  });

  test("the validator does catch a broken workflow (so the test above means something)", () => {
    const broken = text("plan.yml").replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04");
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  test("triggers: plan on pull requests to main, apply on pushes to main, drift on a schedule, apply-stacks only when called", () => {
    expect(workflow("plan.yml").on).toEqual({ pull_request: { branches: ["main"] } });
    expect(workflow("apply.yml").on).toEqual({ push: { branches: ["main"] } });
    expect(workflow("drift.yml").on).toEqual({ schedule: [{ cron: expect.stringMatching(/^(\S+ ){4}\S+$/) }], workflow_dispatch: {} });
    expect(Object.keys(workflow("apply-stacks.yml").on)).toEqual(["workflow_call"]);
  });

  test.each(files)("%s grants nothing by default and each job only what it uses", (file) => {
    expect(workflow(file).permissions).toEqual({});
    for (const [name, job] of jobs(file)) {
      const granted = job.permissions as Record<string, string>;
      expect({ job: name, granted }).toEqual({ job: name, granted: expect.any(Object) });
      expect(Object.values(granted).every((level) => level === "read" || level === "write")).toBe(true);
      expect(granted.contents).toBe("read");
      const calls = typeof job.uses === "string";
      expect({ job: name, idToken: granted["id-token"] === "write" }).toEqual({ job: name, idToken: assumesAws(job) || calls });
      const stepUses = (job.steps ?? []).map((s: Json) => String(s.uses ?? ""));
      const comments = stepUses.some((u: string) => u.startsWith("actions/github-script@"));
      expect(granted["pull-requests"] === "write").toBe(file === "plan.yml" && comments);
      expect(granted.issues === "write").toBe(file === "drift.yml" && comments);
      expect(Object.keys(granted).filter((k) => !["contents", "id-token", "pull-requests", "issues"].includes(k))).toEqual([]);
    }
  });

  test.each(files)("%s pins every action to the commit of its release tag", (file) => {
    for (const step of steps(file).filter((s) => s.uses)) {
      const [action, ref] = String(step.uses).split("@");
      expect({ action, known: action in PINS }).toEqual({ action, known: true });
      expect(ref).toBe(PINS[action].sha);
    }
    // The tag is written next to each SHA, so a reader (and Dependabot) sees the release.
    for (const line of text(file).split("\n").filter((l) => /^\s+(- )?uses: [^.]/.test(l))) {
      const match = /uses: ([\w-]+\/[\w-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(line.trim());
      expect({ line: line.trim(), pinned: match !== null && PINS[match[1]]?.tag === match[3] }).toEqual({ line: line.trim(), pinned: true });
    }
  });

  test.each(files)("%s: every run step is one npm script call, no inline shell logic", (file) => {
    for (const step of steps(file).filter((s) => s.run)) {
      expect(String(step.run)).toMatch(/^npm (ci --no-audit --no-fund|run [\w:-]+(?: -- [\w\s"$-.,/]*)?)$/);
      expect(String(step.run)).not.toMatch(/&&|\|\||;|\$\(|`|\bif\b/);
    }
    // github-script runs a tested module, not inline logic.
    for (const step of steps(file).filter((s) => String(s.uses).startsWith("actions/github-script@"))) {
      expect(step.with.script).toBe("return require(`${process.env.GITHUB_WORKSPACE}/dist/stacks/ci/github.js`).fromActions({ github, context })");
      expect(["plan-comment", "drift-issue"]).toContain(step.env.MODELPORT_CI_ACTION);
    }
  });

  test("Terraform: the pinned version, the wrapper off (it masks exit code 2), plans through npm run ci", () => {
    const setups = files.flatMap((f) => steps(f)).filter((s) => String(s.uses).startsWith("hashicorp/setup-terraform@"));
    expect(setups).toHaveLength(3);
    for (const s of setups) expect(s.with).toMatchObject({ terraform_version: TERRAFORM_VERSION, terraform_wrapper: false });
    const planSteps = files.flatMap((f) => steps(f)).filter((s) => /terraform (plan|apply|init)/.test(String(s.run)));
    expect(planSteps).toEqual([]);
  });

  test("no long-lived AWS keys anywhere: roles are assumed through OIDC by ARN from variables", () => {
    for (const file of files) expect(text(file)).not.toMatch(/aws-access-key-id|aws-secret-access-key|secrets\.AWS/i);
    const roles = files.flatMap((f) => steps(f)).filter((s) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@")).map((s) => s.with["role-to-assume"]);
    expect([...new Set(roles)].sort()).toEqual(["${{ vars.MODELPORT_APPLY_ROLE_ARN }}", "${{ vars[matrix.planRoleVariable] }}"]);
  });
});

describe("plan.yml", () => {
  const w = workflow("plan.yml");

  test("tests and synthesizes, and plans one job per stack from the synthesized output", () => {
    expect(w.jobs.build.steps.map((s: Json) => s.run).filter(Boolean)).toEqual(["npm run test:ci", "npm run synth", "npm run ci -- matrix --workflow plan"]);
    expect(w.jobs.build.outputs.stacks).toBe("${{ steps.matrix.outputs.stacks }}");
    expect(w.jobs.plan.strategy.matrix).toBe("${{ fromJSON(needs.build.outputs.stacks) }}");
    expect(w.jobs.plan.steps.map((s: Json) => s.run).filter(Boolean)).toEqual([
      "npm ci --no-audit --no-fund",
      'npm run ci -- plan --stack "$STACK" --base-synth-dir base-cdktf.out',
      'npm run ci -- check --stack "$STACK"',
    ]);
  });

  test("main's own synthesized stacks are the base of the cost delta", () => {
    expect(w.jobs.base.steps[0].with.ref).toBe("${{ github.event.pull_request.base.sha }}");
    const download = w.jobs.plan.steps.find((s: Json) => s.with?.name === "synth-base");
    expect(download).toMatchObject({ if: "${{ needs.base.result == 'success' }}", with: { path: "base-cdktf.out" } });
  });

  test("runs without a GitHub environment (OIDC subject pull_request, what the plan role trusts) and never from forks", () => {
    expect(w.jobs.plan.environment).toBeUndefined();
    expect(w.jobs.plan.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
  });
});

describe("apply.yml", () => {
  const w = workflow("apply.yml");
  const called = workflow("apply-stacks.yml");

  test("staging then prod, and in each the platform before the models", () => {
    const order = ["staging-platform", "staging-models", "prod-platform", "prod-models"];
    expect(Object.keys(w.jobs)).toEqual(["stacks", ...order]);
    order.forEach((job, i) => {
      expect(w.jobs[job].needs).toEqual(i === 0 ? ["stacks"] : ["stacks", order[i - 1]]);
      expect(w.jobs[job].uses).toBe("./.github/workflows/apply-stacks.yml");
      const [env, phase] = job.split("-");
      expect(w.jobs[job].with).toEqual({ environment: env, stacks: `\${{ needs.stacks.outputs.${env}_${phase === "platform" ? "platform" : "models"} }}` });
    });
    // A phase with no stacks is skipped without stopping the next one; a failure stops everything after it.
    for (const job of order.slice(1)) expect(w.jobs[job].if).toMatch(/^\$\{\{ !cancelled\(\) && !failure\(\) && needs\.stacks\.outputs\.\w+ != '\[\]' \}\}$/);
  });

  test("the phases it reads are exactly those npm run ci -- matrix --workflow apply writes", () => {
    const step = w.jobs.stacks.steps.find((s: Json) => s.id === "matrix");
    expect(step.run).toBe("npm run ci -- matrix --workflow apply --environments staging,prod");
    const environments = /--environments (\S+)/.exec(step.run)![1].split(",");
    const phases = environments.flatMap((e) => [`${e}_platform`, `${e}_models`]);
    expect(Object.keys(w.jobs.stacks.outputs).sort()).toEqual([...phases].sort());
    // Every environment CI deploys has its jobs (npm run ci -- matrix fails otherwise, see cli.test.ts).
    expect(Object.values(ENVIRONMENTS).filter((e) => e.ci).map((e) => e.name).sort()).toEqual([...environments].sort());
  });

  test("each stack applies in its GitHub environment, one at a time, never cancelled mid-apply", () => {
    const job = called.jobs.apply;
    expect(job.environment).toBe("${{ inputs.environment }}");
    expect(job.concurrency).toEqual({ group: "terraform-${{ matrix.stack }}", "cancel-in-progress": false });
    expect(job.strategy.matrix.include).toBe("${{ fromJSON(inputs.stacks) }}");
    expect(job.steps.at(-1).run).toBe('npm run ci -- apply --stack "$STACK"');
  });

  test("OIDC subjects line up with the roles: apply jobs run as environment:<env>, plans and drift without one", () => {
    const applyEnvironments = ["staging-platform", "staging-models", "prod-platform", "prod-models"].map((j) => w.jobs[j].with.environment);
    const subjects = [...new Set(applyEnvironments)].map((env) => `repo:${CI_REPOSITORY}:environment:${env}`);
    expect(subjects).toEqual([`repo:${CI_REPOSITORY}:environment:staging`, `repo:${CI_REPOSITORY}:environment:prod`]);
    expect(workflow("drift.yml").jobs.drift.environment).toBeUndefined();
    // ...and the synthesized CI roles trust exactly these subjects.
    const app = Testing.app();
    buildStacks(app as App, Object.values(ENVIRONMENTS));
    const trusted = (stack: string, role: string) => {
      const json = JSON.parse(Testing.synth(app.node.findChild(stack) as TerraformStack, true));
      const found = Object.values<Json>(json.resource.aws_iam_role).find((r) => r.name === role)!;
      return JSON.parse(found.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"];
    };
    for (const env of new Set(applyEnvironments)) {
      expect(trusted(`ci-${env}`, `modelport-${env}-ci-apply`)).toEqual([`repo:${CI_REPOSITORY}:environment:${env}`]);
      expect(trusted(`ci-${env}`, `modelport-${env}-ci-plan`)).toEqual([`repo:${CI_REPOSITORY}:pull_request`, `repo:${CI_REPOSITORY}:ref:refs/heads/main`]);
    }
  });
});

describe("drift.yml", () => {
  const w = workflow("drift.yml");

  test("plans every stack from the synthesized matrix, then opens, updates or closes its issue; fails only on a failed plan", () => {
    expect(w.jobs.drift.strategy.matrix).toBe("${{ fromJSON(needs.stacks.outputs.stacks) }}");
    expect(w.jobs.drift.steps.map((s: Json) => s.run ?? s.env?.MODELPORT_CI_ACTION).filter(Boolean)).toEqual([
      "npm ci --no-audit --no-fund",
      'npm run ci -- plan --stack "$STACK"',
      "drift-issue",
      'npm run ci -- check --stack "$STACK"',
    ]);
  });
});
