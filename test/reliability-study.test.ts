// Fault injection on studies and `run`'s input (issue 12): each fault gives one line and a non-zero
// exit, or the right behaviour, and never changes what is stored. Every test first checks that its
// fault is real (the damaged file really fails to read, the option really reaches the command).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench, type CliResult } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-reliability-'));
const model = join(work, 'ddllama');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const run = (db: string, extra: string[] = []): string[] => [
  'run',
  '--model',
  model,
  '--suites',
  'repetition',
  '--limit',
  '4',
  '--db',
  db,
  '--workers',
  '1',
  ...extra,
];
const study = join(work, 'study.duckdb');

function oneLine(r: CliResult, status: number, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('run: flexidepth'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** Whether every table of the file reads back in full (the check `run` makes). */
async function readsBack(path: string): Promise<boolean> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' }).catch(() => null);
  if (instance === null) return false;
  const conn = await instance.connect();
  try {
    for (const t of ['runs', 'samples', 'tokens']) await conn.run(`SELECT count(row) FROM ${t} row`);
    return true;
  } catch {
    return false;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function garbageAt(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from('GARBAGE!'), 0, 8, offset);
  closeSync(fd);
}

/** DuckDB's file layout: three 4 KiB headers, then 256 KiB blocks that start with their checksum. */
const HEADERS = 3 * 4096;
const BLOCK = 256 * 1024;

/** An offset inside the last block that holds the tokens table's data (DuckDB's own storage info says which). */
async function tokenBlockOffset(path: string): Promise<number> {
  const [row] = await queryStudyFile<{ block: number }>(path, "SELECT max(block_id)::INT AS block FROM pragma_storage_info('tokens') WHERE block_id >= 0");
  return HEADERS + row!.block * BLOCK + 1000;
}

function copyOfStudy(name: string): string {
  const path = join(work, name);
  writeFileSync(path, readFileSync(study));
  return path;
}

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
  const r = flexibench(run(study), env);
  expect(r.status, r.stderr).toBe(0);
});

