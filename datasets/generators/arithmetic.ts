/**
 * Arithmetic items for the `addition` and `product` suites (tasks/FORMATS.md): distinct operand
 * pairs drawn uniformly from the evaluation pairs only (see ./holdout.ts), so training, which uses
 * the other pairs, never sees an evaluation question.
 */
import { SeededRandom } from '../../src/seeded-random.ts';
import { UserError } from '../../src/errors.ts';
import { isEvaluationPair } from './holdout.ts';

export interface Range {
  lo: number;
  hi: number;
}

/** Pair spaces up to this size are listed and shuffled; larger ones are sampled by rejection. */
const ENUMERATE_LIMIT = 100_000;

/**
 * `count` distinct evaluation pairs (a in `aRange`, b in `bRange`), uniformly; a prefix of the
 * result for a larger count is the result for a smaller one.
 */
export function drawEvaluationPairs(seed: number, aRange: Range, bRange: Range, count: number, where: string): [number, number][] {
  const rng = new SeededRandom(seed);
  const space = (aRange.hi - aRange.lo + 1) * (bRange.hi - bRange.lo + 1);
  if (space <= ENUMERATE_LIMIT) {
    const pairs: [number, number][] = [];
    for (let a = aRange.lo; a <= aRange.hi; a++) {
      for (let b = bRange.lo; b <= bRange.hi; b++) if (isEvaluationPair(a, b)) pairs.push([a, b]);
    }
    if (count > pairs.length) throw new UserError(`${where}: count ${count} exceeds the ${pairs.length} evaluation pairs`);
    return rng.shuffle(pairs).slice(0, count);
  }
  // A third of a large space is evaluation pairs; ask for at most a tenth so rejection stays fast.
  if (count > space / 10) throw new UserError(`${where}: count ${count} is too large for ${space} pairs`);
  const seen = new Set<string>();
  const pairs: [number, number][] = [];
  while (pairs.length < count) {
    const a = rng.int(aRange.lo, aRange.hi);
    const b = rng.int(bRange.lo, bRange.hi);
    const key = `${a},${b}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (isEvaluationPair(a, b)) pairs.push([a, b]);
  }
  return pairs;
}

export interface AdditionOptions {
  /** Digits of each operand: 2 (10..99) or 3 (100..999). */
  digits?: 2 | 3;
}

export function additionItems(options: AdditionOptions, seed: number, count: number, where: string): Record<string, string>[] {
  const digits = options.digits ?? 3;
  const range = { lo: 10 ** (digits - 1), hi: 10 ** digits - 1 };
  return drawEvaluationPairs(seed, range, range, count, where).map(([a, b]) => ({
    a: String(a),
    b: String(b),
    answer: String(a + b),
  }));
}

/** A 2-digit (10..99) times a 1-digit (2..9) number: 720 pairs, about 240 of them for evaluation. */
export function productItems(seed: number, count: number | undefined, where: string): Record<string, string>[] {
  const aRange = { lo: 10, hi: 99 };
  const bRange = { lo: 2, hi: 9 };
  let n = count;
  if (n === undefined) {
    n = 0;
    for (let a = aRange.lo; a <= aRange.hi; a++) for (let b = bRange.lo; b <= bRange.hi; b++) if (isEvaluationPair(a, b)) n++;
  }
  return drawEvaluationPairs(seed, aRange, bRange, n, where).map(([a, b]) => ({
    a: String(a),
    b: String(b),
    answer: String(a * b),
  }));
}
