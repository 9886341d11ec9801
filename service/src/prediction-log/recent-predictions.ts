/**
 * This replica's recent predictions, for /feedback with the object-storage sink (object-feedback.ts): the last
 * `capacity`, looked up by prediction id, held in typed arrays outside the JS heap. A Map of 100,000 objects
 * (one per prediction, each with its id string) kept the heap's old generation full of short-lived garbage:
 * promoted, marked and compacted on the event loop, it took /predict with S3 logging from 97% to 60-66% of
 * logging off's req/s (interleaved rounds, shared cores). Here a prediction costs no allocation:
 * - the id's 128 bits in four uint32 (ids are the service's own lower-case UUIDs; anything else is not found);
 * - model, version, variant, task and label as codes into a table of the distinct texts;
 * - an open-addressing hash table (linear probing, backward-shift deletion) from id to ring slot.
 */
import type { PredictionLogEntry, Task } from "../contract";
import type { LoggedPrediction } from "./feedback";

const TEXTS = 5;
const [MODEL, VERSION, VARIANT, TASK, LABEL] = [0, 1, 2, 3, 4];
/** Code of a NULL label; also of a text the full table could not take (the prediction is then not found). */
const NONE = 0;
const MAX_CODES = 0xffff;
const USED = 1;
const FALLBACK = 2;
const NO_PROBABILITY = 4;
const NO_VALUE = 8;

export class RecentPredictions {
  private readonly words: Uint32Array;
  private readonly codes: Uint16Array;
  private readonly flags: Uint8Array;
  private readonly probability: Float64Array;
  private readonly value: Float64Array;
  /** Ring slot + 1 per hash bucket (0: empty), at least twice the capacity. */
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly texts: string[] = ["\u0000none"];
  private readonly codeOf = new Map<string, number>();
  private readonly id = new Uint32Array(4);
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`the recent-predictions capacity must be a positive integer, not ${capacity}`);
    this.words = new Uint32Array(capacity * 4);
    this.codes = new Uint16Array(capacity * TEXTS);
    this.flags = new Uint8Array(capacity);
    this.probability = new Float64Array(capacity);
    this.value = new Float64Array(capacity);
    let buckets = 2;
    while (buckets < capacity * 2) buckets *= 2;
    this.table = new Int32Array(buckets);
    this.mask = buckets - 1;
  }

  /** Remembers an entry, forgetting the oldest beyond the capacity. */
  add(entry: PredictionLogEntry): void {
    if (!parseId(entry.predictionId, this.id)) return;
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    if (this.flags[slot]! & USED) this.unlink(slot);
    this.words.set(this.id, slot * 4);
    const codes = slot * TEXTS;
    this.codes[codes + MODEL] = this.code(entry.modelName);
    this.codes[codes + VERSION] = this.code(entry.modelVersion);
    this.codes[codes + VARIANT] = this.code(entry.variant);
    this.codes[codes + TASK] = this.code(entry.task);
    this.codes[codes + LABEL] = entry.label === null || entry.label === undefined ? NONE : this.code(String(entry.label));
    const probability = entry.probability ?? null;
    const value = entry.value ?? null;
    this.probability[slot] = probability ?? 0;
    this.value[slot] = value ?? 0;
    this.flags[slot] = USED | (entry.fallback ? FALLBACK : 0) | (probability === null ? NO_PROBABILITY : 0) | (value === null ? NO_VALUE : 0);
    let bucket = this.home(slot);
    while (this.table[bucket] !== 0) bucket = (bucket + 1) & this.mask;
    this.table[bucket] = slot + 1;
  }

  /** The remembered prediction, or undefined (never made here, or forgotten). */
  find(predictionId: string): LoggedPrediction | undefined {
    if (!parseId(predictionId, this.id)) return undefined;
    const slot = this.slotOf(this.id);
    if (slot < 0) return undefined;
    const codes = slot * TEXTS;
    const text = (at: number) => this.codes[codes + at]!;
    if (text(MODEL) === NONE || text(VERSION) === NONE || text(VARIANT) === NONE || text(TASK) === NONE) return undefined;
    const flags = this.flags[slot]!;
    return {
      model: this.texts[text(MODEL)]!,
      version: this.texts[text(VERSION)]!,
      variant: this.texts[text(VARIANT)]!,
      task: this.texts[text(TASK)]! as Task,
      label: text(LABEL) === NONE ? null : this.texts[text(LABEL)]!,
      probability: flags & NO_PROBABILITY ? null : this.probability[slot]!,
      value: flags & NO_VALUE ? null : this.value[slot]!,
      fallback: (flags & FALLBACK) !== 0,
      verified: true,
    };
  }

  private code(text: string): number {
    let code = this.codeOf.get(text);
    if (code !== undefined) return code;
    if (this.texts.length >= MAX_CODES) return NONE;
    code = this.texts.length;
    this.texts.push(text);
    this.codeOf.set(text, code);
    return code;
  }

  private hash(w: Uint32Array, at: number): number {
    // The ids' last 64 bits are random (UUIDv7 and v4 alike).
    return (Math.imul(w[at + 3]! ^ Math.imul(w[at + 2]!, 0x9e3779b1), 0x85ebca6b) >>> 0) & this.mask;
  }

  private home(slot: number): number {
    return this.hash(this.words, slot * 4);
  }

  private slotOf(id: Uint32Array): number {
    for (let bucket = this.hash(id, 0); this.table[bucket] !== 0; bucket = (bucket + 1) & this.mask) {
      const slot = this.table[bucket]! - 1;
      const w = slot * 4;
      if (this.words[w] === id[0] && this.words[w + 1] === id[1] && this.words[w + 2] === id[2] && this.words[w + 3] === id[3]) return slot;
    }
    return -1;
  }

  /** Takes a slot out of the table, moving later entries of its probe run back (no tombstones). */
  private unlink(slot: number): void {
    let hole = this.home(slot);
    while (this.table[hole] !== slot + 1) hole = (hole + 1) & this.mask;
    this.table[hole] = 0;
    for (let at = (hole + 1) & this.mask; this.table[at] !== 0; at = (at + 1) & this.mask) {
      const home = this.home(this.table[at]! - 1);
      // The entry at `at` stays unless its home lies cyclically outside (hole, at].
      const stays = hole <= at ? home > hole && home <= at : home > hole || home <= at;
      if (stays) continue;
      this.table[hole] = this.table[at]!;
      this.table[at] = 0;
      hole = at;
    }
  }
}

/** A lower-case UUID's 128 bits into out[0..4); false for anything else. */
export function parseId(id: string, out: Uint32Array): boolean {
  if (id.length !== 36) return false;
  let word = 0;
  let digits = 0;
  let words = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
      continue;
    }
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return false;
    word = word * 16 + d;
    if (++digits === 8) {
      out[words++] = word;
      word = 0;
      digits = 0;
    }
  }
  return true;
}
