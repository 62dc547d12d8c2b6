/**
 * Text from data or paths, escaped for where it goes (issue 26, "Hostile input"): Markdown text,
 * code spans, table cells and fenced blocks rendered by markdown-it come out as the text itself;
 * shell words read back by bash as typed, on one line; and `report`, `tasks` and the one-line
 * error print control characters as escapes, never raw. The browser test
 * (hostile-markdown-browser.test.ts) renders a whole card and summary.md of a hostile study.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import MarkdownIt from 'markdown-it';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderDatasetCard, reproduceCommand, shellQuote, type DatasetCardData } from '../reports/dataset-card.ts';
import { markdownCode, markdownFence, markdownTable, markdownText } from '../reports/markdown.ts';
import { escapeControlChars, escapeControlCharsInJson, escapeControlCharsKeepingLines, hasControlChars } from '../src/control-chars.ts';
import type { ExportRun } from '../src/store/pattern-export-reads.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibenchMeasured } from './cli.ts';
import { buildHostileStudy } from './hostile-study.ts';
import { tempDir } from './store-fixtures.ts';

const md = new MarkdownIt({ html: true });
const html = (text: string): string => md.utils.escapeHtml(text);

/** Strings that each try to become markup, a link, a code span, a cell boundary, a block's end or a terminal command. */
const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '[click](javascript:alert(1))',
  '![img](javascript:alert(1))',
  '<javascript:alert(1)>',
  '[ref]: javascript:alert(1)',
  'a|b',
  'a\\|b',
  'trailing\\',
  '`',
  '``double`` and `single`',
  '`starts',
  'ends`',
  ' padded ',
  '*em* _em_ __strong__ ~~struck~~',
  'snake_case_name',
  '# not a heading #',
  '&amp; &lt;b&gt; &#60;',
  'line\nbreak\r\nand\rcarriage',
  'path/x\n```\n<script>alert(1)</script>\n```',
  '\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b2J',
  'bidi \u202eevil\u202c \u2066iso\u2069 sep\u2028x',
  'nul \0 del \x7f tab\tx',
  'plain ünïcödé 中文 🙂',
];

