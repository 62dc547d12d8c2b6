/**
 * The bowl check (reports/bowl.ts) on hand-made samples: its differences against the per-layer
 * shares worked out directly, and its verdicts on a bowl, a hump, a slope and too few layers.
 */
import { describe, expect, it } from 'vitest';
import { bowlCheck } from '../reports/bowl.ts';
import type { SampleLayerUse } from '../reports/patterns.ts';

const BOOT = { samples: 400, seed: 3 };

/** `n` samples alternating between two usage profiles, so the interval has width. */
function samples(n: number, a: number[], b: number[], tokens = 10): SampleLayerUse[] {
  return Array.from({ length: n }, (_, i) => ({ tokens, ran: i % 2 === 0 ? a : b }));
}

/** Share of tokens that ran each layer, summed over samples: the figure the report charts. */
function shares(list: readonly SampleLayerUse[]): number[] {
  const tokens = list.reduce((s, u) => s + u.tokens, 0);
  return (list[0]?.ran ?? []).map((_, l) => list.reduce((s, u) => s + (u.ran[l] ?? 0), 0) / tokens);
}

describe('the bowl', () => {
  it('measures the first and last routed layer against the middle layers, as the shares give them', () => {
    const list = [...samples(20, [9, 3, 4, 8], [7, 5, 2, 10]), ...samples(10, [6, 1, 1, 5], [10, 0, 3, 9], 12)];
    const u = shares(list);
    const middle = (u[1]! + u[2]!) / 2;
    const check = bowlCheck(list, 4, BOOT);
    expect(check.first_minus_middle?.mean).toBeCloseTo(u[0]! - middle, 12);
    expect(check.last_minus_middle?.mean).toBeCloseTo(u[3]! - middle, 12);
    expect(check.verdict).toBe('holds');
    expect(check.text).toMatch(/^the bowl holds: first routed layer \+\d+\.\d points \[\d+\.\d, \d+\.\d\], last \+\d+\.\d points/);
  });

  it('calls a hump reversed and a slope no bowl', () => {
    const hump = bowlCheck(samples(30, [1, 8, 9, 2], [2, 9, 7, 1]), 4, BOOT);
    expect(hump.verdict).toBe('reversed');
    expect(hump.text).toMatch(/^no bowl, a hump: first routed layer -/);
    // Usage rising through the routed layers, as the issue found on the language suites.
    const slope = bowlCheck(samples(30, [1, 3, 6, 9], [2, 4, 7, 10]), 4, BOOT);
    expect(slope.verdict).toBe('no clear difference');
    expect(slope.first_minus_middle!.ci95[1]).toBeLessThan(0);
    expect(slope.last_minus_middle!.ci95[0]).toBeGreaterThan(0);
    expect(slope.text).toMatch(/^no bowl: /);
  });

  it('is not measured with fewer than three routed layers or no tokens', () => {
    expect(bowlCheck(samples(4, [3, 2], [1, 2]), 2, BOOT)).toEqual({
      first_minus_middle: null,
      last_minus_middle: null,
      verdict: 'not measured',
      text: 'the bowl: not measured (the model routes 2 layers; a bowl needs at least three)',
    });
    expect(bowlCheck([], 4, BOOT).text).toBe('the bowl: not measured (no generated tokens)');
  });
});
