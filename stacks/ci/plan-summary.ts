/**
 * What a Terraform plan will do, from `terraform show -json <planfile>` (format 1.x, internal/command/jsonplan):
 * counts per resource type, every destroy and replace named with its reason, and the rendering of one PR
 * comment per stack (with its monthly cost and the delta against main) or one drift issue per stack.
 */

/** jsonplan.ResourceChange, as far as read here. */
export interface PlanResourceChange {
  readonly address: string;
  readonly previous_address?: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly deposed?: string;
  readonly change: { readonly actions: readonly string[]; readonly replace_paths?: readonly (readonly (string | number)[])[]; readonly importing?: unknown };
  readonly action_reason?: string;
}

/** The part of the JSON plan format read here (jsonplan.plan / ResourceChange / Change). */
export interface TerraformPlanJson {
  readonly format_version: string;
  readonly terraform_version?: string;
  readonly resource_changes?: readonly PlanResourceChange[];
  readonly resource_drift?: readonly unknown[];
  readonly output_changes?: Readonly<Record<string, { readonly actions: readonly string[] }>>;
  readonly applyable?: boolean;
  readonly errored?: boolean;
}

export type ChangeKind = "create" | "update" | "replace" | "delete" | "forget" | "import";
export const CHANGE_KINDS: readonly ChangeKind[] = ["create", "update", "replace", "delete", "forget", "import"];

export interface NamedChange {
  readonly address: string;
  /** Why, in words: "triggers_replace cannot be updated in place", "no longer in the configuration". */
  readonly why: string;
}

export interface PlanSummary {
  readonly stack: string;
  /** From `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 failed. */
  readonly status: "no-changes" | "changes" | "failed";
  readonly terraformVersion?: string;
  readonly totals: Readonly<Record<ChangeKind, number>>;
  readonly byType: Readonly<Record<string, Readonly<Record<ChangeKind, number>>>>;
  readonly destroys: readonly NamedChange[];
  readonly replaces: readonly NamedChange[];
  readonly outputChanges: number;
  /** Objects changed outside Terraform since the last apply (resource_drift). */
  readonly drifted: number;
  /** Terraform's own error output, for a failed plan. */
  readonly error?: string;
}

const REASONS: Readonly<Record<string, string>> = {
  replace_because_cannot_update: "cannot be updated in place",
  replace_because_tainted: "is tainted",
  replace_by_request: "replacement requested (-replace)",
  replace_by_triggers: "replace_triggered_by changed",
  delete_because_no_resource_config: "no longer in the configuration",
  delete_because_wrong_repetition: "count/for_each changed",
  delete_because_count_index: "its count index is gone",
  delete_because_each_key: "its for_each key is gone",
  delete_because_no_module: "its module is gone",
  delete_because_no_move_target: "its moved target is gone",
};

/** The kind of one change's actions (jsonplan.Change.Actions), or undefined for no-op and data reads. */
export function changeKind(actions: readonly string[]): Exclude<ChangeKind, "import"> | undefined {
  const key = actions.join(",");
  if (key === "create") return "create";
  if (key === "update") return "update";
  if (key === "delete") return "delete";
  if (key === "forget") return "forget";
  if (key === "delete,create" || key === "create,delete" || key === "create,forget") return "replace";
  return undefined;
}

function zero(): Record<ChangeKind, number> {
  return { create: 0, update: 0, replace: 0, delete: 0, forget: 0, import: 0 };
}

/** Summarises a plan; `exitCode` is plan -detailed-exitcode's, `stderr` what it printed (shown when it failed). */
export function summarizePlan(stack: string, plan: TerraformPlanJson | undefined, exitCode: number, stderr = ""): PlanSummary {
  if (plan && !/^1\./.test(plan.format_version)) throw new Error(`${stack}: plan JSON format ${plan.format_version} is not 1.x`);
  const totals = zero();
  const byType: Record<string, Record<ChangeKind, number>> = {};
  const destroys: NamedChange[] = [];
  const replaces: NamedChange[] = [];
  for (const rc of plan?.resource_changes ?? []) {
    if (rc.mode !== "managed") continue;
    const kinds: ChangeKind[] = [];
    const kind = changeKind(rc.change.actions);
    if (kind) kinds.push(kind);
    if (rc.change.importing) kinds.push("import");
    for (const k of kinds) {
      totals[k]++;
      (byType[rc.type] ??= zero())[k]++;
    }
    const address = rc.deposed ? `${rc.address} (deposed ${rc.deposed})` : rc.address;
    if (kind === "delete") destroys.push({ address, why: REASONS[rc.action_reason ?? ""] ?? "deleted" });
    if (kind === "replace") replaces.push({ address, why: replaceWhy(rc.change.replace_paths, rc.action_reason) });
  }
  const failed = exitCode === 1 || plan?.errored === true;
  return {
    stack,
    status: failed ? "failed" : exitCode === 2 ? "changes" : "no-changes",
    terraformVersion: plan?.terraform_version,
    totals,
    byType,
    destroys,
    replaces,
    outputChanges: Object.values(plan?.output_changes ?? {}).filter((o) => changeKind(o.actions)).length,
    drifted: plan?.resource_drift?.length ?? 0,
    error: failed ? cleanError(stderr) : undefined,
  };
}

