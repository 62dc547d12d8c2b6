/**
 * Copy/repetition, arithmetic and bootstrap scoring.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapMean, bootstrapRatio, bootstrapRatioDifference, pairedBootstrap } from '../src/scoring/bootstrap.ts';
import { scoreCopy } from '../src/scoring/copy-match.ts';
import { editSimilarity, levenshtein } from '../src/scoring/edit-similarity.ts';
import { scoreNumber } from '../src/scoring/number-match.ts';
import { cutAtStop } from '../src/stop-strings.ts';
import { loadTaskSpec } from '../tasks/suites/spec.ts';
import { scoreSample, suiteMetrics } from '../tasks/suites/score-sample.ts';

describe('edit similarity', () => {
  it('is 1 - Levenshtein / longer length, over code points', () => {
    expect(levenshtein([...'kitten'], [...'sitting'])).toBe(3);
    expect(editSimilarity('kitten', 'sitting')).toBeCloseTo(1 - 3 / 7, 12);
    expect(editSimilarity('', '')).toBe(1);
    expect(editSimilarity('abc', '')).toBe(0);
    expect(editSimilarity('😀a', '😀b')).toBeCloseTo(0.5, 12);
  });
});

describe('copy and repetition scoring', () => {
  it('ignores the leading space of the target and surrounding whitespace', () => {
    expect(scoreCopy(' 71 5 302 48', '71 5 302 48')).toEqual({ exact_match: 1, edit_similarity: 1 });
    expect(scoreCopy(' 71 5 302 4', '71 5 302 48')).toEqual({ exact_match: 0, edit_similarity: 1 - 1 / 11 });
  });

  it('the repetition suite cuts at the newline first', () => {
    const spec = loadTaskSpec('repetition');
    expect(suiteMetrics(spec)).toEqual(['exact_match', 'edit_similarity']);
    expect(scoreSample(spec, ' 1 2 3 4\nRepeat the numbers: 9', '1 2 3 4')).toEqual({ exact_match: 1, edit_similarity: 1 });
  });
});

describe('arithmetic scoring', () => {
  it('compares the first integer of the generation as a number', () => {
    expect(scoreNumber(' 936', '936')).toEqual({ exact_match: 1, answer: '936' });
    expect(scoreNumber(' 0936 apples', '936')).toEqual({ exact_match: 1, answer: '0936' });
    expect(scoreNumber(' 93 6', '936')).toEqual({ exact_match: 0, answer: '93' });
    expect(scoreNumber(' -4', '4')).toEqual({ exact_match: 0, answer: '-4' });
    expect(scoreNumber(' nine hundred', '936')).toEqual({ exact_match: 0, answer: '[invalid]' });
  });

  it('the addition suite ignores what follows the first newline', () => {
    const spec = loadTaskSpec('addition');
    expect(scoreSample(spec, ' 936\n1000', '936')).toEqual({ exact_match: 1, answer: '936' });
    expect(scoreSample(spec, '\n936', '936')).toEqual({ exact_match: 0, answer: '[invalid]' });
  });
});

describe('stop strings', () => {
  it('cuts before the earliest stop string', () => {
    expect(cutAtStop('abc</s>def\nghi', ['\n', '</s>'])).toBe('abc');
    expect(cutAtStop('abc', ['x'])).toBe('abc');
  });
});

describe('paired bootstrap', () => {
  const a = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const b = Array.from({ length: 200 }, (_, i) => (i % 5 === 0 ? 1 : 0));

  it('is deterministic for a seed and changes with it', () => {
    const one = pairedBootstrap(a, b, { samples: 2000, seed: 7 });
    expect(pairedBootstrap(a, b, { samples: 2000, seed: 7 })).toEqual(one);
    expect(pairedBootstrap(a, b, { samples: 2000, seed: 8 }).difference.ci95).not.toEqual(one.difference.ci95);
  });

  it('reports the sample means and intervals around them', () => {
    const r = pairedBootstrap(a, b, { samples: 2000, seed: 1 });
    expect(r.a.mean).toBeCloseTo(67 / 200, 12);
    expect(r.b.mean).toBeCloseTo(40 / 200, 12);
    expect(r.difference.mean).toBeCloseTo(27 / 200, 12);
    for (const e of [r.a, r.b, r.difference]) {
      expect(e.ci95[0]).toBeLessThan(e.mean);
      expect(e.ci95[1]).toBeGreaterThan(e.mean);
    }
    // Normal approximation of the 95% half-width of a proportion's mean: 1.96 * sqrt(p(1-p)/n).
    const half = 1.96 * Math.sqrt((0.335 * 0.665) / 200);
    expect((r.a.ci95[1] - r.a.ci95[0]) / 2).toBeGreaterThan(half * 0.85);
    expect((r.a.ci95[1] - r.a.ci95[0]) / 2).toBeLessThan(half * 1.15);
    expect(r.share_a_better).toBeGreaterThan(0.97);
  });

  it('pairs the resamples: a constant per-item difference has a zero-width interval', () => {
    const base = Array.from({ length: 50 }, (_, i) => (i * 37) % 11);
    const r = pairedBootstrap(
      base.map((v) => v + 0.5),
      base,
      { samples: 500, seed: 3 },
    );
    expect(r.difference.ci95[0]).toBeCloseTo(0.5, 12);
    expect(r.difference.ci95[1]).toBeCloseTo(0.5, 12);
    expect(r.a.ci95[1] - r.a.ci95[0]).toBeGreaterThan(0.5);
  });

  it('rejects mismatched or empty inputs', () => {
    expect(() => pairedBootstrap([1, 0], [1])).toThrow(/2 scores for a but 1 for b/);
    expect(() => pairedBootstrap([], [])).toThrow(/empty/);
    expect(() => bootstrapMean([1, Number.NaN])).toThrow(/non-finite/);
  });

  it('bootstrapMean gives the interval of one variant', () => {
    const e = bootstrapMean(a, { samples: 1000, seed: 0 });
    expect(e.mean).toBeCloseTo(0.335, 12);
    expect(e.ci95[0]).toBeLessThan(0.335);
  });
});

describe('cluster bootstrap of a pooled ratio', () => {
  const num = Array.from({ length: 40 }, (_, i) => ((i * 7) % 13) + 1);
  const den = Array.from({ length: 40 }, (_, i) => (i % 4) + 1);

  it('estimates sum(num) / sum(den), not the mean of the ratios', () => {
    const e = bootstrapRatio({ num, den }, { samples: 500, seed: 2 });
    const pooled = num.reduce((s, v) => s + v, 0) / den.reduce((s, v) => s + v, 0);
    expect(e.mean).toBeCloseTo(pooled, 12);
    expect(e.ci95[0]).toBeLessThan(pooled);
    expect(e.ci95[1]).toBeGreaterThan(pooled);
  });

  it('with unit weights it is the bootstrap of the mean (same draws, same interval)', () => {
    const ones = num.map(() => 1);
    expect(bootstrapRatio({ num, den: ones }, { samples: 800, seed: 5 })).toEqual(bootstrapMean(num, { samples: 800, seed: 5 }));
  });

  it('a constant ratio per cluster has a zero-width interval; a difference of two is their difference', () => {
    const a = { num: [3, 6, 9], den: [1, 2, 3] };
    const b = { num: [8, 4], den: [2, 1] };
    expect(bootstrapRatio(a, { samples: 200 }).ci95).toEqual([3, 3]);
    expect(bootstrapRatioDifference(a, b, { samples: 200 })).toEqual({ mean: 1, ci95: [1, 1] });
  });

  it('rejects mismatched or weightless clusters', () => {
    expect(() => bootstrapRatio({ num: [1, 2], den: [1] })).toThrow(/2 numerators but 1 denominators/);
    expect(() => bootstrapRatio({ num: [1], den: [0] })).toThrow(/no weight/);
  });
});
