/** Seeded pseudo-random numbers: every build of the model kit draws the same sample, so its files are byte-identical. */

/** mulberry32: a tiny 32-bit generator, plenty for sampling rows and initialising weights. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct indices from [0, n), in increasing order, in one seeded pass. */
export function sampleIndices(n: number, count: number, random: () => number): Uint32Array {
  const take = Math.min(n, count);
  const out = new Uint32Array(take);
  let chosen = 0;
  // Selection sampling (Knuth's Algorithm S): each index is kept with probability needed/remaining.
  for (let i = 0; i < n && chosen < take; i++) {
    if (random() * (n - i) < take - chosen) out[chosen++] = i;
  }
  return out;
}

/** Standard normal draw (Box-Muller). */
export function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
