/**
 * The report's layer patterns on a study whose depths are fixed by rule (test/report-fixtures.ts),
 * so every expected number is worked out by hand from the producing-position reading.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { orderingText } from '../reports/paper.ts';
import { verdictOf } from '../reports/verdict.ts';
import { answerParts, depthDistribution, layerUsageByRun } from '../reports/patterns.ts';
import { loadReport, type ReportData } from '../reports/report-data.ts';
import { renderHtml } from '../reports/render-html.ts';
import { renderMarkdown } from '../reports/render-markdown.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { buildPatternStudy } from './report-fixtures.ts';
import { tempDir } from './store-fixtures.ts';

const BOOT = { samples: 300, seed: 1 };

describe('report patterns on a hand-made study', () => {
  let data: ReportData;
  const runOfSuite = (suite: string): string => {
    const run = data.summary.study.runs.find((r) => r.suite === suite && r.variant === 'flexidepth');
    if (run === undefined) throw new Error(`no flexidepth run of ${suite}`);
    return run.run_id;
  };

  beforeAll(async () => {
    const path = join(tempDir('flexibench-patterns-'), 'patterns.duckdb');
    const db = await StudyDb.open(path);
    await buildPatternStudy(db);
    await db.close();
    data = await loadReport([path], BOOT);
  });

  it('layers used per generated token at the producing position, with intervals', () => {
    const flex = (suite: string) => data.summary.results.find((r) => r.suite === suite && r.variant === 'flexidepth');
    // addition: ' ' (4), three digits (6 each), '\n' (4) per doc.
    expect(flex('addition')?.layers_used_mean).toBeCloseTo(26 / 5, 12);
    expect(flex('addition')?.layers_used_ci95).toEqual([26 / 5, 26 / 5]);
    expect(flex('repetition')?.layers_used_mean).toBeCloseTo(30 / 6, 12);
    expect(flex('copy')?.layers_used_mean).toBe(4);
    expect(flex('addition')?.routed_layer_usage).toEqual([
      { layer: 3, usage: 1 },
      { layer: 4, usage: 0.6 },
      { layer: 5, usage: 0.6 },
    ]);
    expect(data.summary.results.find((r) => r.suite === 'addition' && r.variant === 'full')?.routed_layer_usage).toBeNull();
  });

  it('per-layer usage and the depth distribution per run', () => {
    const s = data.studies[0]!;
    expect(layerUsageByRun(s.patterns).get(runOfSuite('copy'))).toEqual([1, 0, 0]);
    expect(depthDistribution(s.patterns).get(runOfSuite('addition'))).toEqual([
      { layers_used: 4, share: 0.4 },
      { layers_used: 6, share: 0.6 },
    ]);
  });

  it('splits arithmetic answers into operands and answer digits, copies into copied text and the rest', () => {
    const s = data.studies[0]!;
    const parts = answerParts(s.patterns, (runId) => data.runOf(s.label, runId).suite);
    const summary = (suite: string) => parts.get(runOfSuite(suite))?.map((p) => [p.part, p.layers_used_mean, p.tokens]);
    expect(summary('addition')).toEqual([
      ['prompt: operand digits', 4, 12],
      ['prompt: other tokens', 4, 22],
      ['answer digit 1', 6, 2],
      ['answer digit 2', 6, 2],
      ['answer digit 3', 6, 2],
      ['answer: other (space, end)', 4, 4],
    ]);
    // c1 copies all three words, then '\n'; c2 deviates at its second word (' pat' for ' put').
    expect(summary('copy')).toEqual([
      ['prompt', 4, 20],
      ['generated: copied from the source', 4, 4],
      ['generated: the rest (deviations, end)', 4, 4],
    ]);
    expect(parts.has(runOfSuite('xsum'))).toBe(false);
  });

  it("checks the paper's orderings with intervals and says so in words", () => {
    const [c] = data.summary.paper;
    expect(data.summary.paper).toHaveLength(1);
    expect(c!.series).toBe('flexidepth@0.5');
    const byTask = Object.fromEntries(c!.rows.map((r) => [r.task, r.ours?.mean ?? null]));
    expect(byTask).toEqual({ copy: 4, summarization: 4, 'continue-writing': null, repetition: 5, addition: 5.2, product: null });
    expect(c!.rows.find((r) => r.task === 'addition')?.ours?.share).toBeCloseTo(5.2 / 6, 12);
    expect(c!.orderings.map((o) => [o.fewer, o.more, o.verdict])).toEqual([
      ['copy', 'summarization', 'no clear difference'],
      ['summarization', 'continue-writing', 'not measured'],
      ['repetition', 'addition', 'holds'],
      ['addition', 'product', 'not measured'],
    ]);
    expect(c!.orderings[2]!.text).toBe('repetition < addition holds: +0.20 layers [0.20, 0.20]');
  });

  it('verdicts follow the interval', () => {
    expect(verdictOf({ mean: 1, ci95: [0.1, 2] })).toBe('holds');
    expect(verdictOf({ mean: -1, ci95: [-2, -0.1] })).toBe('reversed');
    expect(verdictOf({ mean: 0.5, ci95: [-0.1, 1] })).toBe('no clear difference');
    expect(orderingText('a', 'b', { mean: -1, ci95: [-2, -0.5] }, 'reversed')).toBe('a < b does not hold, it is reversed: -1.00 layers [-2.00, -0.50]');
  });

  it('renders a self-contained page and Markdown with the same numbers', async () => {
    const html = await renderHtml(data, 'now');
    for (const external of [/<script/i, /\ssrc=/i, /<link/i, /href="(?!#)/i, /@import/i, /url\(/i]) expect(html).not.toMatch(external);
    const charts = [...html.matchAll(/data-chart="([a-z-]+)"/g)].map((m) => m[1]);
    expect(charts).toEqual(['differences', 'layers-used', 'layer-usage', 'depth-distribution', 'answer-depth', 'speed']);
    expect(html).toContain('repetition &lt; addition holds: +0.20 layers [0.20, 0.20]');
    expect(html.match(/class="depthmap"/g)).toHaveLength(6);
    const md = renderMarkdown(data, 'now');
    expect(md).toContain('| addition | addition | 5.20/6 [5.20, 5.20] | 86.7% | 22.45/32 | 70.2% |');
    expect(md).toContain('- repetition < addition holds: +0.20 layers [0.20, 0.20] (paper: +2.36)');
  });
});
