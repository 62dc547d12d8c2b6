/**
 * `--limit N` as a seeded random subset rather than the first N items: the first N draws of a
 * forward partial Fisher-Yates shuffle, returned in item order. The same seed gives the same
 * subset, and a larger limit keeps every item of a smaller one.
 */
import { SeededRandom } from '../../src/seeded-random.ts';

export function selectSubset(total: number, limit: number, seed: number): number[] {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  if (limit >= total) return Array.from({ length: total }, (_, i) => i);
  const rng = new SeededRandom(seed);
  const order = Array.from({ length: total }, (_, i) => i);
  for (let i = 0; i < limit; i++) {
    const j = rng.int(i, total - 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order.slice(0, limit).sort((a, b) => a - b);
}