/** Any character a terminal acts on instead of showing, except the line feed. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('control characters shown as escapes', () => {
  it.each([
    ['\x1b[31mred', '\\x1b[31mred'],
    ['a\rb\nc\td', 'a\\rb\\nc\\td'],
    ['\0\x07\x7f\x85\x9b', '\\x00\\x07\\x7f\\x85\\x9b'],
    ['\u202eevil\u202c\u2066\u2069\u2028\u2029', '\\u202eevil\\u202c\\u2066\\u2069\\u2028\\u2029'],
    ['C:\\path é 中 🙂 \u200f', 'C:\\path é 中 🙂 \u200f'],
  ])('%j -> %j', (input, shown) => {
    expect(escapeControlChars(input)).toBe(shown);
    expect(hasControlChars(input)).toBe(shown !== input);
  });

  it('keeps line feeds and tabs when they are the layout, and nothing else', () => {
    expect(escapeControlCharsKeepingLines('a\tb\nc\r\x1b[2J\x9b\u202e')).toBe('a\tb\nc\\r\\x1b[2J\\x9b\\u202e');
  });

  it('JSON: every control character as a \\u escape, the same value read back', () => {
    const json = JSON.stringify({ [HOSTILE.join('')]: HOSTILE });
    const safe = escapeControlCharsInJson(json);
    expect(safe).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(safe)).toEqual(JSON.parse(json));
  });

  it('leaves no raw control character in any hostile string', () => {
    for (const s of HOSTILE) expect(escapeControlChars(s)).not.toMatch(RAW_CONTROL);
    for (const s of HOSTILE) expect(escapeControlChars(s)).not.toContain('\n');
  });
});

describe('Markdown escaping, rendered by markdown-it with HTML allowed', () => {
  it.each(HOSTILE)('text %j renders as exactly its text, on one line', (s) => {
    const escaped = markdownText(s);
    expect(escaped).not.toMatch(/[\r\n]/);
    expect(md.renderInline(escaped)).toBe(html(escapeControlChars(s)));
  });

  it.each(HOSTILE)('code span %j renders as exactly one code element of its text', (s) => {
    const escaped = markdownCode(s);
    expect(escaped).not.toMatch(/[\r\n]/);
    expect(md.renderInline(escaped)).toBe(`<code>${html(escapeControlChars(s))}</code>`);
  });

  it('adds no escapes where Markdown needs none', () => {
    expect(markdownText('snake_case-name 1.5 (x) @0.5 · ok!')).toBe('snake_case-name 1.5 (x) @0.5 · ok!');
    expect(markdownCode('cfg-copy')).toBe('`cfg-copy`');
    expect(markdownCode('a`b')).toBe('``a`b``');
    expect(markdownCode('`')).toBe('`` ` ``');
    expect(markdownText('a\\|b')).toBe('a\\\\|b');
  });

  it('a table keeps every cell whole: the same cells in each row as the header, each with its text', () => {
    const header = ['text', 'code', 'last'];
    const table = markdownTable(
      header.map(markdownText),
      HOSTILE.map((s) => [markdownText(s), markdownCode(s), 'end']),
    );
    const rows = [...md.render(table).matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) =>
      [...(r[1] as string).matchAll(/<t[hd]>([\s\S]*?)<\/t[hd]>/g)].map((c) => c[1] as string),
    );
    expect(rows).toHaveLength(HOSTILE.length + 1);
    expect(rows[0]).toEqual(header);
    // A table cell drops the spaces around its text.
    expect(rows.slice(1)).toEqual(HOSTILE.map((s) => [html(escapeControlChars(s).trim()), `<code>${html(escapeControlChars(s))}</code>`, 'end']));
  });

  it('a fenced block holds any content, backtick fences included, to its own end', () => {
    const contents = ['```\n<script>alert(1)</script>\n```', 'a ```` b\n`````', '~~~\n    ```\n```bash', 'plain'];
    for (const content of contents) {
      const block = markdownFence('bash', content);
      expect(md.render(`${block}\n\nafter`)).toBe(`<pre><code class="language-bash">${html(content)}\n</code></pre>\n<p>after</p>\n`);
    }
  });
});

describe('shell words in the card', () => {
  const words = ['plain/path', '', "it's", 'a b', '$HOME `id` $(id) "q" \\ *', 'x\n```\nrm -rf ~\n```', '\x1b]0;title\x07\r', 'bidi \u202e ü \u0085'];

  it('bash reads each word back as typed, and each quoted word is one line without control characters', () => {
    for (const w of words) expect(shellQuote(w)).not.toMatch(RAW_CONTROL);
    for (const w of words) expect(shellQuote(w)).not.toContain('\n');
    const r = spawnSync('bash', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(words);
  });

  it('a reproduce command with a hostile model folder and suite stays one line', () => {
    const run = {
      model_dir: 'models/x\n```\n<script>',
      suite: 'a\nb',
      variant: 'flexidepth',
      precision: 'fp32',
      block_size: null,
      limit: null,
      seed: 0,
      threshold: 0.5,
    } as ExportRun;
    expect(reproduceCommand(run)).toBe("flexibench run --model $'models/x\\n```\\n<script>' --suites $'a\\nb' --variants flexidepth --seed 0 --threshold 0.5");
  });
});

describe('the dataset card of hostile runs', () => {
  const dir = 'models/x\n```\n<script>alert(1)</script>\n```';
  const run = (suite: string, i: number): ExportRun =>
    ({
      run_id: `run\n${i}`,
      suite,
      variant: 'flexidepth',
      model_hash: '`hash|<b>`',
      model_dir: dir,
      suite_config_hash: 'cfg`|',
      limit: null,
      seed: 0,
      threshold: 0.5,
      precision: 'fp32',
      block_size: null,
      layers_total: 6,
      routing_layers: [3, 4, 5],
      git_revision: '`rev`',
      samples: 1,
      error_samples: 0,
      tokens: 2,
      tokens_without_bytes: 0,
    }) as ExportRun;
  const table = { rows: 2, order: ['doc_id'], fields: [{ name: 'doc_id', type: 'VARCHAR', description: 'The `id` <x> | [y]' }] };
  const data: DatasetCardData = {
    models: [{ hash: '`hash|<b>`', dirs: [dir, 'models/<img src=x onerror=alert(1)>'], layersTotal: 6, routingLayers: [3, 4, 5] }],
    suites: HOSTILE.slice(0, 3).map((name) => ({ name, configHashes: ['cfg`|'], source: '<b>src</b>', license: 'MIT', samples: 1, tokens: 2 })),
    runs: HOSTILE.slice(0, 3).map(run),
    tokens: { name: 'tokens', ...table },
    samples: { name: 'samples', ...table },
    exportCommand: ['flexibench', 'export-patterns', '--db', 'a\n```\nb.duckdb', '--out', 'o'].map(shellQuote).join(' '),
  };
  const card = renderDatasetCard(data);
  const body = card.slice(card.indexOf('\n---\n') + 5);

  it('keeps each bash block whole: a comment and a one-line command per run, then the export command', () => {
    const blocks = md.parse(body, {}).filter((t) => t.type === 'fence' && t.info === 'bash');
    expect(blocks.map((b) => b.content.trimEnd().split('\n').length)).toEqual([2 * data.runs.length, 1]);
    expect(blocks[0]?.content.split('\n').filter((l) => l.startsWith('flexibench run --model '))).toHaveLength(data.runs.length);
  });

  it('renders no HTML element of the data and no link, and puts no model name raw in the YAML header', () => {
    const rendered = md.render(card);
    expect(rendered).not.toMatch(/<(script|img|b)[\s>]/);
    expect(rendered).not.toContain('<a ');
    // The title names each folder by its last path component.
    expect(md.render(body)).toContain(
      `<h1>FlexiDepth layer patterns: ${html(escapeControlChars('script>\n```'))}, ${html('<img src=x onerror=alert(1)>')}</h1>`,
    );
    const header = parse(card.slice(4, card.indexOf('\n---\n'))) as { pretty_name: string };
    expect(header.pretty_name).toBe('FlexiDepth layer patterns');
    const plain = renderDatasetCard({ ...data, models: [{ ...data.models[0]!, dirs: ['/m/flexidepth_ref-1.5@fp16/'] }] });
    expect(plain).toContain('\npretty_name: FlexiDepth layer patterns (flexidepth_ref-1.5@fp16)\n');
  });
});

describe('report and tasks print control characters as escapes', () => {
  const env = { FLEXIBENCH_DATA_DIR: process.env.FLEXIBENCH_DATA_DIR ?? '/work/shared/datasets' };
  const ESC = '\x1b[31mred\x1b[0m\x1b]0;pwned\x07';
  const tmp = tempDir('flexibench-hostile-text-');
  const study = join(tmp, `study${ESC}\r.duckdb`);
  // Suite names are [a-z0-9-]; their folders and file names are anything.
  const tasks = join(tmp, `tasks${ESC}`);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const studyHash = (): string => createHash('sha256').update(readFileSync(study)).digest('hex');
  let storedHash: string;

  beforeAll(async () => {
    const db = await StudyDb.open(study);
    await buildHostileStudy(db, {
      suites: [`suite${ESC}`, 'over\rwrite\x9b2J\u202eevil'],
      models: [
        { hash: `\x1b[2Jhash-1`, dir: `models/${ESC}` },
        { hash: 'hash-2\r', dir: 'models/two' },
      ],
      metric: `metric${ESC}`,
      gitRevision: ESC,
      dataset: ESC,
      error: `failed${ESC}\r\nsecond line\x07`,
    });
    await db.close();
    storedHash = studyHash();

    mkdirSync(tasks);
    const addition = parse(readFileSync(new URL('../tasks/addition.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
    const name = 'evil';
    const template = `Question\x1b[2J\r: {a} + {b} \x9b31m \u202eevil?\nAnswer:`;
    const config = { ...addition, name, description: `desc ${ESC}\rover\x9b \u202e`, prompt: { ...(addition.prompt as object), template } };
    writeFileSync(join(tasks, `${name}.yaml`), stringify(config));
  });

  const expectNoRawControls = (text: string): void => {
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toMatch(RAW_CONTROL);
  };

  it('report: the table, the failed samples and the written path', () => {
    const out = join(tmp, `report${ESC}`);
    const r = flexibenchMeasured(['report', '--db', study, '--out', out, '--bootstrap-samples', '50'], { env });
    expect(r.status, r.stderr).toBe(0);
    expectNoRawControls(r.stdout);
    expect(r.stdout).toContain('suite\\x1b[31mred\\x1b[0m\\x1b]0;pwned\\x07');
    expect(r.stdout).toContain('over\\rwrite\\x9b2J\\u202eevil');
    expect(r.stdout).toContain('failed\\x1b[31mred\\x1b[0m\\x1b]0;pwned\\x07\\r\\nsecond line\\x07');
    expect(r.stderr).toBe(`report: ${escapeControlChars(join(out, 'index.html'))}\n`);
    expect(studyHash()).toBe(storedHash);
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });

  it('report --json: the same summary, with C1 controls and bidi overrides as \\u escapes', () => {
    const r = flexibenchMeasured(['report', '--db', study, '--json', '--bootstrap-samples', '50'], { env });
    expect(r.status, r.stderr).toBe(0);
    expectNoRawControls(r.stdout);
    const summary = JSON.parse(r.stdout) as { results: { suite: string }[] };
    expect(new Set(summary.results.map((x) => x.suite))).toEqual(new Set([`suite${ESC}`, 'over\rwrite\x9b2J\u202eevil']));
    expect(studyHash()).toBe(storedHash);
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });

  it('tasks: the list, and the one line naming a refused config', () => {
    const broken = join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, `broken${ESC}.yaml`), 'name: other\n');
    const r = flexibenchMeasured(['tasks', '--include-path', tasks, '--include-path', broken], { env });
    expect(r.status).toBe(1);
    expectNoRawControls(r.stdout);
    expect(r.stdout).toMatch(/^evil +\S+tasks\\x1b\[31mred\\x1b\[0m\\x1b\]0;pwned\\x07\/evil\.yaml +desc \\x1b\[31mred/m);
    expect(r.stdout).toContain('over\\x9b \\u202e');
    expect(r.stderr).toBe('flexibench: tasks: 1 suite config(s) refused: broken\\x1b[31mred\\x1b[0m\\x1b]0;pwned\\x07 (reasons above)\n');
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });

  it('tasks NAME: the config and the rendered prompt', () => {
    const r = flexibenchMeasured(['tasks', 'evil', '--include-path', tasks], { env });
    expect(r.status, r.stderr).toBe(0);
    expectNoRawControls(r.stdout);
    expect(r.stdout).toContain(`# ${escapeControlChars(join(tasks, 'evil.yaml'))}, as validated\n`);
    expect(r.stdout).toContain('\\x9b31m \\u202eevil');
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });

  it('items: JSON lines whose C1 controls and bidi overrides are \\u escapes, the same values', () => {
    const r = flexibenchMeasured(['items', '--suite', 'evil', '--include-path', tasks, '--limit', '1'], { env });
    expect(r.status, r.stderr).toBe(0);
    expectNoRawControls(r.stdout);
    expect((JSON.parse(r.stdout) as { prompt: string }).prompt).toContain('\x9b31m \u202eevil?');
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });

  it.each([
    ['a missing study', ['report', '--db', join(tmp, `missing${ESC}\r.duckdb`)]],
    ['an unknown option', ['report', `--bogus${ESC}`]],
    ['an unknown suite', ['tasks', `nope${ESC}\r`]],
  ])('an error naming hostile input (%s) is one line with the controls shown', (_case, args) => {
    const r = flexibenchMeasured(args, { env });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^flexibench: [^\n]*\n$/);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain('\\x1b[31mred\\x1b[0m\\x1b]0;pwned\\x07');
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    expect(r.timedOut).toBe(false);
  });
});
