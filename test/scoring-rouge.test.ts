/**
 * ROUGE against rouge-score's own test vectors (../shared/datasets/rouge-testdata, sha256-checked
 * through its manifest): the long cases carry ROUGE-1.5.5's ground truth with and without
 * stemming; every expected precision, recall and F must be reproduced to 5 decimals.
 */
import { describe, expect, it } from 'vitest';
import { loadRows } from '../datasets/load.ts';
import { type RougeType, rougeScores, rougeTokenize } from '../src/scoring/rouge.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

interface RougeCase {
  id: string;
  reference: string;
  prediction: string;
  stemming: boolean;
  expect: Record<string, { p: number; r: number; f: number }>;
}

const cases = loadRows('rouge-testdata', 'cases', dataDir) as unknown as RougeCase[];
const checks = cases.flatMap((c) => Object.keys(c.expect).map((type) => [c.id, type, c] as const));

describe('rouge-score test vectors', () => {
  it('has all 11 cases and 19 (case, type) checks', () => {
    expect(cases).toHaveLength(11);
    expect(checks).toHaveLength(19);
    expect(cases.filter((c) => c.stemming).length).toBeGreaterThan(0);
  });

  it.each(checks)('%s %s', (_id, type, c) => {
    const got = rougeScores(c.reference, c.prediction, [type as RougeType], { stemming: c.stemming })[type];
    const want = c.expect[type];
    expect(got).toBeDefined();
    expect(want).toBeDefined();
    if (got === undefined || want === undefined) return;
    expect(got.precision).toBeCloseTo(want.p, 5);
    expect(got.recall).toBeCloseTo(want.r, 5);
    expect(got.fmeasure).toBeCloseTo(want.f, 5);
  });
});

describe('rouge tokenizer', () => {
  it('lower-cases, turns non-alphanumerics into spaces and stems only tokens longer than 3 characters', () => {
    expect(rougeTokenize("The cats' RUNNING-fast, isn't it?", true)).toEqual(['the', 'cat', 'run', 'fast', 'isn', 't', 'it']);
    expect(rougeTokenize('dies lies runs', true)).toEqual(['die', 'lie', 'run']);
    expect(rougeTokenize('ties', false)).toEqual(['ties']);
    expect(rougeTokenize('café naïve', false)).toEqual(['caf', 'na', 've']);
  });

  it('matches stemmed forms only with stemming on', () => {
    const on = rougeScores('the cats are running', 'the cat is run', ['rouge1'], { stemming: true }).rouge1;
    const off = rougeScores('the cats are running', 'the cat is run', ['rouge1'], { stemming: false }).rouge1;
    expect(on?.fmeasure).toBeCloseTo(0.75, 10);
    expect(off?.fmeasure).toBeCloseTo(0.25, 10);
  });

  it('Lsum splits on newlines while L sees one sequence', () => {
    const target = 'a b c\nd e f';
    const prediction = 'd e f\na b c';
    const scores = rougeScores(target, prediction, ['rougeL', 'rougeLsum'], { stemming: false });
    expect(scores.rougeL?.fmeasure).toBeCloseTo(0.5, 10);
    expect(scores.rougeLsum?.fmeasure).toBeCloseTo(1, 10);
  });
});
