/** Dashboard variables replaced as Grafana would before running a query (an "All" selection is the regex .*). */
export function expandVariables(expr: string, model: string): string {
  return expr
    .replace(/\$__rate_interval/g, "1m")
    .replace(/\$model\b/g, model)
    .replace(/\$(variant|node|gpu)\b/g, ".*");
}