describe('a damaged study is refused before anything is written to it', () => {
  it.each([
    ['truncated to half its size', (path: string) => truncateSync(path, Math.floor(statSync(path).size / 2)), /Could not read/],
    ['8 bytes of garbage in a block of token rows', async (path: string) => garbageAt(path, await tokenBlockOffset(path)), /checksum/],
  ])('%s', async (_what, damage, reason) => {
    const path = copyOfStudy(`damaged-${Math.random().toString(36).slice(2)}.duckdb`);
    await damage(path);
    expect(await readsBack(path)).toBe(false);
    const before = readFileSync(path);
    oneLine(
      flexibench(run(path), env),
      1,
      new RegExp(
        `^flexibench: ${path}: the study is damaged, table \\w+ does not read back \\(.*${reason.source}.*\\); nothing was written to it\\. Move it aside and rerun with --db NEW\\.duckdb`,
      ),
    );
    oneLine(flexibench(['report', '--db', path], env), 1, new RegExp(`^flexibench: ${path}: cannot read the study, the file is damaged`));
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('8 bytes of garbage in its catalog (the first block): it does not open; one line, bytes unchanged', async () => {
    const path = copyOfStudy('damaged-catalog.duckdb');
    garbageAt(path, HEADERS + 100_000);
    expect(await readsBack(path)).toBe(false);
    const before = readFileSync(path);
    for (const args of [run(path), ['report', '--db', path]]) {
      oneLine(
        flexibench(args, env),
        1,
        new RegExp(`^flexibench: ${path}: the file is damaged, it does not open \\(IO Error: Corrupt database file: computed checksum`),
      );
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('a DuckDB file holding only schema_version: one line for run and report, bytes unchanged', async () => {
    const path = join(work, 'stub.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    await conn.run('INSERT INTO schema_version VALUES (1)');
    conn.closeSync();
    instance.closeSync();
    const before = readFileSync(path);
    oneLine(flexibench(run(path), env), 1, /stub\.duckdb: not a flexibench study database \(schema version 1 but no runs, samples, tokens tables\)$/);
    oneLine(flexibench(['report', '--db', path], env), 1, /stub\.duckdb: not a flexibench study database/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

describe('paths that cannot be written', () => {
  it('--db under a path that is a file', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'mine');
    oneLine(flexibench(run(join(file, 'study.duckdb')), env), 1, /a-file\/study\.duckdb: cannot create its folder, a part of .*a-file is a file$/);
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });

  it('report --out a folder that cannot be created ends at once with one line', () => {
    oneLine(flexibench(['report', '--db', study, '--out', '/proc/flexibench-nope'], env), 1, /^flexibench: \/proc\/flexibench-nope: cannot create it/);
  });
});

describe('options', () => {
  it.each([
    [['--limit', '-1'], /^flexibench: run: --limit must be an integer from 1 to 1000000, got '-1'$/],
    [['--threshold', '-0.1'], /^flexibench: run: --threshold must be a number from 0 to 1, got '-0\.1'$/],
    [['--max-length', '100000'], /^flexibench: run: --max-length 100000 is more than the model's 256 positions/],
  ])('%s', async (extra, pattern) => {
    const before = await queryStudyFile(study, 'SELECT * FROM samples ORDER BY ALL');
    oneLine(flexibench([...run(study), ...extra], env), 1, pattern);
    expect(await queryStudyFile(study, 'SELECT * FROM samples ORDER BY ALL')).toEqual(before);
  });

  it('--suites names a suite twice: it runs once and the counts say so', async () => {
    const db = join(work, 'twice.duckdb');
    const r = flexibench(['run', '--model', model, '--suites', 'repetition,repetition', '--limit', '2', '--db', db, '--workers', '1'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/run: 4 samples written, 0 already stored, 0 failed/);
    expect(await queryStudyFile(db, 'SELECT count(*)::INT AS n FROM samples')).toEqual([{ n: 4 }]);
  });

  it('--workers far above the cores is capped with a note', () => {
    const r = flexibench(['run', '--model', model, '--suites', 'repetition', '--limit', '8', '--db', join(work, 'workers.duckdb'), '--workers', '1000'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^run: --workers 1000 capped to \d+ \(\d+ cores, --threads 1 per worker\)$/m);
  });
});

describe('an interrupted run', () => {
  it('SIGINT finishes the samples in flight, stores them, exits 130; the rerun completes', async () => {
    const db = join(work, 'interrupted.duckdb');
    const args = ['run', '--model', model, '--suites', 'repetition', '--limit', '60', '--db', db, '--workers', '1'];
    // Progress every 50 ms, so the interrupt lands while samples are in flight even when the whole run takes a second or two.
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, FLEXIBENCH_PROGRESS_MS: '50' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Interrupt once samples are being written.
      if (/run: flexidepth [1-9]\d*\/60 .*full \d+\/60/.test(stderr) && !/flexidepth 60\/60/.test(stderr) && child.exitCode === null && !child.killed)
        child.kill('SIGINT');
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    expect(status, stderr).toBe(130);
    const last = stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^flexibench: run interrupted; (\d+) new samples stored in .*interrupted\.duckdb; rerun the same command to resume$/);
    const stored = Number(/; (\d+) new samples/.exec(last)![1]);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(120);
    // Whole samples only: every stored sample has all its token rows.
    const whole = await queryStudyFile<{ n: number; incomplete: number }>(
      db,
      `SELECT count(*)::INT AS n, count(*) FILTER (WHERE s.prompt_tokens + s.generated_tokens <> (SELECT count(*) FROM tokens t WHERE t.run_id = s.run_id AND t.doc_id = s.doc_id))::INT AS incomplete
       FROM samples s WHERE status = 'done'`,
    );
    expect(whole).toEqual([{ n: stored, incomplete: 0 }]);
    const rerun = flexibench(args, env);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`run: ${120 - stored} samples? written, ${stored} already stored, 0 failed`));
  });
});
