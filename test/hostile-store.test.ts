// Hostile study databases, places and settings (issue 26): a study missing a column or with an absurd
// layers_total, a read-only study or folder, merge on a full disk, run's report folder, the graph
// cache folder (empty FLEXIBENCH_CACHE_DIR, no HOME, unwritable), a fewshot count larger than its
// split. Each is one line naming the file, field or setting, exit 1, bounded memory, and no stored
// file changed.
//
// Tests run as root, which permission bits do not stop: the read-only cases run the CLI as `nobody`
// through setpriv, and the full disk is a file size limit on the CLI (prlimit --fsize: writes past it
// fail with EFBIG, as they fail with ENOSPC on a full disk), so neither needs a mount.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { cacheRoot } from '../src/model/graph-cache.ts';
import { ioFailure } from '../src/store/io-failure.ts';
import { MAX_STUDY_LAYERS, runShapeProblem } from '../src/store/run-bounds.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { shapeDifference, type ColumnShape } from '../src/store/table-shape.ts';
import { checkFewshotPool } from '../tasks/suites/fewshot.ts';
import { flexibenchMeasured, type MeasuredCliResult } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';
import { buildStudy, tempDir } from './store-fixtures.ts';

const work = tempDir('fb-hostile-store-');
// mkdtemp makes the folder private; `nobody` must reach the studies inside to read them.
chmodSync(work, 0o755);
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const MODEL = resolve(import.meta.dirname, '../models/flexidepth-ref');
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A refusal as the issue defines it: exit 1, one line starting with `flexibench: ` that holds every `part`, bounded memory, no hang. */
function expectRefused(r: MeasuredCliResult, ...parts: string[]): void {
  expect(r.timedOut).toBe(false);
  expect(r.stderr).toMatch(/^flexibench: [^\n]*\n$/);
  for (const part of parts) expect(r.stderr).toContain(part);
  expect(r.status).toBe(1);
  expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
}

