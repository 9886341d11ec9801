import type { CommentCost, PlanSummary } from "./plan-summary";

/** What `npm run ci -- plan` leaves for the next steps of the job (ci-out/<stack>/result.json). */
export interface StackResult {
  readonly stack: string;
  readonly environment: string;
  readonly summary: PlanSummary;
  readonly cost?: CommentCost;
  /** The PR comment (Markdown, with its marker). */
  readonly comment: string;
  /** The drift issue body (Markdown, with its marker). */
  readonly driftIssue: string;
}
