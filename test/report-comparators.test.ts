/**
 * The comparator variants in the report: `matched` rows in the summary, the paper's Table 1 in the
 * HTML and Markdown, and the quality-versus-layers chart, on the study of comparator-fixtures.ts.
 *
 * Expected numbers, from the fixture (d1..d4; exact_match is alpha's and beta's main metric):
 *   alpha  full [1,1,1,1]  flex@0.3 [1,1,1,0]  flex@0.6 [1,1,0,0]  static@0.3 [1,0,0,0]
 *          static@0.6 [0,0,0,-] (d4 not done)  random@0.3 [1,1,0,0]  random@0.6 [1,0,0,0]
 *   beta   full [0,0,0,0]  flex@0.3 [1,1,0,0]  flex@0.6 [1,0,0,0]  static@0.3 [1,0,0,0]
 *          static@0.6 [0,0,0,0]  random@0.3 [0,0,0,0]  random@0.6 [1,0,0,0]
 * Layers used per generated token (producing positions 0 and 1): full 6, flex@0.3 and static@0.3
 * 5, random@0.3 (6 + 5) / 2 = 5.5, every 0.6 run 4.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { qualityLayersChart, renderSvg } from '../reports/charts.ts';
import { comparatorTables, qualityLayersPoints } from '../reports/comparators.ts';
import { loadReport, type ReportData, type ReportSummary } from '../reports/report-data.ts';
import { renderHtml } from '../reports/render-html.ts';
import { renderMarkdown } from '../reports/render-markdown.ts';
import { bootstrapMean, pairedBootstrap, type Estimate } from '../src/scoring/bootstrap.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { buildComparatorStudy, type ComparatorRunIds } from './comparator-fixtures.ts';
import { tempDir } from './store-fixtures.ts';

const BOOT = { samples: 400, seed: 3 };

/** The report's "mean [lo, hi]", written out here so a change of format.ts shows. */
const est = (e: Estimate): string => `${e.mean.toFixed(3)} [${e.ci95[0].toFixed(3)}, ${e.ci95[1].toFixed(3)}]`;
const mean = (values: number[]): string => est(bootstrapMean(values, BOOT));
const diff = (a: number[], b: number[]): string => est(pairedBootstrap(a, b, BOOT).difference);

async function writeStudy(dir: string, comparators: boolean): Promise<{ path: string; ids: ComparatorRunIds }> {
  const path = join(dir, 'study.duckdb');
  const db = await StudyDb.open(path);
  try {
    return { path, ids: await buildComparatorStudy(db, { comparators }) };
  } finally {
    await db.close();
  }
}

const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** The cells of Table 1 for `suite` in the HTML page, header row first. */
function htmlTableOf(html: string, suite: string): string[][] {
  const block = new RegExp(`<div data-table="comparators" data-suite="${suite}">([\\s\\S]*?)</div>`).exec(html);
  if (block === null) throw new Error(`no Table 1 for ${suite}`);
  return [...(block[1] as string).matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] as string).matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => unescape(c[1] as string)),
  );
}

/** The cells of Table 1 for `suite` in summary.md, header row first (the separator row dropped). */
function markdownTableOf(md: string, suite: string): string[][] {
  const section = md.slice(md.indexOf('## Against budget-matched comparators'));
  const start = section.indexOf(`### ${suite}\n`);
  if (start < 0) throw new Error(`no Table 1 for ${suite}`);
  const lines = section.slice(start).split('\n').slice(2);
  const table = lines.slice(
    0,
    lines.findIndex((l) => !l.startsWith('|')),
  );
  return table.filter((l) => !/^\|(---\|)+$/.test(l)).map((l) => l.slice(2, -2).split(' | '));
}

