/**
 * report.html: one self-contained page (inline CSS and SVG; no scripts, fonts, images or links to fetch), so it
 * opens the same from a laptop, an S3 console preview or an air-gapped cluster. Summary first, then prediction
 * and target drift, then every feature sorted by how far past its threshold it is, each with reference vs
 * current distributions side by side.
 */
import type { Chart, ColumnDrift } from "./analyze";
import { severity } from "./analyze";
import type { DriftReport } from "./report";

/** Escapes text for HTML; ":" too, so data values can never form a URL in the page source. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"':]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (value: number | null | undefined, digits = 3): string => {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  return abs < 1e-3 || abs >= 1e6 ? value.toExponential(2) : Number(value.toPrecision(digits)).toString();
};
const pct = (share: number) => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

const REF_COLOR = "#4c78a8";
const CUR_COLOR = "#f58518";

export function renderHtml(report: DriftReport): string {
  const { dataset } = report;
  const title = `Drift report: ${report.model}`;
  const windowText = report.window ? `${report.window.start} → ${report.window.end}` : "current data from a file";
  const verdict = dataset.drifted ? "Dataset drift detected" : "No dataset drift";
  const features = report.columns;
  const legend = `<div class="legend muted"><span style="background:${REF_COLOR}"></span>reference<span style="background:${CUR_COLOR}"></span>current</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}h3{font-size:16px;margin:0}
.muted{color:#5b6475;font-size:13px}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px}
.big{font-size:26px;font-weight:600}
.bad{color:#b42318}.ok{color:#067647}
.verdict{border-left:6px solid;padding:14px 16px;border-radius:8px;background:#fff;font-size:18px;font-weight:600}
.verdict.bad{border-color:#d92d20}.verdict.ok{border-color:#17b26a}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e8;border-radius:8px;font-size:14px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eceef2}th{background:#f0f2f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.pill.bad{background:#fee4e2}.pill.ok{background:#dcfae6}
.column{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px;margin:12px 0}
.column header{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:4px 16px;font-size:13px;margin:8px 0}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
ul.notes{margin:6px 0 0;padding-left:18px;font-size:13px;color:#5b6475}
svg text{font-size:11px;fill:#5b6475}
</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<div class="muted">Generated ${escapeHtml(report.generatedAt)} · reference ${escapeHtml(report.reference.source)} · current ${escapeHtml(report.current.source)}</div>
<section class="summary">
<div class="verdict ${dataset.drifted ? "bad" : "ok"}" style="grid-column:1/-1">${verdict}: ${dataset.driftedColumns} of ${dataset.columns} features drifted (${pct(dataset.driftShare)}; threshold ${pct(dataset.threshold)})</div>
<div class="card"><div class="muted">Share of drifted features</div><div class="big ${dataset.drifted ? "bad" : "ok"}">${pct(dataset.driftShare)}</div></div>
<div class="card"><div class="muted">Window</div><div>${escapeHtml(windowText)}</div></div>
<div class="card"><div class="muted">Rows (reference / current)</div><div class="big">${report.reference.rows.toLocaleString("en-US")} / ${report.current.rows.toLocaleString("en-US")}</div></div>
${miniCard("Prediction drift", report.prediction)}
${miniCard("Target drift", report.target)}
</section>
${malformedNote(report)}
<h2>Features by drift score</h2>
<table><thead><tr><th>Column</th><th>Type</th><th>Method</th><th class="num">Score</th><th class="num">Threshold</th><th>Drift</th></tr></thead><tbody>
${features.map(tableRow).join("\n")}
</tbody></table>
${report.skipped.length ? `<h2>Skipped columns</h2><table><thead><tr><th>Column</th><th>Role</th><th>Reason</th></tr></thead><tbody>${report.skipped.map((s) => `<tr><td>${escapeHtml(s.column)}</td><td>${s.role}</td><td>${escapeHtml(s.reason)}</td></tr>`).join("")}</tbody></table>` : ""}
${report.prediction || report.target ? `<h2>Prediction and target</h2>${legend}${[report.prediction, report.target].filter((c): c is ColumnDrift => c !== null).map(columnSection).join("\n")}` : ""}
<h2>Feature distributions</h2>
${legend}
${features.map(columnSection).join("\n")}
<p class="muted">${escapeHtml(report.method)}</p>
</main></body></html>
`;
}

function miniCard(label: string, column: ColumnDrift | null): string {
  if (!column) return `<div class="card"><div class="muted">${label}</div><div>not available</div></div>`;
  return `<div class="card"><div class="muted">${label} (${escapeHtml(column.column)})</div><div class="big ${column.drifted ? "bad" : "ok"}">${column.drifted ? "drift" : "no drift"}</div><div class="muted">${escapeHtml(column.methodTitle)} ${fmt(column.score)} (threshold ${fmt(column.threshold)})</div></div>`;
}

function malformedNote(report: DriftReport): string {
  const parts = [
    report.reference.malformedRows ? `${report.reference.malformedRows} reference rows` : "",
    report.current.malformedRows ? `${report.current.malformedRows} current rows` : "",
  ].filter(Boolean);
  return parts.length ? `<p class="card bad">Unparseable rows left out: ${parts.join(", ")}.</p>` : "";
}

const anchor = (column: string) => `col-${Buffer.from(column).toString("hex")}`;

function tableRow(c: ColumnDrift): string {
  return `<tr><td><a href="#${anchor(c.column)}">${escapeHtml(c.column)}</a></td><td>${c.kind}</td><td>${escapeHtml(c.methodTitle)}</td><td class="num">${fmt(c.score)}</td><td class="num">${fmt(c.threshold)}</td><td>${pill(c.drifted)}</td></tr>`;
}

const pill = (drifted: boolean) => `<span class="pill ${drifted ? "bad" : "ok"}">${drifted ? "drift" : "no drift"}</span>`;

function columnSection(c: ColumnDrift): string {
  const side = (label: string, s: ColumnDrift["reference"]) =>
    `<div><b>${label}</b>: ${s.count.toLocaleString("en-US")} values${s.missing ? `, ${s.missing.toLocaleString("en-US")} missing` : ""}${s.invalid ? `, ${s.invalid.toLocaleString("en-US")} invalid` : ""}${s.mean !== undefined ? `; mean ${fmt(s.mean)}, std ${fmt(s.std)}, range ${fmt(s.min)} – ${fmt(s.max)}` : ""}${s.distinct !== null ? `; ${s.distinct} distinct` : ""}</div>`;
  return `<article class="column" id="${anchor(c.column)}">
<header><h3>${escapeHtml(c.column)}</h3>${pill(c.drifted)}<span class="muted">${c.role} · ${c.kind} · ${escapeHtml(c.methodTitle)} = ${fmt(c.score)} (threshold ${fmt(c.threshold)}${c.scoreKind === "p_value" ? `, statistic ${fmt(c.statistic)}` : ""}) · ${fmt(severity(c), 2)}× threshold${c.exact ? "" : " · approximate"}</span></header>
<div class="stats">${side("Reference", c.reference)}${side("Current", c.current)}</div>
${chartSvg(c.chart)}
${c.notes.length ? `<ul class="notes">${c.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : ""}
</article>`;
}

/** Grouped bars (categories, few values) or paired histogram bars, shares on the y axis. */
export function chartSvg(chart: Chart): string {
  const width = 1000;
  const height = 220;
  const left = 48;
  const bottom = chart.type === "bars" ? 70 : 28;
  const top = 10;
  const plotW = width - left - 10;
  const plotH = height - top - bottom;
  const n = chart.reference.length;
  const maxShare = Math.max(...chart.reference, ...chart.current, 1e-9);
  const y = (share: number) => top + plotH - (share / maxShare) * plotH;
  const slot = plotW / Math.max(n, 1);
  const barW = Math.max(1, (slot * 0.8) / 2);
  const parts: string[] = [];
  for (const tick of [0, 0.5, 1]) {
    const yy = y(maxShare * tick);
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#eceef2"/>`);
    parts.push(`<text x="${left - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${pct(maxShare * tick)}</text>`);
  }
  for (let i = 0; i < n; i++) {
    const x0 = left + i * slot + slot * 0.1;
    const label = chart.type === "bars" ? chart.labels[i] : `${fmt(chart.edges[i])} – ${fmt(chart.edges[i + 1])}`;
    const bar = (share: number, x: number, color: string, who: string) =>
      `<rect x="${x.toFixed(1)}" y="${y(share).toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - y(share)).toFixed(1)}" fill="${color}"><title>${escapeHtml(label)}: ${who} ${pct(share)}</title></rect>`;
    parts.push(bar(chart.reference[i], x0, REF_COLOR, "reference"), bar(chart.current[i], x0 + barW, CUR_COLOR, "current"));
    if (chart.type === "bars") {
      const cx = left + (i + 0.5) * slot;
      const text = label.length > 14 ? `${label.slice(0, 13)}…` : label;
      parts.push(`<text x="${cx.toFixed(1)}" y="${top + plotH + 12}" text-anchor="end" transform="rotate(-45 ${cx.toFixed(1)} ${top + plotH + 12})">${escapeHtml(text)}</text>`);
    }
  }
  if (chart.type === "histogram") {
    for (const i of [0, Math.floor(n / 2), n]) {
      const x = left + i * slot;
      parts.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 16}" text-anchor="${i === n ? "end" : i === 0 ? "start" : "middle"}">${fmt(chart.edges[i])}</text>`);
    }
  }
  parts.push(`<line x1="${left}" x2="${width - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#9aa3b2"/>`);
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="reference vs current distribution">${parts.join("")}</svg>`;
}
