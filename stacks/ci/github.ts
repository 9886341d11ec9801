/**
 * The GitHub side of CI, called from actions/github-script with its authenticated client: one PR comment per
 * stack, found by its hidden marker and edited in place, and one drift issue per stack, opened or updated while
 * the scheduled plan is not empty and closed when it is empty again. Only comments and issues written by a bot
 * are ever edited, so a person quoting a marker is left alone.
 *
 *   - uses: actions/github-script@<sha>
 *     env: { MODELPORT_CI_ACTION: plan-comment, MODELPORT_CI_RESULT: ci-out/<stack>/result.json }
 *     with: { script: return require(`${process.env.GITHUB_WORKSPACE}/dist/stacks/ci/github.js`).fromActions({ github, context }) }
 */
import { readFileSync } from "node:fs";
import { commentMarker } from "./plan-summary";
import type { StackResult } from "./stack-result";

interface Comment {
  readonly id: number;
  readonly body?: string | null;
  readonly user?: { readonly type?: string } | null;
}

interface Issue extends Comment {
  readonly number: number;
  readonly pull_request?: unknown;
}

type Route<P, R> = (params: P) => Promise<{ data: R }>;
interface Repo {
  readonly owner: string;
  readonly repo: string;
}

/** The slice of octokit (github-script's `github`) used here. */
export interface GitHubClient {
  paginate<T>(route: Route<never, T[]>, params: Record<string, unknown>): Promise<T[]>;
  readonly rest: {
    readonly issues: {
      listComments: Route<Repo & { issue_number: number; per_page?: number }, Comment[]>;
      createComment: Route<Repo & { issue_number: number; body: string }, Comment>;
      updateComment: Route<Repo & { comment_id: number; body: string }, Comment>;
      listForRepo: Route<Repo & { state?: string; labels?: string; per_page?: number }, Issue[]>;
      create: Route<Repo & { title: string; body: string; labels?: string[] }, Issue>;
      update: Route<Repo & { issue_number: number; body?: string; state?: "open" | "closed"; state_reason?: string }, Issue>;
    };
  };
}

export const DRIFT_LABEL = "drift";

const byBot = (c: Comment) => c.user?.type === "Bot";

/** Creates the stack's comment on the pull request, or edits the one already there. */
export async function upsertPlanComment(github: GitHubClient, repo: Repo, pullRequest: number, stack: string, body: string): Promise<"created" | "updated" | "unchanged"> {
  const marker = commentMarker("plan", stack);
  const comments = await github.paginate(github.rest.issues.listComments as Route<never, Comment[]>, { ...repo, issue_number: pullRequest, per_page: 100 });
  const existing = comments.find((c) => byBot(c) && (c.body ?? "").includes(marker));
  if (!existing) {
    await github.rest.issues.createComment({ ...repo, issue_number: pullRequest, body });
    return "created";
  }
  if (existing.body === body) return "unchanged";
  await github.rest.issues.updateComment({ ...repo, comment_id: existing.id, body });
  return "updated";
}

/** Opens or updates the stack's drift issue while `body` is given; closes it once the plan is clean (`body` undefined). */
export async function syncDriftIssue(github: GitHubClient, repo: Repo, stack: string, body: string | undefined): Promise<"opened" | "updated" | "closed" | "none"> {
  const marker = commentMarker("drift", stack);
  const open = await github.paginate(github.rest.issues.listForRepo as Route<never, Issue[]>, { ...repo, state: "open", labels: DRIFT_LABEL, per_page: 100 });
  const existing = open.find((i) => !i.pull_request && byBot(i) && (i.body ?? "").includes(marker));
  if (body !== undefined) {
    if (!existing) {
      await github.rest.issues.create({ ...repo, title: `Drift: ${stack} differs from its configuration`, body, labels: [DRIFT_LABEL] });
      return "opened";
    }
    if (existing.body !== body) await github.rest.issues.update({ ...repo, issue_number: existing.number, body });
    return "updated";
  }
  if (!existing) return "none";
  await github.rest.issues.createComment({ ...repo, issue_number: existing.number, body: `The scheduled plan of \`${stack}\` is clean again: closing.` });
  await github.rest.issues.update({ ...repo, issue_number: existing.number, state: "closed", state_reason: "completed" });
  return "closed";
}

interface ActionsContext {
  readonly repo: Repo;
  readonly payload: { readonly pull_request?: { readonly number: number } };
}

/** Entry point for actions/github-script: what to do comes from MODELPORT_CI_ACTION and the stack's result file. */
export async function fromActions({ github, context }: { github: GitHubClient; context: ActionsContext }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = env.MODELPORT_CI_RESULT;
  if (!file) throw new Error("MODELPORT_CI_RESULT is not set: the path of the stack's result.json (npm run ci -- plan writes it)");
  const result = JSON.parse(readFileSync(file, "utf8")) as StackResult;
  if (env.MODELPORT_CI_ACTION === "plan-comment") {
    const pr = context.payload.pull_request?.number;
    if (!pr) throw new Error("plan-comment runs on pull_request events only");
    return upsertPlanComment(github, context.repo, pr, result.stack, result.comment);
  }
  if (env.MODELPORT_CI_ACTION === "drift-issue") {
    if (result.summary.status === "failed") return "none";
    return syncDriftIssue(github, context.repo, result.stack, result.summary.status === "changes" ? result.driftIssue : undefined);
  }
  throw new Error(`MODELPORT_CI_ACTION "${env.MODELPORT_CI_ACTION ?? ""}" is not plan-comment or drift-issue`);
}
