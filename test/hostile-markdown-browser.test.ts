/**
 * The dataset card (`export-patterns`) and summary.md (`report`) of a study full of hostile strings,
 * rendered as a dataset hub renders a card (markdown-it with HTML allowed, no sanitizer) in a real
 * browser (Debian's chromium through playwright-core): no script runs, no element or attribute of
 * the data's markup exists, no link is made, and every table keeps its cells. A control page of
 * the same strings rendered raw shows that the payloads do run when nothing escapes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import MarkdownIt from 'markdown-it';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { escapeControlChars } from '../src/control-chars.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { buildHostileStudy, type HostileStrings } from './hostile-study.ts';
import { tempDir } from './store-fixtures.ts';

function chromiumPath(): string {
  const found =
    process.env.FLEXIBENCH_CHROMIUM ?? spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error("no chromium on PATH: install Debian's chromium (apt-get install chromium) or set FLEXIBENCH_CHROMIUM");
  return found;
}

/** Each payload sets window.__pwned or opens a dialog when it runs. */
const HOSTILE: HostileStrings = {
  suites: [
    '<script>window.__pwned=1</script>',
    'x|y\\|z `code` <img src=x onerror=alert(1)> [l](javascript:alert(1))',
    'line\n```\n<img src=x onerror=window.__pwned=1>\n```\n# heading',
  ],
  models: [
    { hash: '<script>window.__pwned=1</script>', dir: 'models/<img src=x onerror=window.__pwned=1>' },
    { hash: '`h|a\\|sh` [h](javascript:alert(1))', dir: 'models/x\n```\n<script>alert(1)</script>\n```' },
  ],
  metric: '<img src=x onerror=alert(1)>|m\\|`',
  gitRevision: '`<script>alert(1)</script>`',
  dataset: '<iframe src=javascript:alert(1)>',
  error: '<script>alert(1)</script>',
};
const STUDY_NAMES = ['study <img src=x onerror=window.__pwned=1> `x` a\\|b [j](javascript:alert(1))\n```', '<svg onload=alert(1)>|c'];

interface PageCheck {
  pwned: unknown;
  dialogs: string[];
  scripts: number;
  /** Elements the data's markup would make: none of them is ours. */
  foreign: string[];
  handlers: string[];
  links: string[];
  tables: { header: string[]; rows: string[][] }[];
  h1: string[];
  bash: string[];
}