describe('report with static and random comparators', () => {
  let dir: string;
  let path: string;
  let ids: ComparatorRunIds;
  let data: ReportData;
  let summary: ReportSummary;
  let html: string;
  let md: string;

  beforeAll(async () => {
    dir = tempDir('flexibench-comparators-');
    ({ path, ids } = await writeStudy(join(dir, 'with'), true));
    data = await loadReport([path], BOOT);
    summary = data.summary;
    html = await renderHtml(data, '2025-01-01T00:00:00Z');
    md = renderMarkdown(data, '2025-01-01T00:00:00Z');
  });

  const id = (suite: string, key: string): string => ids[suite]?.[key] as string;

  it('matches each FlexiDepth run with the comparators at its own threshold, per metric', () => {
    // alpha: exact_match only; beta: exact_match and edit_similarity. 2 thresholds x 2 comparators each.
    expect(summary.matched).toHaveLength(4 + 8);
    const alpha = summary.matched.filter((m) => m.suite === 'alpha');
    expect(
      alpha.map((m) => [m.threshold, m.comparator, m.metric, m.n, m.flexidepth_mean, m.comparator_mean, m.flexidepth_layers_used, m.comparator_layers_used]),
    ).toEqual([
      [0.3, 'static', 'exact_match', 4, 0.75, 0.25, 5, 5],
      [0.3, 'random', 'exact_match', 4, 0.75, 0.5, 5, 5.5],
      // static@0.6 did not do d4: the pair is over d1..d3, where FlexiDepth scores 1, 1, 0.
      [0.6, 'static', 'exact_match', 3, 2 / 3, 0, 4, 4],
      [0.6, 'random', 'exact_match', 4, 0.5, 0.25, 4, 4],
    ]);
    expect(alpha.map((m) => [m.flexidepth_run_id, m.comparator_run_id])).toEqual([
      [id('alpha', 'flexidepth@0.3'), id('alpha', 'static@0.3')],
      [id('alpha', 'flexidepth@0.3'), id('alpha', 'random@0.3')],
      [id('alpha', 'flexidepth@0.6'), id('alpha', 'static@0.6')],
      [id('alpha', 'flexidepth@0.6'), id('alpha', 'random@0.6')],
    ]);
    expect(alpha.map((m) => m.flexidepth_minus_comparator)).toEqual([
      pairedBootstrap([1, 1, 1, 0], [1, 0, 0, 0], BOOT).difference,
      pairedBootstrap([1, 1, 1, 0], [1, 1, 0, 0], BOOT).difference,
      pairedBootstrap([1, 1, 0], [0, 0, 0], BOOT).difference,
      pairedBootstrap([1, 1, 0, 0], [1, 0, 0, 0], BOOT).difference,
    ]);
    expect(alpha[2]!.flexidepth_minus_comparator.mean).toBeCloseTo(2 / 3, 12);
    expect(alpha.every((m) => m.study === 'study' && m.model_hash === 'model-1')).toBe(true);
    const betaRandom = summary.matched.find((m) => m.suite === 'beta' && m.metric === 'exact_match' && m.comparator === 'random' && m.threshold === 0.6);
    expect(betaRandom?.flexidepth_minus_comparator.mean).toBe(0);
    // edit_similarity = 1 - exact_match / 2: flex@0.3 0.75 against static@0.3 0.875.
    const betaEdit = summary.matched.find((m) => m.suite === 'beta' && m.metric === 'edit_similarity' && m.comparator === 'static' && m.threshold === 0.3);
    expect(betaEdit?.flexidepth_minus_comparator.mean).toBeCloseTo(-0.125, 12);
  });

  it('keeps one result row per comparator run with its producing-position depth', () => {
    const row = (suite: string, key: string) => summary.results.find((r) => r.run_id === id(suite, key));
    expect(row('alpha', 'static@0.6')).toMatchObject({ variant: 'static', threshold: 0.6, n: 3, layers_used_mean: 4, layers_total: 6 });
    expect(row('alpha', 'random@0.3')).toMatchObject({ variant: 'random', threshold: 0.3, n: 4, layers_used_mean: 5.5 });
    expect(summary.study.runs.find((r) => r.run_id === id('alpha', 'static@0.6'))?.comparator).toMatchObject({ kind: 'static', removed_layers: [4, 5] });
  });

  it('renders Table 1 per suite in the HTML: rows in order, mean, retention, layers, matched difference, removed layers', () => {
    expect(html).toContain('<a href="#comparators">');
    expect(htmlTableOf(html, 'alpha')).toEqual([
      ['method', 'exact_match [95% CI]', 'retention', 'layers used', 'FlexiDepth \u2212 comparator [95% CI]', 'removed layers'],
      ['full', mean([1, 1, 1, 1]), '100.0%', '6.00 / 6', '', ''],
      ['flexidepth@0.3', mean([1, 1, 1, 0]), '75.0%', '5.00 / 6', '', ''],
      ['flexidepth@0.6', mean([1, 1, 0, 0]), '50.0%', '4.00 / 6', '', ''],
      ['static@0.3', mean([1, 0, 0, 0]), '25.0%', '5.00 / 6', diff([1, 1, 1, 0], [1, 0, 0, 0]), '5'],
      ['random@0.3', mean([1, 1, 0, 0]), '50.0%', '5.50 / 6', diff([1, 1, 1, 0], [1, 1, 0, 0]), ''],
      ['static@0.6', mean([0, 0, 0]), '0.0%', '4.00 / 6', diff([1, 1, 0], [0, 0, 0]), '4, 5'],
      ['random@0.6', mean([1, 0, 0, 0]), '25.0%', '4.00 / 6', diff([1, 1, 0, 0], [1, 0, 0, 0]), ''],
    ]);
    // beta's scorer (copy) names exact_match first although edit_similarity sorts first; its full mean is 0: no retention.
    const beta = htmlTableOf(html, 'beta');
    expect(beta[0]?.[1]).toBe('exact_match [95% CI]');
    expect(beta.slice(1).map((r) => [r[0], r[1], r[2], r[3]])).toEqual([
      ['full', mean([0, 0, 0, 0]), '\u2014', '6.00 / 6'],
      ['flexidepth@0.3', mean([1, 1, 0, 0]), '\u2014', '5.00 / 6'],
      ['flexidepth@0.6', mean([1, 0, 0, 0]), '\u2014', '4.00 / 6'],
      ['static@0.3', mean([1, 0, 0, 0]), '\u2014', '5.00 / 6'],
      ['random@0.3', mean([0, 0, 0, 0]), '\u2014', '5.50 / 6'],
      ['static@0.6', mean([0, 0, 0, 0]), '\u2014', '4.00 / 6'],
      ['random@0.6', mean([1, 0, 0, 0]), '\u2014', '4.00 / 6'],
    ]);
    expect(beta[7]?.[4]).toBe(diff([1, 0, 0, 0], [1, 0, 0, 0]));
    const section = html.slice(html.indexOf('id="comparators"'), html.indexOf('id="paper"'));
    expect(section).toMatch(/<p class="note">static@T removes, for every token, the k routed layers of least Block Influence/);
  });

  it('renders the same Table 1 in the Markdown', () => {
    expect(markdownTableOf(md, 'alpha')).toEqual(htmlTableOf(html, 'alpha'));
    expect(markdownTableOf(md, 'beta')).toEqual(htmlTableOf(html, 'beta'));
    expect(md).toContain('static@T removes, for every token');
  });

  it('plots quality against layers used next to Table 1, every method a point', () => {
    const figure = /<figure class="chart" data-chart="quality-layers">([\s\S]*?)<\/figure>/.exec(html)?.[1] ?? '';
    expect(html.indexOf('data-chart="quality-layers"')).toBeGreaterThan(html.indexOf('data-suite="beta"'));
    expect(html.indexOf('data-chart="quality-layers"')).toBeLessThan(html.indexOf('id="paper"'));
    for (const panel of ['alpha \u00b7 exact_match', 'beta \u00b7 exact_match']) expect(figure).toContain(`>${panel}</text>`);
    for (const legend of ['full', 'flexidepth', 'static', 'random']) expect(figure).toContain(`>${legend}</text>`);
    const points = [...figure.matchAll(/aria-label="[^"]*method: ([^;"]+); layers_used: ([\d.]+); mean: ([\d.]+)/g)].map((m) => [m[1], m[2], m[3]]);
    expect(points.slice(0, 7)).toEqual([
      ['full', '6.00', '1.000'],
      ['flexidepth@0.3', '5.00', '0.750'],
      ['flexidepth@0.6', '4.00', '0.500'],
      ['static@0.3', '5.00', '0.250'],
      ['random@0.3', '5.50', '0.500'],
      ['static@0.6', '4.00', '0.000'],
      ['random@0.6', '4.00', '0.250'],
    ]);
    expect(points).toHaveLength(14);
  });

  it('the chart function draws FlexiDepth as a line and the others as points of their own shape', async () => {
    const points = qualityLayersPoints(comparatorTables(data));
    expect(points.filter((p) => p.panel === 'alpha \u00b7 exact_match').map((p) => [p.variant, p.threshold, p.layers_used, p.mean])).toEqual([
      ['full', 0.3, 6, 1],
      ['flexidepth', 0.3, 5, 0.75],
      ['flexidepth', 0.6, 4, 0.5],
      ['static', 0.3, 5, 0.25],
      ['random', 0.3, 5.5, 0.5],
      ['static', 0.6, 4, 0],
      ['random', 0.6, 4, 0.25],
    ]);
    const spec = qualityLayersChart(points);
    const pointLayer = JSON.stringify(spec).match(/"shape":\{"field":"variant"[^}]*"scale":\{"domain":(\[[^\]]*\]),"range":(\[[^\]]*\])/);
    expect(JSON.parse(pointLayer?.[1] ?? '[]')).toEqual(['full', 'flexidepth', 'static', 'random']);
    expect(new Set(JSON.parse(pointLayer?.[2] ?? '[]') as string[]).size).toBe(4);
    const svg = await renderSvg(spec);
    // One line path per panel, through FlexiDepth's two thresholds.
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
    // FlexiDepth's points labelled with their threshold (text marks: position, value and label only).
    const labels = [
      ...svg.matchAll(/aria-label="mean layers used per generated token: ([\d.]+); primary metric \(mean, 95% CI\): ([\d.]+); threshold: ([\d.]+)"/g),
    ];
    expect(labels.map((m) => [m[1], m[2], m[3]])).toEqual([
      ['5', '0.75', '0.3'],
      ['4', '0.5', '0.6'],
      ['5', '0.5', '0.3'],
      ['4', '0.25', '0.6'],
    ]);
  });

  it('report --json and summary.json carry the matched rows; the terminal lists them', () => {
    const out = join(dir, 'report');
    const r = flexibench(['report', '--db', path, '--out', out, '--json', '--bootstrap-samples', '200']);
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout) as ReportSummary;
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(printed);
    expect(printed.matched.map((m) => [m.suite, m.metric, m.threshold, m.comparator, m.n, m.flexidepth_minus_comparator.mean])).toEqual(
      summary.matched.map((m) => [m.suite, m.metric, m.threshold, m.comparator, m.n, m.flexidepth_minus_comparator.mean]),
    );
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('## Against budget-matched comparators');
    const table = flexibench(['report', '--db', path, '--bootstrap-samples', '200']);
    expect(table.status).toBe(0);
    // A comparator's row: its own primary metric, then FlexiDepth − it at the same threshold, then its layers.
    expect(table.stdout).toMatch(/^alpha\s+static@0\.6\s+3\s+0\.000 \[[-\d.]+, [-\d.]+\]\s+0\.667 \[[-\d.]+, [-\d.]+\]\s+4\.00\/6$/m);
    expect(table.stdout).toMatch(/^alpha\s+flexidepth@0\.6\s+4\s+0\.500 \[[-\d.]+, [-\d.]+\]\s+-0\.500 \[[-\d.]+, [-\d.]+\]\s+4\.00\/6$/m);
  });

  describe('a study without comparator runs', () => {
    let plain: ReportData;

    beforeAll(async () => {
      const { path: plainPath } = await writeStudy(join(dir, 'without'), false);
      plain = await loadReport([plainPath], BOOT);
    });

    it('has no matched rows, and the same results and paired rows as the study with them', () => {
      expect(plain.summary.matched).toEqual([]);
      expect(plain.summary.paired).toHaveLength(6);
      expect(plain.summary.paired).toEqual(summary.paired);
      expect(plain.summary.results).toEqual(summary.results.filter((r) => r.variant === 'full' || r.variant === 'flexidepth'));
    });

    it('has no Table 1 section, no chart and no link to them', async () => {
      expect(comparatorTables(plain)).toEqual([]);
      const page = await renderHtml(plain, '2025-01-01T00:00:00Z');
      expect(page).not.toContain('id="comparators"');
      expect(page).not.toContain('data-chart="quality-layers"');
      expect(page).not.toContain('href="#comparators"');
      expect(renderMarkdown(plain, '2025-01-01T00:00:00Z')).not.toContain('Table 1');
    });
  });
});
