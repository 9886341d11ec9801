/** The model dashboards' template variables, and the query scopes built on them. */
import { CANARY, LABEL, STABLE, Scope, eq, matches, oneOf } from "../alerts/promql";

export const MODEL_VARIABLE = "$model";
export const VARIANT_VARIABLE = "$variant";

export const modelMatcher = eq(LABEL.model, MODEL_VARIABLE);
export const variantMatcher = matches(LABEL.variant, VARIANT_VARIABLE);
/** Series of the selected model and variants. */
export const served = [modelMatcher, variantMatcher];
/** Everything of the selected model and variants, kept by `by`. */
export const scope = (by: readonly string[], matchers: readonly string[] = served): Scope => ({ matchers, by });
/** Stable and canary of the selected model, whatever $variant says: the comparison row. */
export const stableVsCanary = (by: readonly string[]) => scope(by, [modelMatcher, oneOf(LABEL.variant, [STABLE, CANARY])]);
