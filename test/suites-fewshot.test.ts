/**
 * GSM8K few-shot selection reproduces lm-evaluation-harness's sampler: CPython's
 * random.Random(1234).sample over the train split, one call per test item in order. The expected
 * numbers below were printed by CPython 3.11.
 */
import { describe, expect, it } from 'vitest';
import { fewshotDraws } from '../tasks/suites/fewshot.ts';
import { PythonRandom } from '../tasks/suites/python-random.ts';
import { expandSuite } from '../tasks/suites/expand.ts';
import { loadTaskSpec } from '../tasks/suites/spec.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

describe('PythonRandom (CPython random.Random)', () => {
  it('getrandbits(32) after seed 1234', () => {
    const r = new PythonRandom(1234);
    expect(Array.from({ length: 5 }, () => r.getrandbits(32))).toEqual([4150886329, 3342196574, 1892932127, 501869158, 32175636]);
  });

  it('sample from a small population (pool branch)', () => {
    const r = new PythonRandom(0);
    expect(
      r.sample(
        Array.from({ length: 20 }, (_, i) => i),
        20,
      ),
    ).toEqual([12, 13, 1, 8, 15, 6, 19, 4, 7, 5, 9, 3, 2, 11, 17, 0, 14, 16, 18, 10]);
  });

  it('seeds wider than 32 bits', () => {
    const r = new PythonRandom(2 ** 40 + 17);
    expect(r.getrandbits(32)).toBe(2840774218);
    expect(r.sample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 7)).toEqual([3, 7, 1, 9, 6, 5, 8]);
  });
});

describe('GSM8K few-shot examples', () => {
  it('are the i-th sample of random.Random(1234) over the 7473 train rows', () => {
    const draws = fewshotDraws(7473, 5, 1234, 1318);
    expect(draws[0]).toEqual([6374, 3610, 957, 61, 742]);
    expect(draws[1]).toEqual([7462, 6610, 4769, 286, 5501]);
    expect(draws[99]).toEqual([429, 244, 3670, 6602, 656]);
    expect(draws[1318]).toEqual([220, 4179, 6064, 5599, 5541]);
  });

  it('do not depend on --limit: an item gets the examples of a full run', () => {
    const spec = loadTaskSpec('gsm8k');
    const subset = expandSuite(spec, { dataDir, limit: 3, seed: 5 });
    const full = expandSuite(spec, { dataDir });
    for (const doc of subset) {
      expect(doc.fewshotIds).toEqual(full[doc.index]?.fewshotIds);
      expect(doc.prompt).toBe(full[doc.index]?.prompt);
    }
    expect(full[99]?.fewshotIds).toEqual(['train-429', 'train-244', 'train-3670', 'train-6602', 'train-656']);
  });
});
