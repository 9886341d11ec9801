/**
 * PR comments and drift issues through the octokit surface actions/github-script hands over, against an
 * in-memory GitHub (GitHub cannot run here) that pages like the REST API (per_page, Link-style paging through
 * `paginate`) and records every write: one comment per stack, edited in place, never a person's comment.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromActions, syncDriftIssue, upsertPlanComment, type GitHubClient } from "../../../stacks/ci/github";

interface Stored {
  id: number;
  number: number;
  body: string;
  user: { type: "Bot" | "User"; login: string };
  state: "open" | "closed";
  labels: string[];
  issue_number?: number;
  pull_request?: object;
}

function fakeGitHub() {
  let nextId = 1;
  const comments: Stored[] = [];
  const issues: Stored[] = [];
  const writes: string[] = [];
  const bot = { type: "Bot" as const, login: "github-actions[bot]" };
  const page = <T>(items: T[], params: { per_page?: number; page?: number }) => {
    const size = params.per_page ?? 30;
    const p = params.page ?? 1;
    return items.slice((p - 1) * size, p * size);
  };
  const rest = {
    issues: {
      listComments: async (params: { issue_number: number; per_page?: number; page?: number }) => ({ data: page(comments.filter((c) => c.issue_number === params.issue_number), params) }),
      createComment: async (params: { issue_number: number; body: string }) => {
        writes.push(`createComment #${params.issue_number}`);
        const c: Stored = { id: nextId++, number: 0, body: params.body, user: bot, state: "open", labels: [], issue_number: params.issue_number };
        comments.push(c);
        return { data: c };
      },
      updateComment: async (params: { comment_id: number; body: string }) => {
        writes.push(`updateComment ${params.comment_id}`);
        const c = comments.find((x) => x.id === params.comment_id)!;
        c.body = params.body;
        return { data: c };
      },
      listForRepo: async (params: { state?: string; labels?: string; per_page?: number; page?: number }) => ({
        data: page(issues.filter((i) => (params.state ? i.state === params.state : true) && (!params.labels || i.labels.includes(params.labels))), params),
      }),
      create: async (params: { title: string; body: string; labels?: string[] }) => {
        writes.push(`create "${params.title}"`);
        const i: Stored = { id: nextId++, number: 100 + issues.length, body: params.body, user: bot, state: "open", labels: params.labels ?? [] };
        issues.push(i);
        return { data: i };
      },
      update: async (params: { issue_number: number; body?: string; state?: "open" | "closed" }) => {
        writes.push(`update #${params.issue_number}${params.state ? ` ${params.state}` : ""}`);
        const i = issues.find((x) => x.number === params.issue_number)!;
        if (params.body !== undefined) i.body = params.body;
        if (params.state) i.state = params.state;
        return { data: i };
      },
    },
  };
  // octokit.paginate: follows pages until one comes back short.
  const paginate = async <T>(route: (p: never) => Promise<{ data: T[] }>, params: Record<string, unknown>): Promise<T[]> => {
    const all: T[] = [];
    for (let p = 1; ; p++) {
      const { data } = await route({ ...params, page: p } as never);
      all.push(...data);
      if (data.length < ((params.per_page as number) ?? 30)) return all;
    }
  };
  const human = (issueNumber: number, body: string) => comments.push({ id: nextId++, number: 0, body, user: { type: "User", login: "dev" }, state: "open", labels: [], issue_number: issueNumber });
  return { client: { paginate, rest } as unknown as GitHubClient, comments, issues, writes, human, bot };
}

const repo = { owner: "modelport", repo: "modelport" };

describe("PR comments", () => {
  test("one comment per stack: created, then edited in place, untouched when nothing changed", async () => {
    const gh = fakeGitHub();
    const body = (n: number) => `<!-- modelport-plan:platform-staging -->\n### plan ${n}`;
    expect(await upsertPlanComment(gh.client, repo, 7, "platform-staging", body(1))).toBe("created");
    expect(await upsertPlanComment(gh.client, repo, 7, "model-flight-delay-staging", "<!-- modelport-plan:model-flight-delay-staging -->\nx")).toBe("created");
    expect(await upsertPlanComment(gh.client, repo, 7, "platform-staging", body(2))).toBe("updated");
    expect(await upsertPlanComment(gh.client, repo, 7, "platform-staging", body(2))).toBe("unchanged");
    expect(gh.comments.filter((c) => c.issue_number === 7).map((c) => c.body)).toEqual([body(2), "<!-- modelport-plan:model-flight-delay-staging -->\nx"]);
    expect(gh.writes).toEqual(["createComment #7", "createComment #7", "updateComment 1"]);
  });

  test("finds its comment past the first page, and never edits a person's comment quoting the marker", async () => {
    const gh = fakeGitHub();
    for (let i = 0; i < 120; i++) gh.human(7, `review note ${i}`);
    gh.human(7, "why is <!-- modelport-plan:platform-staging --> failing?");
    await upsertPlanComment(gh.client, repo, 7, "platform-staging", "<!-- modelport-plan:platform-staging -->\nfirst");
    expect(await upsertPlanComment(gh.client, repo, 7, "platform-staging", "<!-- modelport-plan:platform-staging -->\nsecond")).toBe("updated");
    expect(gh.comments.find((c) => c.user.type === "User" && c.body.includes("failing"))!.body).toMatch(/^why is/);
    expect(gh.comments.filter((c) => c.user.type === "Bot")).toHaveLength(1);
  });
});

describe("drift issues", () => {
  test("opened on drift, updated while it lasts, closed with a comment when the plan is clean", async () => {
    const gh = fakeGitHub();
    const body = (n: number) => `<!-- modelport-drift:platform-prod -->\ndrift ${n}`;
    expect(await syncDriftIssue(gh.client, repo, "platform-prod", body(1))).toBe("opened");
    expect(await syncDriftIssue(gh.client, repo, "platform-prod", body(2))).toBe("updated");
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0]).toMatchObject({ body: body(2), labels: ["drift"], state: "open" });
    expect(await syncDriftIssue(gh.client, repo, "platform-prod", undefined)).toBe("closed");
    expect(gh.issues[0].state).toBe("closed");
    expect(await syncDriftIssue(gh.client, repo, "platform-prod", undefined)).toBe("none");
    expect(await syncDriftIssue(gh.client, repo, "platform-prod", body(3))).toBe("opened");
    expect(gh.writes).toEqual(['create "Drift: platform-prod differs from its configuration"', "update #100", "createComment #100", "update #100 closed", 'create "Drift: platform-prod differs from its configuration"']);
  });

  test("github-script entry: the action and the result file come from the environment", async () => {
    const gh = fakeGitHub();
    const dir = mkdtempSync(join(tmpdir(), "ci-result-"));
    try {
      const file = join(dir, "result.json");
      const result = (status: string) => ({ stack: "platform-prod", environment: "prod", summary: { status }, comment: "<!-- modelport-plan:platform-prod -->\nc", driftIssue: "<!-- modelport-drift:platform-prod -->\nd" });
      writeFileSync(file, JSON.stringify(result("changes")));
      const context = { repo, payload: { pull_request: { number: 9 } } };
      expect(await fromActions({ github: gh.client, context }, { MODELPORT_CI_ACTION: "plan-comment", MODELPORT_CI_RESULT: file })).toBe("created");
      expect(await fromActions({ github: gh.client, context }, { MODELPORT_CI_ACTION: "drift-issue", MODELPORT_CI_RESULT: file })).toBe("opened");
      writeFileSync(file, JSON.stringify(result("failed")));
      expect(await fromActions({ github: gh.client, context }, { MODELPORT_CI_ACTION: "drift-issue", MODELPORT_CI_RESULT: file })).toBe("none");
      await expect(fromActions({ github: gh.client, context }, { MODELPORT_CI_ACTION: "deploy", MODELPORT_CI_RESULT: file })).rejects.toThrow(/is not plan-comment or drift-issue/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