async function sql(path: string, statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    for (const s of statements) await conn.run(s);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The hand-made study of store-fixtures.ts at `path`, then `alter` applied to it with DuckDB. */
async function study(path: string, alter: string[] = []): Promise<string> {
  const db = await StudyDb.open(path);
  await buildStudy(db);
  await db.close();
  if (alter.length > 0) await sql(path, alter);
  return path;
}

/** A quick run of the committed reference model: one item of a generated suite, full depth only. */
const runArgs = (db: string): string[] => ['run', '--model', MODEL, '--suites', 'addition', '--limit', '1', '--variants', 'full', '--workers', '1', '--db', db];

/**
 * Why the CLI cannot be run as another user here, or null when it can: that needs root (to switch),
 * setpriv, and a checkout `nobody` can read.
 */
function asNobodyUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root, so cannot switch to nobody';
  const probe = spawnSync('setpriv', [...NOBODY.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(MODEL)})`]);
  if (probe.error !== undefined) return `setpriv is not available (${probe.error.message})`;
  if (probe.status !== 0) return `nobody cannot read the checkout (${probe.stderr.toString().trim().split('\n')[0]})`;
  return null;
}
const NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const noNobody = asNobodyUnavailable();
if (noNobody !== null) console.warn(`tests that run the CLI as nobody skipped: ${noNobody}`);

describe('a study changed outside flexibench is refused when opened, before any query', () => {
  let missingColumn: string;
  let hugeLayers: string;
  let runId: string;

  beforeAll(async () => {
    missingColumn = await study(join(work, 'missing-column.duckdb'), ['ALTER TABLE samples DROP COLUMN truncated_tokens']);
    hugeLayers = await study(join(work, 'huge-layers.duckdb'), ['UPDATE runs SET layers_total = 2000000000']);
    const instance = await DuckDBInstance.create(hugeLayers, { access_mode: 'READ_ONLY' });
    const conn = await instance.connect();
    runId = String((await conn.runAndReadAll('SELECT min(run_id) AS id FROM runs')).getRowObjectsJS()[0]?.id);
    conn.closeSync();
    instance.closeSync();
  });

  it.each([
    ['report, a dropped column', () => ['report', '--db', missingColumn, '--json'], () => [missingColumn, 'table samples', 'column truncated_tokens']],
    ['run, a dropped column', () => runArgs(missingColumn), () => [missingColumn, 'table samples', 'column truncated_tokens']],
    [
      'report, layers_total 2e9',
      () => ['report', '--db', hugeLayers, '--out', join(work, 'report')],
      () => [hugeLayers, `run ${runId}`, 'layers_total 2000000000'],
    ],
    ['export-patterns, layers_total 2e9', () => ['export-patterns', '--db', hugeLayers, '--out', join(work, 'export')], () => [hugeLayers, 'layers_total']],
    ['merge, an input with layers_total 2e9', () => ['merge', '--out', join(work, 'merged.duckdb'), hugeLayers], () => [hugeLayers, 'layers_total']],
  ])('%s: one line naming the file, the table or run and the field', (_, args, parts) => {
    const files = [missingColumn, hugeLayers];
    const before = files.map(sha);
    expectRefused(flexibenchMeasured(args(), { env }), ...parts());
    expect(files.map(sha)).toEqual(before);
    for (const made of ['report', 'export', 'merged.duckdb']) expect(existsSync(join(work, made))).toBe(false);
  });

  it.each([
    ['a retyped column', ['ALTER TABLE runs ALTER COLUMN layers_total TYPE BIGINT'], /column runs\.layers_total is BIGINT, schema version 4 defines INTEGER/],
    ['a dropped NOT NULL', ['ALTER TABLE tokens ALTER COLUMN mask DROP NOT NULL'], /column tokens\.mask admits NULL, schema version 4 defines it NOT NULL/],
    ['an added column', ['ALTER TABLE tokens ADD COLUMN extra INTEGER'], /table tokens has a column extra, which schema version 4 does not define/],
    ['schema_version without its version column', ['ALTER TABLE schema_version DROP COLUMN version'], /table schema_version has no column version/],
    ['a layer count of 0', ['UPDATE runs SET layers_total = 0'], /has layers_total 0, outside the 1 to 1024 layers/],
    [
      'a routing layer past the last layer',
      ["UPDATE runs SET routing_layers = [3, 4, 6] WHERE variant = 'flexidepth'"],
      /has routing_layers holding 1 entries/,
    ],
    ['a routing layer listed twice', ["UPDATE runs SET routing_layers = [3, 3, 5] WHERE variant = 'flexidepth'"], /has routing_layers holding 1 entries/],
  ])('in-process, %s: StudyDb.open refuses it for reading and writing, the file unchanged', async (name, alter, message) => {
    const path = await study(join(work, `${name.replaceAll(' ', '-')}.duckdb`), alter);
    const before = sha(path);
    for (const readOnly of [true, false]) {
      const err = await StudyDb.open(path, { readOnly }).then(
        async (db) => db.close(),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message.startsWith(`${path}: the study's `)).toBe(true);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toMatch(/the file was changed outside flexibench, refusing to use it$/);
    }
    expect(sha(path)).toBe(before);
  });

  it('the same study unchanged still opens for reading and writing', async () => {
    const path = await study(join(work, 'fine.duckdb'));
    await (await StudyDb.open(path, { readOnly: true })).close();
    await (await StudyDb.open(path)).close();
  });
});

