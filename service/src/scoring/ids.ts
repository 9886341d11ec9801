/**
 * Deterministic prediction ids: a UUID (version 8, RFC 9562 custom) whose first 80 bits come from a hash of the
 * model name, version and input URI and whose last 48 bits are the row's index in that input. Re-scoring a shard
 * gives every row the id it had, a row keeps its id whichever shard scores it, and two rows never share one.
 */
import { createHash } from "node:crypto";

/** The first 24 characters ("xxxxxxxx-xxxx-8xxx-yxxx-") of every id of one input scored by one version. */
export function predictionIdPrefix(model: string, version: string, input: string): string {
  const hash = createHash("sha256").update(`${model}\u0000${version}\u0000${input}`).digest();
  hash[6] = 0x80 | (hash[6]! & 0x0f); // version 8
  hash[8] = 0x80 | (hash[8]! & 0x3f); // RFC 9562 variant
  const hex = hash.subarray(0, 10).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-`;
}

/** Rows an input may have for its ids to stay distinct (48 bits). */
export const MAX_ID_ROWS = 2 ** 48;

export function predictionId(prefix: string, row: number): string {
  return prefix + row.toString(16).padStart(12, "0");
}

/** Characters (ASCII, so bytes) of an id, and of the prefix its input and version share. */
export const ID_LENGTH = 36;
export const ID_PREFIX_LENGTH = 24;
