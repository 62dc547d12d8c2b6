// Outputs never destroy an input of the same command (issue 26): `--out DIR --force` over a folder
// that holds the study, `--log-samples` naming the study, its WAL or a model file; and the sample
// log says exactly what it holds after a full disk, catching up on the rerun.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibenchMeasured, type MeasuredCliResult } from './cli.ts';
import { buildPatternStudy } from './report-fixtures.ts';
import { queryStudyFile, tempDir } from './store-fixtures.ts';

const work = tempDir('fb-hostile-out-');
const cache = join(work, 'cache');
const env = { FLEXIBENCH_CACHE_DIR: cache };
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A refusal as the issue defines it: exit 1, one line naming `what`, bounded memory, no hang. */
function expectRefused(r: MeasuredCliResult, what: RegExp): void {
  expect(r.timedOut).toBe(false);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^flexibench: [^\n]*\n$/);
  expect(r.stderr).toMatch(what);
  expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('--out never holds the study it reads', () => {
  const results = join(work, 'results');
  const db = join(results, 'studies', 'study.duckdb');
  const other = join(work, 'other-study.duckdb');
  let before: string;

  beforeAll(async () => {
    mkdirSync(join(results, 'studies'), { recursive: true });
    for (const path of [db, other]) {
      const study = await StudyDb.open(path);
      await buildPatternStudy(study);
      await study.close();
    }
    symlinkSync(results, join(work, 'link-to-results'));
    before = sha(db);
  });

  it.each([
    ['report, the study folder', ['report', '--db', db, '--out', join(results, 'studies'), '--force'], /report --out holds --db/],
    ['report, a folder above it', ['report', '--db', db, '--out', results, '--force'], /report --out holds --db/],
    ['report, through a link', ['report', '--db', db, '--out', join(work, 'link-to-results'), '--force'], /report --out holds --db/],
    ['export-patterns, a folder above it', ['export-patterns', '--db', db, '--out', results, '--force'], /export-patterns --out holds --db/],
    ['export-patterns, the study file itself', ['export-patterns', '--db', db, '--out', db, '--force'], /export-patterns --out holds --db/],
    ['report, without --force', ['report', '--db', db, '--out', results], /report --out holds --db/],
    [
      'export-patterns, a folder inside the study file',
      ['export-patterns', '--db', db, '--out', join(db, 'sub'), '--force'],
      /export-patterns --out is inside --db/,
    ],
    [
      'report, the second of two studies',
      ['report', '--db', other, '--db', db, '--out', join(results, 'studies'), '--force'],
      /report --out holds --db .*study\.duckdb/,
    ],
  ])('%s: refused, the study untouched', (_, args, message) => {
    expectRefused(flexibenchMeasured(args, { env }), message);
    expect(sha(db)).toBe(before);
  });

  it('export-patterns over its own previous export whose file is now the study: refused, with or without --force', () => {
    const previous = join(work, 'previous-export');
    expect(flexibenchMeasured(['export-patterns', '--db', db, '--out', previous], { env }).status).toBe(0);
    // The folder still looks like an export alone (the same files, the card's marker): replacing it would delete the study.
    const inside = join(previous, 'data', 'samples.parquet');
    copyFileSync(db, inside);
    const copied = sha(inside);
    for (const force of [[], ['--force']]) {
      expectRefused(flexibenchMeasured(['export-patterns', '--db', inside, '--out', previous, ...force], { env }), /export-patterns --out holds --db/);
      expect(sha(inside)).toBe(copied);
    }
  });

  it('a report folder beside the study is still written (the check refuses only what holds it)', () => {
    const r = flexibenchMeasured(['report', '--db', db, '--out', join(results, 'report'), '--force'], { env });
    expect(r.stderr).not.toMatch(/holds/);
    expect(r.status).toBe(0);
    expect(existsSync(join(results, 'report', 'index.html'))).toBe(true);
    expect(sha(db)).toBe(before);
  });
});

