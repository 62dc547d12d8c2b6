/**
 * The report's "At a glance" (reports/headline.ts): the verdict per suite follows the paired
 * difference's interval, a suite both variants fail is not called kept, and the hand-made study's
 * headline says what its numbers are.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { headlines, qualityVerdict } from '../reports/headline.ts';
import { loadReport, type ReportData } from '../reports/report-data.ts';
import { renderHtml } from '../reports/render-html.ts';
import { renderMarkdown } from '../reports/render-markdown.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { buildPatternStudy } from './report-fixtures.ts';
import { tempDir } from './store-fixtures.ts';

describe('the verdict on one suite', () => {
  it('follows the interval of FlexiDepth − full', () => {
    expect(qualityVerdict('em', 0.4, 0.5, { mean: -0.1, ci95: [-0.15, -0.05] }, 100)).toEqual({
      verdict: 'lower',
      because: 'em 0.400 against 0.500 at full depth, difference -0.100 [-0.150, -0.050] over 100 documents',
    });
    expect(qualityVerdict('em', 0.6, 0.5, { mean: 0.1, ci95: [0.02, 0.18] }, 100).verdict).toBe('higher');
    expect(qualityVerdict('em', 0.48, 0.5, { mean: -0.02, ci95: [-0.06, 0.01] }, 100)).toEqual({
      verdict: 'kept',
      because:
        'em 0.480 against 0.500 at full depth, difference -0.020 [-0.060, 0.010] over 100 documents, an interval that holds 0; a loss of up to 0.060 is not ruled out',
    });
  });

  it('cannot tell where both score near 0, yet says lower where the interval says so', () => {
    expect(qualityVerdict('em', 0, 0.01, { mean: -0.01, ci95: [-0.03, 0] }, 100).verdict).toBe('cannot tell');
    expect(qualityVerdict('em', 0.2, 0.01, { mean: 0.19, ci95: [-0.01, 0.4] }, 100).verdict).toBe('kept');
    expect(qualityVerdict('em', 0, 0.04, { mean: -0.04, ci95: [-0.07, -0.01] }, 100).verdict).toBe('lower');
  });
});

describe('the headline of a hand-made study', () => {
  let data: ReportData;

  beforeAll(async () => {
    const path = join(tempDir('flexibench-headline-'), 'headline.duckdb');
    const db = await StudyDb.open(path);
    await buildPatternStudy(db);
    await db.close();
    data = await loadReport([path], { samples: 300, seed: 1 });
  });

  it('has one series, every suite kept (both variants scored alike), and the layers used', () => {
    const [h, ...rest] = headlines(data);
    expect(rest).toEqual([]);
    expect(h!.series).toBe('flexidepth@0.5');
    expect(h!.suites.map((a) => [a.suite, a.metric, a.verdict])).toEqual([
      ['addition', 'exact_match', 'kept'],
      ['copy', 'exact_match', 'kept'],
      ['repetition', 'exact_match', 'kept'],
      ['xsum', 'rouge1', 'kept'],
    ]);
    // Layers used by hand (test/report-fixtures.ts): copy and xsum 4 of 6, repetition 5, addition 5.2.
    expect(h!.sentence).toBe('kept quality on 4 of 4 suites; 4.00 (copy) to 5.20 (addition) of 6 layers per generated token');
  });

  it("lists the paper's claims, the equation and the bowl included", () => {
    const texts = headlines(data)[0]!.claims.map((c) => c.text);
    expect(texts).toHaveLength(6);
    // Operand digits are produced by prompt positions (4 layers), result digits by [1,1,1] passes (6).
    expect(texts[4]).toBe('operand digits < result digits holds: +2.00 layers [2.00, 2.00]');
    // Routed usage over all tokens: first layer 28/28, middle 9/28, last 9/28.
    expect(texts[5]).toMatch(
      /^no bowl: first routed layer \+67\.9 points \[[\d.]+, [\d.]+\], last \+0\.0 points \[0\.0, 0\.0\] against the middle layers' mean$/,
    );
  });

  it('opens the page and summary.md', async () => {
    const html = await renderHtml(data, 'now');
    expect(html.indexOf('id="headline"')).toBeLessThan(html.indexOf('id="scores"'));
    expect(html).toContain('<strong class="holds">kept</strong>');
    const md = renderMarkdown(data, 'now');
    expect(md.indexOf('## At a glance')).toBeLessThan(md.indexOf('## Scores'));
    expect(md).toContain('**flexidepth@0.5** kept quality on 4 of 4 suites');
  });
});
