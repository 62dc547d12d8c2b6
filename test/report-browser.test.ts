/**
 * The report page in a real browser (Debian's chromium through playwright-core), two studies with
 * three FlexiDepth series between them: it opens from disk with no network request and no console
 * error, answers first, every chart draws visible marks and fits the column at 1400 px, nothing
 * makes the page scroll sideways at 800 px, and the depth maps shade tokens by depth. Screenshots
 * at both widths are kept under .cache/ for a person to look at.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { buildPatternStudy } from './report-fixtures.ts';
import { tempDir } from './store-fixtures.ts';

const SCREENSHOT = (width: number): string => join('.cache', `report-screenshot-${width}.png`);
const WIDE = 1400;
const NARROW = 800;

function chromiumPath(): string {
  const found =
    process.env.FLEXIBENCH_CHROMIUM ?? spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error("no chromium on PATH: install Debian's chromium (apt-get install chromium) or set FLEXIBENCH_CHROMIUM");
  return found;
}

interface ChartCheck {
  name: string;
  marks: number;
  visible: number;
  /** Bars narrower than a pixel: a chart whose layout collapsed. */
  slivers: number;
}

describe('the report in a browser', () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const errors: string[] = [];
  let url: string;

  beforeAll(async () => {
    const dir = tempDir('flexibench-browser-');
    const one = join(dir, 'low.duckdb');
    const two = join(dir, 'high.duckdb');
    // "low" at two thresholds, "high" at one: three series, as many panels as a per-series chart draws.
    for (const [path, thresholds] of [
      [one, [0.5, 0.7]],
      [two, [0.7]],
    ] as const) {
      const db = await StudyDb.open(path);
      for (const threshold of thresholds) await buildPatternStudy(db, threshold);
      await db.close();
    }
    const out = join(dir, 'report');
    const r = flexibench(['report', '--db', one, '--db', two, '--out', out, '--bootstrap-samples', '200']);
    expect(r.stderr).toBe(`report: ${join(out, 'index.html')}\n`);
    url = pathToFileURL(join(out, 'index.html')).href;
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: WIDE, height: 900 } });
    page.on('request', (req) => requests.push(req.url()));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('loads from disk without a network request or a console error', () => {
    expect(requests).toEqual([url]);
    expect(errors).toEqual([]);
  });

  it('every chart draws visible marks', async () => {
    const charts: ChartCheck[] = await page.$$eval('figure.chart', (figures) =>
      figures.map((f) => {
        const marks = [...f.querySelectorAll('g.role-mark > path, g.role-mark > line')] as SVGGraphicsElement[];
        const box = (m: SVGGraphicsElement) => m.getBoundingClientRect();
        const bars = marks.filter((m) => m.parentElement?.classList.contains('mark-rect') === true);
        return {
          name: (f as HTMLElement).dataset.chart ?? '',
          marks: marks.length,
          visible: marks.filter((m) => box(m).width >= 1 || box(m).height >= 1).length,
          slivers: bars.filter((m) => box(m).width < 1 || box(m).height <= 0).length,
        };
      }),
    );
    expect(charts.map((c) => c.name)).toEqual(['differences', 'layers-used', 'layer-usage', 'depth-distribution', 'answer-depth', 'speed']);
    for (const c of charts) {
      expect(c.visible, `chart ${c.name} draws nothing`).toBeGreaterThan(0);
      expect(c.slivers, `chart ${c.name} has bars under a pixel wide`).toBe(0);
    }
  });

  it('depth maps shade tokens darker the more layers they used', async () => {
    const shades = await page.$$eval('.depthmap .tok[data-layers]:not([data-layers=""])', (spans) =>
      spans.map((s) => ({ layers: Number((s as HTMLElement).dataset.layers), color: getComputedStyle(s).backgroundColor })),
    );
    expect(shades.length).toBeGreaterThan(20);
    const luminance = (color: string): number => {
      const [r, g, b] = (color.match(/\d+/g) ?? []).map(Number) as [number, number, number];
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const of = (layers: number) => shades.filter((s) => s.layers === layers).map((s) => luminance(s.color));
    expect(of(4).length).toBeGreaterThan(0);
    expect(of(6).length).toBeGreaterThan(0);
    expect(Math.min(...of(4))).toBeGreaterThan(Math.max(...of(6)));
    const titles = await page.$$eval('.depthmap .tok.generated', (spans) => spans.map((s) => s.getAttribute('title') ?? ''));
    expect(titles.some((t) => /layer 3: gate 0\.800 ran/.test(t))).toBe(true);
  });

  it("answers first: a verdict per suite and series, and the paper's claims", async () => {
    const first = await page.$eval('h2', (h) => h.textContent);
    expect(first).toBe('At a glance');
    const answers = await page.$$eval('#headline .answer', (ps) => ps.map((p) => p.textContent ?? ''));
    expect(answers).toEqual([
      expect.stringMatching(/^low · flexidepth@0\.5 kept quality on 4 of 4 suites; /),
      expect.stringMatching(/^low · flexidepth@0\.7 kept quality on 4 of 4 suites; /),
      expect.stringMatching(/^high · flexidepth@0\.7 kept quality on 4 of 4 suites; /),
    ]);
    const verdicts = await page.$$eval('#headline td strong', (cells) => cells.map((c) => `${c.textContent} ${getComputedStyle(c).color}`));
    expect(verdicts).toHaveLength(12);
    expect(new Set(verdicts)).toEqual(new Set(['kept rgb(26, 127, 55)']));
    expect(await page.$$eval('#headline ul.claims li', (lis) => lis.length)).toBe(18);
  });

  it(`draws every chart within the column at ${WIDE} px, unscaled`, async () => {
    const charts = await page.$$eval('figure.chart', (figures) =>
      figures.map((f) => ({
        name: (f as HTMLElement).dataset.chart ?? '',
        drawn: Number(f.querySelector('svg')?.getAttribute('width')),
        column: f.clientWidth,
      })),
    );
    expect(charts.map((c) => c.column)).toEqual(charts.map(() => 1180));
    for (const c of charts) expect(c.drawn, `chart ${c.name} is ${c.drawn} px in a ${c.column} px column`).toBeLessThanOrEqual(c.column);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(WIDE);
    mkdirSync('.cache', { recursive: true });
    await page.screenshot({ path: SCREENSHOT(WIDE), fullPage: true });
  });

  it(`does not scroll sideways at ${NARROW} px: charts scale down, wide tables scroll in their box`, async () => {
    const narrow = await browser.newPage({ viewport: { width: NARROW, height: 900 } });
    try {
      await narrow.goto(url, { waitUntil: 'load' });
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBe(NARROW);
      const overflowing = await narrow.$$eval('body *', (elements) => {
        const right = document.body.getBoundingClientRect().right;
        // Inside a box that scrolls on its own, an element may run past the page's edge.
        return elements
          .filter((e) => e.closest('.wide') === null || e.classList.contains('wide'))
          .filter((e) => e.getBoundingClientRect().right > right + 0.5)
          .map((e) => `${e.tagName.toLowerCase()}${e.id === '' ? '' : `#${e.id}`} ${e.textContent?.slice(0, 40)}`);
      });
      expect(overflowing).toEqual([]);
      const wideTables = await narrow.$$eval('.wide', (boxes) => boxes.filter((b) => b.scrollWidth > b.clientWidth).length);
      expect(wideTables, 'the metadata tables are wider than 800 px and should scroll in their box').toBeGreaterThan(0);
      await narrow.screenshot({ path: SCREENSHOT(NARROW), fullPage: true });
    } finally {
      await narrow.close();
    }
  });

  it('names every series of both studies', async () => {
    const headings = await page.$$eval('#paper ~ h3', (hs) => hs.map((h) => h.textContent));
    expect(headings).toContain('low · flexidepth@0.5');
    expect(headings).toContain('low · flexidepth@0.7');
    expect(headings).toContain('high · flexidepth@0.7');
  });
});