describe('the card and summary.md of a hostile study, rendered with HTML allowed', () => {
  const md = new MarkdownIt({ html: true });
  let browser: Browser;
  let dir: string;
  let card: string;
  let summary: string;

  /** The rendered Markdown in a fresh page, and what it holds once loaded. */
  async function check(markdown: string): Promise<PageCheck> {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.setContent(`<!doctype html><html><body>${md.render(markdown)}</body></html>`, { waitUntil: 'load' });
      const found = await page.evaluate(() => {
        const all = [...document.querySelectorAll('*')];
        const attrs = (test: (a: Attr) => boolean): string[] =>
          all.flatMap((e) => [...e.attributes].filter(test).map((a) => `${e.tagName.toLowerCase()} ${a.name}=${a.value}`));
        const texts = (nodes: Iterable<Element>): string[] => [...nodes].map((n) => n.textContent ?? '');
        return {
          pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
          scripts: document.querySelectorAll('script').length,
          foreign: [...document.querySelectorAll('img, svg, iframe, object, embed, a, style, link, meta, form')].map((e) => e.tagName.toLowerCase()),
          handlers: attrs((a) => a.name.toLowerCase().startsWith('on')),
          links: attrs((a) => /^\s*(javascript|data|vbscript):/i.test(a.value)),
          tables: [...document.querySelectorAll('table')].map((t) => ({
            header: texts(t.querySelectorAll('thead th')),
            rows: [...t.querySelectorAll('tbody tr')].map((r) => texts(r.children)),
          })),
          h1: texts(document.querySelectorAll('h1')),
          bash: texts(document.querySelectorAll('pre > code.language-bash')),
        };
      });
      return { ...found, dialogs };
    } finally {
      await page.close();
    }
  }

  function expectInert(c: PageCheck): void {
    expect(c.pwned).toBeNull();
    expect(c.dialogs).toEqual([]);
    expect(c.scripts).toBe(0);
    expect(c.foreign).toEqual([]);
    expect(c.handlers).toEqual([]);
    expect(c.links).toEqual([]);
  }

  /** Every row has the header's cells, and every cell of a `suite` column is one whole suite name. */
  function expectTablesWhole(c: PageCheck): void {
    expect(c.tables.length).toBeGreaterThan(2);
    const suites = new Set(HOSTILE.suites.map((s) => escapeControlChars(s)));
    let suiteCells = 0;
    for (const t of c.tables) {
      for (const row of t.rows) expect(row, t.header.join(' | ')).toHaveLength(t.header.length);
      const column = t.header.indexOf('suite');
      if (column < 0) continue;
      for (const row of t.rows) expect(suites, t.header.join(' | ')).toContain(row[column]);
      suiteCells += t.rows.length;
    }
    expect(suiteCells).toBeGreaterThan(HOSTILE.suites.length);
  }

  beforeAll(async () => {
    dir = tempDir('flexibench-hostile-md-');
    mkdirSync(join(dir, 'studies'));
    const studies = STUDY_NAMES.map((n) => join(dir, 'studies', `${n}.duckdb`));
    for (const path of studies) {
      const db = await StudyDb.open(path);
      await buildHostileStudy(db, HOSTILE);
      await db.close();
    }
    const cardDir = join(dir, 'card');
    const exported = flexibench(['export-patterns', '--db', studies[0] as string, '--out', cardDir]);
    expect(exported.status, exported.stderr).toBe(0);
    const reportDir = join(dir, 'report');
    const reported = flexibench(['report', ...studies.flatMap((s) => ['--db', s]), '--out', reportDir, '--bootstrap-samples', '50']);
    expect(reported.status, reported.stderr).toBe(0);
    card = readFileSync(join(cardDir, 'README.md'), 'utf8');
    summary = readFileSync(join(reportDir, 'summary.md'), 'utf8');
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the payloads run when rendered raw (the control)', async () => {
    const raw = [...HOSTILE.suites, ...HOSTILE.models.flatMap((m) => [m.hash, m.dir]), HOSTILE.metric, ...STUDY_NAMES].join('\n\n');
    const c = await check(raw);
    expect(c.pwned !== null || c.dialogs.length > 0).toBe(true);
    expect(c.handlers.length).toBeGreaterThan(0);
  });

  it('the card, YAML header included (as a renderer that does not know it shows it): nothing runs, tables whole', async () => {
    const c = await check(card);
    expectInert(c);
    expectTablesWhole(c);
    expect(c.h1).toHaveLength(1);
    expect(c.h1[0]).toMatch(/^FlexiDepth layer patterns: /);
    expect(c.h1[0]).toContain('<img src=x onerror=window.__pwned=1>');
    const header = parse(card.slice(4, card.indexOf('\n---\n'))) as { pretty_name: string };
    expect(header.pretty_name).toBe('FlexiDepth layer patterns');
  });

  it("the card's bash blocks hold one comment and one command line per run, and the export command", async () => {
    const c = await check(card);
    const runs = HOSTILE.suites.length * HOSTILE.models.length * 3;
    expect(c.bash).toHaveLength(2);
    const lines = (c.bash[0] as string).trimEnd().split('\n');
    expect(lines).toHaveLength(2 * runs);
    expect(lines.filter((l) => l.startsWith('# run '))).toHaveLength(runs);
    expect(lines.filter((l) => l.startsWith('flexibench run --model '))).toHaveLength(runs);
    expect((c.bash[1] as string).trimEnd().split('\n')).toHaveLength(1);
  });

  it('summary.md: nothing runs, tables whole, the study names whole in the title', async () => {
    const c = await check(summary);
    expectInert(c);
    expectTablesWhole(c);
    expect(c.h1).toEqual([`flexibench report: ${STUDY_NAMES.map(escapeControlChars).join(', ')}`]);
  });
});
