/**
 * The report page in a real browser (Debian's chromium through playwright-core): it opens from disk
 * with no network request and no console error, every chart draws visible marks, and the depth maps
 * shade tokens by depth. A screenshot is kept under .cache/ for a person to look at.
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

const SCREENSHOT = join('.cache', 'report-screenshot.png');

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
    for (const [path, threshold] of [
      [one, 0.5],
      [two, 0.7],
    ] as const) {
      const db = await StudyDb.open(path);
      await buildPatternStudy(db, threshold);
      await db.close();
    }
    const out = join(dir, 'report');
    const r = flexibench(['report', '--db', one, '--db', two, '--out', out, '--bootstrap-samples', '200']);
    expect(r.stderr).toBe(`report: ${join(out, 'index.html')}\n`);
    url = pathToFileURL(join(out, 'index.html')).href;
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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

  it('shows both studies side by side and keeps a screenshot', async () => {
    const headings = await page.$$eval('#paper ~ h3', (hs) => hs.map((h) => h.textContent));
    expect(headings).toContain('low · flexidepth@0.5');
    expect(headings).toContain('high · flexidepth@0.7');
    mkdirSync('.cache', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
