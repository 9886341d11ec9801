/**
 * The JSON body parser for every route: Fastify's own (prototype-poisoning checks included) plus two things it
 * does not do.
 *
 * - Duplicate keys are refused (400 naming the key). JSON.parse keeps the last of them, so
 *   `{"hour": 3, "hour": 25}` would validate as 25 while a proxy or log reader that keeps the first sees 3.
 *   Detected without a second parse: in JSON text every ':' outside a string separates a key from its value, so
 *   the text holds more keys than the parsed value exactly when some object repeated one. Counting both costs
 *   one native indexOf per ':' and one walk of the value (see hasDuplicateKeys); only a body that fails the
 *   count is tokenised again, to name the key.
 * - The time the body finished arriving is kept on the request (`bodyReceivedAt`): a request's deadline counts
 *   from there, so a slow upload is not answered "model overloaded (timeout)" by an idle model.
 * - A body with more object keys than BODY_MAX_KEYS is refused (413) before it is parsed: JSON.parse of a 0.85 MB
 *   body of 100k keys takes ~100-150 ms of the event loop, so four clients sending such bodies starved every other
 *   client, while counting the keys first (the same ':' scan, exact count only past the limit) costs a few ms.
 */
import { performance } from "node:perf_hooks";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { RequestProblem } from "../errors";

declare module "fastify" {
  interface FastifyRequest {
    /** performance.now() when the whole body had arrived (and was decoded); 0 for requests without a parsed body. */
    bodyReceivedAt: number;
  }
}

type ParserDone = (error: Error | null, body?: unknown) => void;

export interface JsonBodyOptions {
  /** Most object keys a body may hold (BODY_MAX_KEYS). */
  readonly maxKeys: number;
}

/** Replaces the application/json parser of `app` (call at the root, before routes). */
export function installJsonBodyParser(app: FastifyInstance, { maxKeys }: JsonBodyOptions): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.decorateRequest("bodyReceivedAt", 0);
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request: FastifyRequest, body: string | Buffer, done: ParserDone) => {
    request.bodyReceivedAt = performance.now();
    const text = body as string;
    // One ':' scan serves both checks: the key budget before parsing, duplicate keys after.
    const colons = colonCount(text);
    const tooMany = keysOverLimit(text, maxKeys, colons);
    if (tooMany !== undefined) return done(tooManyKeysProblem(tooMany, maxKeys));
    // Fastify's parser answers synchronously, inside its own try: take the result out before going on, so an
    // error thrown further down the request's chain is not reported as invalid JSON (one shared callback, no
    // closure per request).
    parseJson(request, text, capture);
    const { error, value } = parseResult;
    parseResult.error = null;
    parseResult.value = undefined;
    if (error) return done(error);
    if (hasDuplicateKeys(text, value, colons)) return done(duplicateKeyProblem(text));
    done(null, value);
  });
}

const parseResult: { error: Error | null; value: unknown } = { error: null, value: undefined };
function capture(error: Error | null, value?: unknown): void {
  parseResult.error = error;
  parseResult.value = value;
}

/**
 * The body's key count when it is over `limit`, else undefined. Every key is followed by a ':', so at most `limit`
 * ':' (`colons`, counted once per body) means at most `limit` keys; only past it are the keys counted exactly, so
 * ':' inside string values cannot refuse a body. Invalid JSON is left to the parser.
 */
export function keysOverLimit(text: string, limit: number, colons = colonCount(text)): number | undefined {
  if (colons <= limit) return undefined;
  const keys = textKeyCount(text);
  return keys > limit ? keys : undefined;
}

function tooManyKeysProblem(keys: number, limit: number): RequestProblem {
  return new RequestProblem(413, `request body has ${keys} object keys, more than the ${limit} allowed (BODY_MAX_KEYS): send fewer fields or split the batch`, [
    { field: "(body)", problem: `${keys} keys, limit ${limit}` },
  ]);
}

/**
 * Whether `text` (valid JSON) repeats a key within an object, given its parsed `value`. Every key is followed by
 * a ':', so the text holds at least as many ':' as keys: when that count equals the parsed value's keys (the
 * common case: no ':' inside string values) there is no duplicate, found with one native indexOf per key.
 * Otherwise the keys are counted exactly.
 */
export function hasDuplicateKeys(text: string, value: unknown, colons = colonCount(text)): boolean {
  const parsed = parsedKeyCount(value);
  return colons !== parsed && textKeyCount(text) !== parsed;
}

/** ':' characters in `text`, one native indexOf each: an upper bound on its object keys. */
function colonCount(text: string): number {
  let colons = 0;
  for (let at = text.indexOf(":"); at >= 0; at = text.indexOf(":", at + 1)) colons++;
  return colons;
}

/**
 * Object keys in valid JSON text: the strings followed by ':' (every key is a string, and a ':' outside a string
 * only ever follows one). Jumps from string to string with native indexOf instead of visiting every character.
 */
export function textKeyCount(text: string): number {
  let keys = 0;
  const n = text.length;
  for (let at = text.indexOf('"'); at >= 0; at = text.indexOf('"', at)) {
    at = stringEnd(text, at + 1);
    let c = text.charCodeAt(at);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++at);
    if (c === 58 /* : */) keys++;
    if (at >= n) break;
  }
  return keys;
}

/** Index just past the closing quote of the string whose content starts at `from`. */
function stringEnd(text: string, from: number): number {
  for (let at = from; ; ) {
    const quote = text.indexOf('"', at);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote + 1;
  }
}

/** Own keys of every object in a parsed JSON value. Iterative: a deeply nested body must not overflow the stack. */
export function parsedKeyCount(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let keys = 0;
  const pending: object[] = [value];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (Array.isArray(next)) {
      for (const item of next) if (typeof item === "object" && item !== null) pending.push(item);
      continue;
    }
    for (const key in next) {
      keys++;
      const item = (next as Record<string, unknown>)[key];
      if (typeof item === "object" && item !== null) pending.push(item);
    }
  }
  return keys;
}

/** The error path only: tokenises the text again to name the first repeated key and where it is. */
function duplicateKeyProblem(text: string): RequestProblem {
  const duplicate = findDuplicateKey(text);
  const where = duplicate ? `${duplicate.path}` : "(body)";
  return new RequestProblem(400, `invalid request: ${where} appears more than once in the body (duplicate JSON key): send each key once`, [
    { field: where, problem: "duplicate key" },
  ]);
}

interface Frame {
  readonly path: string;
  readonly keys?: Set<string>;
  index: number;
  expectKey: boolean;
}

/** First key that repeats within one object, with its path (`[3].hour`, `inputs[0].name`). */
export function findDuplicateKey(text: string): { readonly key: string; readonly path: string } | undefined {
  const frames: Frame[] = [];
  let pendingPath = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = frames[frames.length - 1];
    if (c === "{" || c === "[") {
      frames.push({ path: pendingPath, keys: c === "{" ? new Set() : undefined, index: 0, expectKey: c === "{" });
      pendingPath = c === "[" ? `${pendingPath}[0]` : pendingPath;
    } else if (c === "}" || c === "]") {
      frames.pop();
    } else if (c === ",") {
      if (top?.keys) top.expectKey = true;
      else if (top) pendingPath = `${top.path}[${++top.index}]`;
    } else if (c === '"') {
      const end = stringEnd(text, i + 1);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        const path = top.path === "" ? key : `${top.path}.${key}`;
        if (top.keys.has(key)) return { key, path };
        top.keys.add(key);
        top.expectKey = false;
        pendingPath = path;
      }
      i = end - 1;
    }
  }
  return undefined;
}