describe('shapeDifference, runShapeProblem, ioFailure', () => {
  const col = (table: string, column: string, type = 'INTEGER', nullable = false): ColumnShape => ({ table, column, type, nullable });
  const want = [col('runs', 'a'), col('runs', 'b', 'JSON', true)];

  it('names the first difference of each kind, and null when the tables match', () => {
    expect(shapeDifference(want, want, ['runs'], 3)).toBeNull();
    expect(shapeDifference(want, [col('runs', 'a')], ['runs'], 3)).toBe('table runs has no column b, which schema version 3 defines');
    expect(shapeDifference(want, [...want, col('runs', 'c')], ['runs'], 3)).toBe('table runs has a column c, which schema version 3 does not define');
    expect(shapeDifference(want, [col('runs', 'a', 'VARCHAR'), want[1]!], ['runs'], 3)).toBe('column runs.a is VARCHAR, schema version 3 defines INTEGER');
    expect(shapeDifference(want, [want[0]!, col('runs', 'b', 'JSON', false)], ['runs'], 3)).toBe(
      'column runs.b is NOT NULL, schema version 3 defines it nullable',
    );
    expect(shapeDifference(want, [want[1]!, want[0]!], ['runs'], 3)).toBe('column runs.a is column 2, schema version 3 has it as column 1');
    expect(shapeDifference(want, [], ['runs'], 3)).toBe('runs is not a table (schema version 3 defines it as one)');
  });

  it('bounds the layer counts a report sizes its arrays by', () => {
    expect(MAX_STUDY_LAYERS).toBe(1024);
    expect(runShapeProblem({ layersTotal: 6, routingCount: 3, badRoutingCount: 0 })).toBeNull();
    expect(runShapeProblem({ layersTotal: 1024, routingCount: 0, badRoutingCount: 0 })).toBeNull();
    expect(runShapeProblem({ layersTotal: 1025, routingCount: 0, badRoutingCount: 0 })).toMatch(/^layers_total 1025, outside the 1 to 1024/);
    expect(runShapeProblem({ layersTotal: 2e9, routingCount: 0, badRoutingCount: 0 })).toMatch(/^layers_total 2000000000/);
    expect(runShapeProblem({ layersTotal: 6, routingCount: 7, badRoutingCount: 0 })).toMatch(/^routing_layers listing 7 layers, more than its layers_total 6/);
  });

  it('reads the errno from Node errors and from the strerror text in DuckDB messages', () => {
    expect(ioFailure(new Error('IO Error: Could not write file "/x/a.duckdb": No space left on device'))).toEqual({
      code: 'ENOSPC',
      meaning: 'the disk is full',
    });
    expect(ioFailure(new Error('FATAL Error: Failed to create checkpoint because of error: Could not write file "/x": File too large'))?.code).toBe('EFBIG');
    expect(ioFailure(new Error('IO Error: Cannot open file "/x/a.duckdb": Permission denied'))?.code).toBe('EACCES');
    expect(ioFailure(Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' }))?.code).toBe('EROFS');
    expect(ioFailure(new Error('IO Error: Could not read enough bytes from file "/x": attempted to read 4096 bytes'))).toBeNull();
    expect(ioFailure(new Error('Binder Error: Referenced column "x" not found'))).toBeNull();
  });
});

describe.skipIf(noNobody !== null)('a study that cannot be written where it is (the CLI as nobody)', () => {
  const folder = join(work, 'read-only-folder');
  const readOnlyFile = join(folder, 'read-only.duckdb');
  const writableFile = join(folder, 'writable.duckdb');

  beforeAll(async () => {
    mkdirSync(folder);
    await study(readOnlyFile);
    await study(writableFile);
    // Owned by root: for nobody the folder and the first file are read-only, the second file writable.
    chmodSync(folder, 0o755);
    chmodSync(readOnlyFile, 0o644);
    chmodSync(writableFile, 0o666);
  });

  it.each([
    ['run, a read-only study', () => runArgs(readOnlyFile), () => [`${readOnlyFile}: cannot write to the study, the file is read-only (EACCES`]],
    [
      'run, a writable study in a read-only folder',
      () => runArgs(writableFile),
      () => [`${writableFile}: cannot write to the study, its folder ${folder} is read-only and DuckDB must create writable.duckdb.wal there (EACCES`],
    ],
    [
      'run, a new study in a read-only folder',
      () => runArgs(join(folder, 'new.duckdb')),
      () => [`cannot create the study, its folder ${folder} is read-only (EACCES`],
    ],
    [
      'merge, a new --out in a read-only folder',
      () => ['merge', '--allow-mixed', '--out', join(folder, 'merged.duckdb'), writableFile],
      () => [`merge: cannot create ${join(folder, 'merged.duckdb')}, its folder ${folder} is read-only (EACCES`],
    ],
  ])('%s: refused before anything is written, naming the file or folder and the errno', (_, args, parts) => {
    const before = [readOnlyFile, writableFile].map(sha);
    const entries = readdirSync(folder).sort();
    // A graph cache nobody may write to, so that the study's own refusal is the one checked.
    const cache = join(work, 'nobody-cache');
    mkdirSync(cache, { recursive: true, mode: 0o777 });
    chmodSync(cache, 0o777);
    expectRefused(flexibenchMeasured(args(), { env: { FLEXIBENCH_CACHE_DIR: cache }, wrapper: NOBODY }), ...parts());
    expect([readOnlyFile, writableFile].map(sha)).toEqual(before);
    expect(readdirSync(folder).sort()).toEqual(entries);
  });

  it.each([
    ['a read-only study', () => readOnlyFile],
    ['a study in a read-only folder', () => writableFile],
  ])('report still reads %s', (_, path) => {
    const before = sha(path());
    const r = flexibenchMeasured(['report', '--db', path(), '--json'], { env, wrapper: NOBODY });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('results');
    expect(sha(path())).toBe(before);
  });
});

describe('a full disk', () => {
  const noPrlimit = spawnSync('prlimit', ['--version']).error;
  if (noPrlimit !== undefined) console.warn(`merge full-disk tests skipped: prlimit is not available (${noPrlimit.message})`);
  let input: string;

  beforeAll(async () => {
    input = await study(join(work, 'merge-input.duckdb'));
  });

  // 4 KiB: DuckDB cannot even write the new file's header; 64 KiB: everything is committed to the
  // write-ahead log, and writing it into the file (the checkpoint) fails.
  it.skipIf(noPrlimit !== undefined).each([4096, 65536])('a write past %i bytes fails: one line naming --out and the errno, nothing created', (limit) => {
    const folder = join(work, `full-${limit}`);
    mkdirSync(folder);
    const out = join(folder, 'merged.duckdb');
    const before = sha(input);
    const r = flexibenchMeasured(['merge', '--allow-mixed', '--out', out, input], { env, wrapper: ['prlimit', `--fsize=${limit}`] });
    expectRefused(r, `merge: cannot write ${out} (EFBIG: `, `nothing was merged, ${out} was not created`);
    expect(r.stderr).not.toContain('merging');
    expect(r.stderr).not.toContain('not a flexibench study');
    expect(readdirSync(folder)).toEqual([]);
    expect(sha(input)).toBe(before);
  });

  it.skipIf(noPrlimit !== undefined)('run cannot create its study: one line naming --db and the errno, no half-made file left', () => {
    const folder = join(work, 'full-run');
    mkdirSync(folder);
    const db = join(folder, 'study.duckdb');
    expectRefused(flexibenchMeasured(runArgs(db), { env, wrapper: ['prlimit', '--fsize=4096'] }), `${db}: cannot create the study (EFBIG: `);
    expect(readdirSync(folder)).toEqual([]);
  });
});

describe("run's report folder", () => {
  it('holding something else is refused before the study runs, without advising --force (run has none)', () => {
    const folder = join(work, 'report-taken');
    mkdirSync(join(folder, 'study-report'), { recursive: true });
    writeFileSync(join(folder, 'study-report', 'mine.txt'), 'not a report\n');
    const db = join(folder, 'study.duckdb');
    const r = flexibenchMeasured(runArgs(db), { env });
    expectRefused(r, `${join(folder, 'study-report')}: run writes the study's report into this folder`, 'another --db');
    expect(r.stderr).not.toContain('--force');
    expect(existsSync(db)).toBe(false);
    expect(readFileSync(join(folder, 'study-report', 'mine.txt'), 'utf8')).toBe('not a report\n');
  });
});

describe('the graph cache folder', () => {
  const generate = ['generate', '--model', MODEL, '--bos', '--max-new-tokens', '1'];

  it('an empty FLEXIBENCH_CACHE_DIR counts as unset: the cache goes under HOME, not into the current folder', () => {
    const cwd = join(work, 'cwd-empty-cache');
    const home = join(work, 'home');
    mkdirSync(cwd);
    const r = flexibenchMeasured(generate, { env: { FLEXIBENCH_CACHE_DIR: '', HOME: home }, cwd });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(join(home, '.cache', 'flexibench', 'graphs')).some((f) => f.endsWith('.onnx'))).toBe(true);
  });

  it.each([
    ['an empty HOME', () => ({ FLEXIBENCH_CACHE_DIR: '', HOME: '' }), () => ['flexibench: HOME: empty', 'FLEXIBENCH_CACHE_DIR']],
    [
      'FLEXIBENCH_CACHE_DIR under a file',
      () => {
        writeFileSync(join(work, 'a-file'), '');
        return { FLEXIBENCH_CACHE_DIR: join(work, 'a-file', 'cache') };
      },
      () => [
        `${join(work, 'a-file', 'cache', 'graphs')}: the graph cache folder cannot be created, a part of its path is a file (ENOTDIR)`,
        'FLEXIBENCH_CACHE_DIR',
      ],
    ],
  ])('%s: one line naming the setting, nothing written in the current folder', (_, environment, parts) => {
    const cwd = mkdtempSync(join(work, 'cwd-'));
    expectRefused(flexibenchMeasured(generate, { env: environment(), cwd }), ...parts());
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('run with a cache under a file: refused before the study is created', () => {
    writeFileSync(join(work, 'a-file'), '');
    const db = join(work, 'cache-refused.duckdb');
    const r = flexibenchMeasured(['run', '--db', db, '--suites', 'copy', '--limit', '1', '--variants', 'full'], {
      env: { FLEXIBENCH_CACHE_DIR: join(work, 'a-file', 'cache') },
    });
    expectRefused(r, 'the graph cache folder cannot be created, a part of its path is a file (ENOTDIR)', 'FLEXIBENCH_CACHE_DIR');
    expect(existsSync(db)).toBe(false);
  });

  it.skipIf(noNobody !== null)('a cache folder nobody can write: one line naming the folder, the errno and FLEXIBENCH_CACHE_DIR', () => {
    const cache = join(work, 'root-cache');
    mkdirSync(cache, { mode: 0o755 });
    const r = flexibenchMeasured(generate, { env: { FLEXIBENCH_CACHE_DIR: cache }, wrapper: NOBODY });
    expectRefused(r, `${join(cache, 'graphs')}: the graph cache folder cannot be created or written (EACCES)`, 'set FLEXIBENCH_CACHE_DIR to a writable folder');
    expect(readdirSync(cache)).toEqual([]);
  });

  // nobody's home in the user database is /nonexistent on Debian: HOME unset then means a folder that cannot be made.
  const nobodyHome = spawnSync('getent', ['passwd', 'nobody']).stdout?.toString().split(':')[5] ?? '';
  if (noNobody === null && (nobodyHome === '' || existsSync(nobodyHome)))
    console.warn(`no-HOME cache test skipped: nobody's home '${nobodyHome}' exists or is unknown`);
  it.skipIf(noNobody !== null || nobodyHome === '' || existsSync(nobodyHome))(
    'no HOME, and a home folder that cannot be made: the line says HOME is not set',
    () => {
      // flexibenchMeasured passes process.env on; `env -u` takes HOME away again for the child.
      const r = flexibenchMeasured(generate, { wrapper: ['env', '-u', 'HOME', '-u', 'FLEXIBENCH_CACHE_DIR', ...NOBODY] });
      expectRefused(r, `${join(nobodyHome, '.cache', 'flexibench', 'graphs')}: the graph cache folder cannot be created or written (EACCES) (HOME is not set`);
    },
  );

  it('in-process: an empty FLEXIBENCH_CACHE_DIR is unset, an empty or relative HOME is refused', () => {
    const saved = { cache: process.env['FLEXIBENCH_CACHE_DIR'], home: process.env['HOME'] };
    try {
      process.env['FLEXIBENCH_CACHE_DIR'] = '';
      process.env['HOME'] = '/home/someone';
      expect(cacheRoot()).toBe('/home/someone/.cache/flexibench');
      process.env['FLEXIBENCH_CACHE_DIR'] = '/srv/graphs';
      expect(cacheRoot()).toBe('/srv/graphs');
      delete process.env['FLEXIBENCH_CACHE_DIR'];
      for (const home of ['', 'relative/home']) {
        process.env['HOME'] = home;
        expect(() => cacheRoot()).toThrow(UserError);
        expect(() => cacheRoot()).toThrow(/^HOME: .*FLEXIBENCH_CACHE_DIR/);
      }
    } finally {
      for (const [key, value] of [
        ['FLEXIBENCH_CACHE_DIR', saved.cache],
        ['HOME', saved.home],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('a fewshot count larger than its split', () => {
  const haveXsum = existsSync(join(DATA_DIR, 'xsum', 'test-tiny.jsonl'));
  if (!haveXsum) console.warn(`fewshot CLI test skipped: ${join(DATA_DIR, 'xsum', 'test-tiny.jsonl')} not found (set FLEXIBENCH_DATA_DIR)`);

  it('checkFewshotPool names the task file, the field and both numbers', () => {
    expect(() => checkFewshotPool('tasks/x.yaml', { count: 5, split: 'train' }, 5)).not.toThrow();
    expect(() => checkFewshotPool('tasks/x.yaml', { count: 6, split: 'train' }, 5)).toThrow(
      new UserError("tasks/x.yaml: /fewshot/count is 6, more than the 5 examples in the fewshot split 'train'"),
    );
  });

  it.skipIf(!haveXsum)('run refuses it before any study is written', () => {
    const folder = join(work, 'fewshot');
    mkdirSync(folder);
    const task = join(folder, 'many-shots.yaml');
    writeFileSync(
      task,
      [
        'name: many-shots',
        'version: 1',
        'description: XSum with more shots than its few-shot split holds',
        'source: { kind: dataset, dataset: xsum, split: test }',
        'prompt: { template: "Article: {document}\\nSummary:", target: "{summary}", reference: "{summary}" }',
        'fewshot: { count: 51, split: test-tiny, seed: 1, sampler: lm-eval }',
        'chat_template: false',
        'generation: { max_new_tokens: 4, stop: ["\\n"], sampling: { method: greedy } }',
        'scorer: { name: rouge, options: { types: [rouge1], stemming: true } }',
        '',
      ].join('\n'),
    );
    const db = join(folder, 'study.duckdb');
    const r = flexibenchMeasured(['run', '--model', MODEL, '--suites', task, '--limit', '1', '--variants', 'full', '--workers', '1', '--db', db], {
      env: { ...env, FLEXIBENCH_DATA_DIR: DATA_DIR },
    });
    expectRefused(r, `${task}: /fewshot/count is 51, more than the 50 examples in the fewshot split 'test-tiny'`);
    expect(existsSync(db)).toBe(false);
  });
});
