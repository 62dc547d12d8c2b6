/**
 * Passages for the `copy` and `continue-writing` suites (tasks/FORMATS.md): 8 to 24
 * whitespace-separated words starting at the start of a non-empty line in the last 10% (by
 * characters) of a corpus, lines joined by single spaces; optionally the words that follow as the
 * continuation. Training text uses only the part before that tail.
 */
import { UserError } from '../../src/errors.ts';
import { SeededRandom } from '../../src/seeded-random.ts';

export interface PassageOptions {
  /** Share of the corpus, by characters from the end, that evaluation passages come from. */
  tail_fraction?: number;
  min_words?: number;
  max_words?: number;
  /** Words kept after the passage as the reference continuation (0: none). */
  continuation_words?: number;
}

interface Tail {
  words: string[];
  /** Index into `words` of the first word of each non-empty line. */
  lineStarts: number[];
}

/**
 * Where the evaluation tail of a corpus begins: the first line start at or after the cut (the line
 * that straddles the cut is not part of the tail); text.length when there is none. Everything
 * before it is text no evaluation item reads.
 */
export function tailStart(text: string, tailFraction: number): number {
  const start = Math.floor(text.length * (1 - tailFraction));
  if (start === 0) return 0;
  const pos = text.indexOf('\n', start - 1) + 1;
  return pos === 0 ? text.length : pos;
}

function splitTail(text: string, tailFraction: number): Tail {
  const words: string[] = [];
  const lineStarts: number[] = [];
  const pos = tailStart(text, tailFraction);
  for (const line of text.slice(pos).split('\n')) {
    const lineWords = line.split(/\s+/).filter((w) => w !== '');
    if (lineWords.length > 0 && !/^\s/.test(line)) lineStarts.push(words.length);
    words.push(...lineWords);
  }
  return { words, lineStarts };
}

export function passageItems(corpus: string, options: PassageOptions, seed: number, count: number, where: string): Record<string, string>[] {
  const tailFraction = options.tail_fraction ?? 0.1;
  const minWords = options.min_words ?? 8;
  const maxWords = options.max_words ?? 24;
  const continuation = options.continuation_words ?? 0;
  if (minWords > maxWords) throw new UserError(`${where}: min_words ${minWords} exceeds max_words ${maxWords}`);
  const { words, lineStarts } = splitTail(corpus, tailFraction);
  const rng = new SeededRandom(seed);
  const order = rng.shuffle(lineStarts.slice());
  const items: Record<string, string>[] = [];
  for (const first of order) {
    if (items.length === count) break;
    const n = rng.int(minWords, maxWords);
    if (first + n + continuation > words.length) continue;
    items.push({
      passage: words.slice(first, first + n).join(' '),
      continuation: words.slice(first + n, first + n + continuation).join(' '),
    });
  }
  if (items.length < count) throw new UserError(`${where}: count ${count} exceeds the ${items.length} passages the corpus tail gives`);
  return items;
}
