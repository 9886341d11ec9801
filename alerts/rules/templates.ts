/** Go-template snippets for alert annotations (Prometheus expands them with the alert's labels and value). */
import { LABEL } from "../promql";

/** {{ $labels.name }} */
export const label = (name: string) => `{{ $labels.${name} }}`;
/** "flight-delay (canary) in prod", with the namespace only when the series has one. */
export const modelVariant = `${label(LABEL.model)} (${label(LABEL.variant)})${inNamespace()}`;
export function inNamespace(): string {
  return `{{ with $labels.${LABEL.namespace} }} in {{ . }}{{ end }}`;
}
export const value = {
  percent: "{{ $value | humanizePercentage }}",
  duration: "{{ $value | humanizeDuration }}",
  number: "{{ $value | humanize }}",
  raw: "{{ $value }}",
  /** Three significant digits, for p-values and ratios near 0 (humanize would print 0.001 as "1m"). */
  precise: '{{ printf "%.3g" $value }}',
} as const;
/** Formats a threshold for prose: 0.1 s -> "100ms", 0.01 -> "1%". */
export const percent = (ratio: number) => `${+(ratio * 100).toFixed(2)}%`;
export const seconds = (s: number) => (s < 1 ? `${+(s * 1000).toFixed(1)}ms` : `${+s.toFixed(2)}s`);

/**
 * The first value of an instant query run when the alert is rendered, e.g. the baseline next to the live
 * hit rate. `expr` may use printf verbs filled from `args` (label references such as `$labels.model`).
 */
export function queried(expr: string, args: readonly string[], format: "humanizePercentage" | "humanize" | "humanizeDuration") {
  return `{{ with printf ${JSON.stringify(expr)} ${args.join(" ")} | query }}{{ . | first | value | ${format} }}{{ else }}n/a{{ end }}`;
}
