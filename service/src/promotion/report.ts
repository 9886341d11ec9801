/** The promotion report as a table for people (one row per gate, then the reasons) or as JSON for machines. */
import { count, fmt, ms, pct, type GateUnit } from "./gates";
import type { PromotionReport } from "./promote";
import type { RollbackReport } from "./rollback";

export function formatPromotion(report: PromotionReport): string {
  const c = report.canary;
  const s = report.stable;
  const lines = [
    `promote ${report.model}: canary version ${c.version} (${c.alias}) vs stable version ${s.version} (${s.alias}), ` +
      `window ${report.window}${report.labelWindow !== report.window ? `, labels ${report.labelWindow}` : ""}, task ${c.task} (${c.taskSource}), at ${report.evaluatedAt}`,
  ];
  for (const blocker of report.blockers) lines.push(`  not eligible: ${blocker}`);
  if (report.gates.length > 0) {
    const header = ["gate", "canary", "stable", "threshold", "samples (canary/stable)", "verdict"];
    const rows = report.gates.map((g) => [
      g.title,
      value(g.canary, g.unit),
      g.gate === "shift" ? (g.detail ? `p = ${g.detail.pValue.toPrecision(3)}` : "-") : value(g.stable, g.unit),
      g.threshold,
      `${count(g.samples.canary)}/${count(g.samples.stable)}`,
      g.verdict.toUpperCase(),
    ]);
    lines.push("", ...table([header, ...rows]), "");
    for (const g of report.gates) lines.push(`  ${g.title}: ${g.verdict} — ${g.reason}`);
  }
  lines.push("", `outcome: ${report.outcome.toUpperCase()} — ${report.action}`);
  return lines.join("\n");
}

export function formatRollback(report: RollbackReport): string {
  return `rollback ${report.model}: ${report.action}`;
}

function value(x: number | undefined, unit: GateUnit): string {
  if (x === undefined) return "-";
  if (unit === "rate") return pct(x);
  if (unit === "seconds") return ms(x);
  if (unit === "distance") return `JS ${x.toFixed(3)}`;
  return fmt(x);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
}
