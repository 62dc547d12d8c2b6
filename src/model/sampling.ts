/**
 * Next-token choice: greedy argmax, or seeded temperature / top-p (nucleus) sampling whose draws
 * depend only on the seed (src/seeded-random.ts), so a sampled run can be repeated exactly.
 */

export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 keeps every token. */
  topP: number;
  /** Keep at most this many most likely tokens; 0 or absent keeps all. */
  topK?: number;
  seed: number;
}

/** Index of the largest value; the lowest index wins ties, as torch.argmax does. */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
  return best;
}

/**
 * Samples from softmax(row / temperature), restricted to the topK most likely tokens and, within
 * those, to the smallest set with mass >= topP.
 */
export function sampleToken(row: Float32Array, opts: SamplingOptions, random: () => number): number {
  if (opts.temperature <= 0) return argmax(row);
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  const probs = new Float64Array(row.length);
  for (let v = 0; v < row.length; v++) probs[v] = Math.exp((row[v]! - max) / opts.temperature);
  const order = Array.from({ length: row.length }, (_, v) => v).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const limit = opts.topK && opts.topK > 0 ? Math.min(opts.topK, order.length) : order.length;
  let topMass = 0;
  for (let k = 0; k < limit; k++) topMass += probs[order[k]!]!;
  let kept = 0;
  let mass = 0;
  while (kept < limit && (kept === 0 || mass < opts.topP * topMass)) mass += probs[order[kept++]!]!;
  let r = random() * mass;
  for (let k = 0; k < kept; k++) {
    r -= probs[order[k]!]!;
    if (r < 0) return order[k]!;
  }
  return order[kept - 1]!;
}
