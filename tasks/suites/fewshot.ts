/**
 * Few-shot example selection as lm-evaluation-harness's default sampler: one
 * `random.Random(seed)` stream, and for the i-th evaluated item (in item order) the i-th call of
 * `rnd.sample(examples, count)`. Computing the stream for every item up to the last one needed
 * makes an item's examples independent of --limit: they are those lm-eval gives it in a full,
 * single-process run.
 */
import { UserError } from '../../src/errors.ts';
import { PythonRandom } from './python-random.ts';
import type { FewshotSettings } from './task-schema.ts';

/**
 * How many examples are drawn with which seed, or null without any; the schema requires the seed
 * when count > 0. Where they come from (`split` or `path`) depends on the source: spec.ts checks it.
 */
export function fewshotDraw(fewshot: FewshotSettings): { count: number; seed: number } | null {
  const { count, seed } = fewshot;
  if (count === 0) return null;
  if (seed === undefined) throw new Error('fewshot with count > 0 passed validation without a seed');
  return { count, seed };
}

/**
 * Refuses a few-shot count larger than its split (or, for a file source, its examples file), naming
 * the task file: the sampler draws without replacement, so it could not pick that many (CPython's
 * random.sample raises there too).
 */
export function checkFewshotPool(file: string, draw: { count: number; split?: string; path?: string }, poolSize: number): void {
  if (draw.count > poolSize) {
    const pool = draw.split !== undefined ? `the fewshot split '${draw.split}'` : `the fewshot file ${draw.path ?? '?'}`;
    throw new UserError(`${file}: /fewshot/count is ${draw.count}, more than the ${poolSize} examples in ${pool}`);
  }
}

/** For each item index 0..upTo, the indices of its few-shot examples in the example split. */
export function fewshotDraws(exampleCount: number, count: number, seed: number, upTo: number): number[][] {
  const rng = new PythonRandom(seed);
  const population = Array.from({ length: exampleCount }, (_, i) => i);
  const draws: number[][] = [];
  for (let i = 0; i <= upTo; i++) draws.push(rng.sample(population, count));
  return draws;
}
