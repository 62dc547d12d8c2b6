// A generation's stop strings are watched on a tail of its tokens (StopStringWatch) instead of the
// whole text at every token. The answer must be the whole text's at every step, on both tokenizer
// kinds, including UTF-8 characters split across tokens and stop strings that straddle the tail.
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importLlama2c } from '../src/model/llama2c.ts';
import { SeededRandom } from '../src/seeded-random.ts';
import { StopStringWatch, firstStop } from '../src/stop-strings.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { STORIES260K as STORIES, hasStories260K } from './shared-paths.ts';
import { tempDir } from './store-fixtures.ts';

const HAS_STORIES = hasStories260K();
const REFERENCE = resolve(import.meta.dirname, '../models/flexidepth-ref');
const TEXT =
  'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. ' +
  'How many clips did Natalia sell altogether? café — naïve 日本語 ½ × 3 = 1.5 😀 Answer: 72.\nQuestion: ';

let stories: TextTokenizer;
let reference: TextTokenizer;

beforeAll(async () => {
  if (HAS_STORIES) {
    const dir = join(tempDir('flexibench-stop-strings-'), 'stories260K');
    await importLlama2c(join(STORIES, 'stories260K.bin'), join(STORIES, 'tok512.bin'), dir);
    stories = TextTokenizer.load(dir);
  }
  reference = TextTokenizer.load(REFERENCE);
});

/** Generated ids: runs of encoded text (real merges, multi-byte characters) and of random ids (split characters, odd pieces). */
function generation(tok: TextTokenizer, vocab: number, rng: SeededRandom, length: number): number[] {
  const text = tok.encode(TEXT.repeat(4), false);
  const ids: number[] = [];
  while (ids.length < length) {
    const run = rng.int(1, 20);
    if (rng.float() < 0.5) {
      const at = rng.int(0, text.length - run);
      ids.push(...text.slice(at, at + run));
    } else for (let k = 0; k < run; k++) ids.push(rng.int(0, vocab - 1));
  }
  return ids.slice(0, length);
}

describe('stop strings watched on a tail of the generation', () => {
  const cases = [
    { name: 'reference model (byte-level BPE)', tok: () => reference, vocab: 2048, present: true },
    { name: 'stories260K (sentencepiece, byte fallback)', tok: () => stories, vocab: 512, present: HAS_STORIES },
  ];
  for (const c of cases) {
    it.skipIf(!c.present)(`${c.name}: every step answers as the whole text does`, () => {
      const tok = c.tok();
      const rng = new SeededRandom(7);
      const prompt = tok.encode('Question: how many? Answer:', true);
      let stoppedLate = 0;
      let splitCharacters = 0;
      for (let trial = 0; trial < 120; trial++) {
        const ids = generation(tok, c.vocab, rng, 220);
        const whole = tok.continuationText(prompt, ids);
        if (whole.includes('\uFFFD')) splitCharacters++;
        // Stop strings cut from the text itself, most of them late in it, and one that never occurs.
        const stops = Array.from({ length: rng.int(1, 3) }, () => {
          const len = rng.int(1, 12);
          const at = Math.floor(whole.length * (0.3 + 0.7 * rng.float())) - len;
          return whole.slice(Math.max(0, at), Math.max(0, at) + len);
        });
        stops.push('\u0000never');
        const watch = new StopStringWatch(stops, prompt, (context, part) => tok.continuationText(context, part));
        for (let n = 1; n <= ids.length; n++) {
          const expected = firstStop(tok.continuationText(prompt, ids.slice(0, n)), stops);
          expect(watch.check(ids.slice(0, n)), `trial ${trial}, ${n} tokens, stops ${JSON.stringify(stops)}`).toBe(expected);
          if (expected !== null) {
            if (n > 64) stoppedLate++;
            break;
          }
        }
      }
      // The tail path ran and found stops, on text with split characters: not only whole decodes.
      expect(stoppedLate).toBeGreaterThan(40);
      expect(splitCharacters).toBeGreaterThan(20);
    });
  }
});
