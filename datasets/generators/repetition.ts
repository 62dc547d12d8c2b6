/**
 * Items for the `repetition` suite (tasks/FORMATS.md): 4 to 8 numbers; each number first draws
 * its digit count uniformly from 1..3, then a value uniformly among numbers of that many digits
 * (0..9, 10..99, 100..999). Only evaluation sequences (./holdout.ts) are kept, without repeats.
 */
import { SeededRandom } from '../../src/seeded-random.ts';
import { isEvaluationSequence } from './holdout.ts';

export function repetitionItems(seed: number, count: number): Record<string, string>[] {
  const rng = new SeededRandom(seed);
  const seen = new Set<string>();
  const items: Record<string, string>[] = [];
  while (items.length < count) {
    const length = rng.int(4, 8);
    const numbers: number[] = [];
    for (let i = 0; i < length; i++) {
      const digits = rng.int(1, 3);
      numbers.push(digits === 1 ? rng.int(0, 9) : rng.int(10 ** (digits - 1), 10 ** digits - 1));
    }
    const text = numbers.join(' ');
    if (seen.has(text) || !isEvaluationSequence(numbers)) continue;
    seen.add(text);
    items.push({ numbers: text, answer: text });
  }
  return items;
}