function replaceWhy(paths: PlanResourceChange["change"]["replace_paths"], reason?: string): string {
  const attributes = (paths ?? []).map((p) => p.map((step) => (typeof step === "number" ? `[${step}]` : step)).join(".").replace(/\.\[/g, "["));
  const why = REASONS[reason ?? ""] ?? "replaced";
  return attributes.length > 0 ? `${attributes.map((a) => `\`${a}\``).join(", ")} ${why}` : why;
}

/** Terraform's diagnostics without colour codes and without the CLI-configuration warning noise. */
function cleanError(stderr: string): string {
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const errors = text.split(/\n(?=(?:╷\s*\n)?│?\s*Error: )/).filter((block) => /Error: /.test(block));
  return (errors.length > 0 ? errors.join("\n") : text).replace(/^[╷╵│ ]+/gm, "").trim().slice(0, 6000);
}

export interface CommentCost {
  readonly monthly: number;
  /** main's estimate for the same stack; undefined when main has no such stack or could not be estimated. */
  readonly base?: number;
  readonly baseKnown: boolean;
  readonly notPriced: number;
}

export interface CommentContext {
  readonly commit?: string;
  readonly runUrl?: string;
}

/** The hidden marker that identifies a stack's PR comment (and drift issue), so it is updated in place. */
export function commentMarker(kind: "plan" | "drift", stack: string): string {
  return `<!-- modelport-${kind}:${stack} -->`;
}

export function headline(s: PlanSummary): string {
  if (s.status === "failed") return "plan failed";
  if (s.status === "no-changes") return "no changes";
  const t = s.totals;
  const parts = [`${t.create} to add`, `${t.update} to change`, `${t.replace} to replace`, `${t.delete} to destroy`];
  if (t.import) parts.push(`${t.import} to import`);
  if (t.forget) parts.push(`${t.forget} to forget`);
  return parts.join(", ");
}

const money = (x: number) => `${x < 0 ? "-" : ""}$${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function costLine(cost: CommentCost): string {
  const delta = cost.base === undefined ? undefined : Math.round((cost.monthly - cost.base) * 100) / 100;
  const against = !cost.baseKnown
    ? "main: not estimated"
    : cost.base === undefined
      ? "new stack"
      : `main ${money(cost.base)}, ${delta! > 0 ? "**+" : delta! < 0 ? "**" : ""}${money(delta!)}${delta !== 0 ? "**" : ""}`;
  const unpriced = cost.notPriced > 0 ? ` · ${cost.notPriced} resource(s) not priced (the figure is a lower bound)` : "";
  return `**Monthly cost** (on-demand estimate): ${money(cost.monthly)} (${against})${unpriced}`;
}

/** One Markdown PR comment for one stack. */
export function renderPlanComment(s: PlanSummary, cost: CommentCost | undefined, context: CommentContext = {}): string {
  const icon = s.status === "failed" ? "❌" : s.status === "changes" ? "📝" : "✅";
  const lines = [commentMarker("plan", s.stack), `### ${icon} \`${s.stack}\`: ${headline(s)}`, ""];
  lines.push(...planBody(s));
  if (cost) lines.push(costLine(cost), "");
  lines.push(footer(s, context));
  return lines.join("\n");
}

/** The drift issue body for a stack whose scheduled plan found changes. */
export function renderDriftIssue(s: PlanSummary, context: CommentContext = {}): string {
  const lines = [
    commentMarker("drift", s.stack),
    `The scheduled plan of \`${s.stack}\` against its live state is not empty: ${headline(s)}.`,
    s.drifted > 0 ? `Terraform saw ${s.drifted} object(s) changed outside Terraform.` : "",
    "Either apply main again (the apply workflow) or bring the configuration in line with the change, then this issue closes on the next clean plan.",
    "",
    ...planBody(s),
    footer(s, context),
  ];
  return lines.filter((l, i) => l !== "" || lines[i - 1] !== "").join("\n");
}

function planBody(s: PlanSummary): string[] {
  const lines: string[] = [];
  if (s.status === "failed") lines.push("```text", s.error || "terraform plan failed without an error message", "```", "");
  const types = Object.entries(s.byType).sort(([a], [b]) => a.localeCompare(b));
  if (types.length > 0) {
    const cell = (n: number) => (n === 0 ? "" : String(n));
    lines.push("| resource type | add | change | replace | destroy |", "| --- | ---: | ---: | ---: | ---: |");
    for (const [type, c] of types) lines.push(`| \`${type}\` | ${cell(c.create)} | ${cell(c.update)} | ${cell(c.replace)} | ${cell(c.delete)} |`);
    lines.push("");
  }
  const named = (title: string, changes: readonly NamedChange[]) => (changes.length ? [`**${title}** (${changes.length})`, ...changes.map((c) => `- \`${c.address}\`: ${c.why}`), ""] : []);
  lines.push(...named("⚠️ Destroyed", s.destroys), ...named("♻️ Replaced (destroyed and created again)", s.replaces));
  if (s.outputChanges > 0) lines.push(`${s.outputChanges} output(s) change.`, "");
  return lines;
}

function footer(s: PlanSummary, context: CommentContext): string {
  const parts = [s.terraformVersion ? `terraform ${s.terraformVersion}` : "", context.commit ? `commit ${context.commit.slice(0, 12)}` : "", context.runUrl ? `[run](${context.runUrl})` : ""];
  return `<sub>${parts.filter(Boolean).join(" · ")}</sub>`;
}