describe('--log-samples is never an input of run', () => {
  const db = join(work, 'log-study', 'study.duckdb');
  let before: string;

  beforeAll(async () => {
    mkdirSync(join(work, 'log-study'));
    const study = await StudyDb.open(db);
    await buildPatternStudy(study);
    await study.close();
    before = sha(db);
  });

  it.each([
    ['the study', () => db, /run --log-samples is --db/],
    ["the study's WAL", () => `${db}.wal`, /run --log-samples is --db's write-ahead log/],
    ['a file in the model folder', () => 'models/flexidepth-ref/samples.jsonl', /run --log-samples is --model/],
    ["a file in the study's report folder", () => join(work, 'log-study', 'study-report', 'samples.jsonl'), /the study's report folder/],
    // The WAL exists only while the study is open: a link to it dangles until then.
    ["a link to the study's WAL", () => linkTo(`${db}.wal`), /run --log-samples is --db's write-ahead log/],
  ])('%s: refused before anything is written', (_, log, message) => {
    const r = flexibenchMeasured(['run', '--db', db, '--suites', 'copy', '--limit', '1', '--variants', 'full', '--log-samples', log()], { env });
    expectRefused(r, message);
    expect(sha(db)).toBe(before);
    expect(existsSync(`${db}.wal`)).toBe(false);
    expect(existsSync('models/flexidepth-ref/samples.jsonl')).toBe(false);
  });

  it('a link to a study not yet created is that study: refused, and no study is made', () => {
    const fresh = join(work, 'not-yet.duckdb');
    const r = flexibenchMeasured(['run', '--db', fresh, '--suites', 'copy', '--limit', '1', '--variants', 'full', '--log-samples', linkTo(fresh)], { env });
    expectRefused(r, /run --log-samples is --db/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('a file that is not a sample log is refused, not appended to', () => {
    const notes = join(work, 'notes.txt');
    writeFileSync(notes, 'my notes\nnot JSON\n');
    const r = flexibenchMeasured(
      ['run', '--db', join(work, 'other.duckdb'), '--suites', 'copy', '--limit', '1', '--variants', 'full', '--log-samples', notes],
      {
        env,
      },
    );
    expectRefused(r, /notes\.txt: line 1 is not a sample log line/);
    expect(readFileSync(notes, 'utf8')).toBe('my notes\nnot JSON\n');
  });
});

/** A new symbolic link to `target` (which need not exist), in the test's folder. */
function linkTo(target: string): string {
  const link = join(work, `link-${Math.random().toString(36).slice(2)}.jsonl`);
  symlinkSync(target, link);
  return link;
}

/** A tmpfs of `kib` KiB at `dir`; false where this machine does not let us mount one. */
function mountTmpfs(dir: string, kib: number): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk while writing the sample log', () => {
  const disk = join(work, 'small-disk');
  const mounted = mountTmpfs(disk, 64);
  afterAll(() => {
    if (mounted) execFileSync('umount', [disk]);
  });

  // Skipped only where mount is refused (no CAP_SYS_ADMIN); CI runs as root and can mount.
  it.skipIf(!mounted)('says how many samples were stored, keeps only whole lines, and the rerun adds what the log lacked', async () => {
    const db = join(work, 'full-disk.duckdb');
    const log = join(disk, 'samples.jsonl');
    const filler = join(disk, 'filler');
    // tmpfs counts whole pages: one page is left for the log, so a line that crosses into a second
    // page is written in part, then ENOSPC, after its sample was stored.
    writeFileSync(filler, Buffer.alloc(60 * 1024));
    const args = ['run', '--db', db, '--suites', 'copy', '--limit', '12', '--variants', 'full', '--workers', '1', '--log-samples', log];
    const first = flexibenchMeasured(args, { env, timeoutMs: 120_000 });
    expect(first.timedOut).toBe(false);
    expect(first.status).toBe(1);
    // run's progress lines come first; the failure is the last line.
    expect(first.stderr).toMatch(/(^|\n)flexibench: [^\n]*samples\.jsonl: cannot write the sample log \(ENOSPC\)[^\n]*\n$/);
    const n = (await queryStudyFile<{ n: number }>(db, 'SELECT count(*)::INT AS n FROM samples'))[0]!.n;
    expect(first.stderr).toContain(`; ${n} new samples stored in ${db}`);
    // Only whole lines, each of a stored sample, and fewer than were stored: the failed one is not there.
    const text = readFileSync(log, 'utf8');
    expect(text === '' || text.endsWith('\n')).toBe(true);
    const partial = text === '' ? [] : text.trimEnd().split('\n');
    for (const line of partial) expect(JSON.parse(line)).toMatchObject({ suite: 'copy', status: 'done' });
    expect(partial.length).toBeLessThan(n);
    expect(partial.length).toBeGreaterThan(0);

    rmSync(filler);
    const second = flexibenchMeasured(args, { env, timeoutMs: 120_000 });
    expect(second.status).toBe(0);
    const lacked = n - partial.length;
    expect(second.stderr).toContain(`added ${lacked} stored ${lacked === 1 ? 'sample' : 'samples'} the log lacked`);
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    const logged = lines.map((l) => (JSON.parse(l) as { doc_id: string }).doc_id).sort();
    const all = await queryStudyFile<{ doc_id: string }>(db, 'SELECT doc_id FROM samples ORDER BY doc_id');
    expect(logged).toEqual(all.map((r) => r.doc_id).sort());
    expect(logged).toHaveLength(12);
  });
});
