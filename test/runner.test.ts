// `flexibench run` as a user runs it: a study of synthetic suites on a small FlexiDepth checkpoint,
// resumed after SIGKILL, repeated, and fed bad input. The database is read back directly.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibench } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-run-'));
const model = join(work, 'ddllama');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const study = (db: string, limit: number, extra: string[] = []): string[] => [
  'run',
  '--model',
  model,
  '--suites',
  'repetition,addition',
  '--limit',
  String(limit),
  '--db',
  db,
  '--workers',
  '2',
  ...extra,
];

const SAMPLES = `SELECT r.suite, r.variant, s.doc_id, s.output, s.metrics, s.generated_tokens, s.prompt_tokens, s.status
  FROM samples s JOIN runs r USING (run_id) ORDER BY r.suite, r.variant, s.doc_id`;
const TOKENS = `SELECT r.suite, r.variant, t.doc_id, t.position, t.token_id, t.text, t.phase, t.layers_used, t.mask, t.gates
  FROM tokens t JOIN runs r USING (run_id) ORDER BY r.suite, r.variant, t.doc_id, t.position`;

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});

describe('flexibench run', () => {
  const reference = join(work, 'reference.duckdb');

  it('prompts longer than the context are left-truncated as lm-eval does, stored and counted', async () => {
    // CNN/DM articles are longer than the random checkpoint's 256 positions.
    const db = join(work, 'truncated.duckdb');
    const r = flexibench(
      ['run', '--model', model, '--suites', 'cnndm', '--limit', '2', '--variants', 'full', '--db', db, '--workers', '1', '--data-dir', dataDir],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    // The heading is wrapped to the table's 80 columns.
    expect(r.stdout).toMatch(/prompts left-truncated to fit the max length [^]*?:\n  cnndm full: 2 of 2\n/);
    const rows = await queryStudyFile<{ status: string; prompt_tokens: number; truncated_tokens: number }>(
      db,
      'SELECT status, prompt_tokens, truncated_tokens FROM samples',
    );
    const maxNew = 128; // tasks/cnndm.yaml
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatchObject({ status: 'done', prompt_tokens: 256 - maxNew });
    expect(rows.every((row) => row.truncated_tokens > 0)).toBe(true);
  });

  it('failed samples are stored, listed with their reason, and make run exit 2', async () => {
    // The same suite with truncation off: every prompt is too long, so every sample fails.
    mkdirSync(join(work, 'strict'));
    const suite = join(work, 'strict', 'cnndm.yaml');
    writeFileSync(
      suite,
      readFileSync(fileURLToPath(new URL('../tasks/cnndm.yaml', import.meta.url)), 'utf8').replace(/^generation:\n/m, 'generation:\n  truncation: none\n'),
    );
    const db = join(work, 'failing.duckdb');
    const r = flexibench(
      ['run', '--model', model, '--suites', suite, '--limit', '2', '--variants', 'full', '--db', db, '--workers', '1', '--data-dir', dataDir],
      env,
    );
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/run: 2 samples failed \(reasons above\); what succeeded is stored; exit 2\n$/);
    expect(r.stdout).toMatch(
      /failed samples \(not scored; rerun the same command to retry them\):\n(  cnndm full: 1 × the prompt has \d+ tokens; with max_new_tokens 128 at most 128 fit in max length 256 \(.*strict\/cnndm\.yaml: generation\.truncation is 'none'\)\n){2}/,
    );
    expect(r.stdout).toMatch(/^cnndm\s+full\s+0 \(\+2 err\)\s+-\s+-\s/m);
    expect(r.stdout).toMatch(/report: .*failing-report\/index\.html\n$/);
    const rows = await queryStudyFile<{ status: string }>(db, 'SELECT status FROM samples');
    expect(rows).toEqual([{ status: 'error' }, { status: 'error' }]);
  });

  beforeAll(() => {
    const r = flexibench(study(reference, 6), env);
    expect(r.status, r.stderr).toBe(0);
  });

  it('stores one sample per item and variant, and a summary table', async () => {
    const rows = await queryStudyFile<{ suite: string; variant: string; n: number }>(
      reference,
      'SELECT r.suite, r.variant, count(*)::INT AS n FROM samples s JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL',
    );
    expect(rows).toEqual([
      { suite: 'addition', variant: 'flexidepth', n: 6 },
      { suite: 'addition', variant: 'full', n: 6 },
      { suite: 'repetition', variant: 'flexidepth', n: 6 },
      { suite: 'repetition', variant: 'full', n: 6 },
    ]);
    // Both variants saw the identical items and prompts.
    const prompts = await queryStudyFile<{ suite: string; k: number }>(
      reference,
      'SELECT r.suite, count(DISTINCT s.doc_id || s.prompt)::INT AS k FROM samples s JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL',
    );
    expect(prompts).toEqual([
      { suite: 'addition', k: 6 },
      { suite: 'repetition', k: 6 },
    ]);
  });

  it('stores one token row per prompt and generated token, whose depth agrees with its mask', async () => {
    const perSample = await queryStudyFile<{ expected: number; got: number }>(
      reference,
      `SELECT s.prompt_tokens + s.generated_tokens AS expected, (SELECT count(*) FROM tokens t WHERE t.run_id = s.run_id AND t.doc_id = s.doc_id)::INT AS got FROM samples s`,
    );
    expect(perSample.length).toBe(24);
    for (const r of perSample) expect(r.got).toBe(Number(r.expected));
    const tokens = await queryStudyFile<{ variant: string; layers_used: number; mask: boolean[]; gates: number[] }>(reference, TOKENS);
    for (const t of tokens) {
      if (t.variant === 'full') {
        expect(t.layers_used).toBe(4);
        expect(t.mask).toEqual([]);
      } else {
        expect(t.mask).toEqual(t.gates.map((g) => g > 0.5));
        expect(t.layers_used).toBe(2 + t.mask.filter(Boolean).length);
      }
    }
  });

  it('the per-token rows of a sample reproduce its generated text', async () => {
    const samples = await queryStudyFile<{ run_id: string; doc_id: string; output: string; stop_reason: string }>(
      reference,
      'SELECT run_id, doc_id, output, stop_reason FROM samples',
    );
    const tok = TextTokenizer.load(model);
    for (const s of samples) {
      const rows = await queryStudyFile<{ text: string; token_id: number }>(
        reference,
        `SELECT text, token_id FROM tokens WHERE run_id = '${s.run_id}' AND doc_id = '${s.doc_id}' AND phase = 'generated' ORDER BY position`,
      );
      // Special tokens (an EOS that ended generation, ...) have rows with their text but are not output text.
      const text = rows.filter((r) => !tok.isSpecial(r.token_id));
      const joined = text.map((r) => r.text).join('');
      expect(joined.startsWith(s.output)).toBe(true);
      if (s.stop_reason !== 'stop_string') expect(joined).toBe(s.output);
      expect(tok.decode(text.map((r) => r.token_id))).toBe(joined);
    }
  });

  it('a greedy study repeated gives identical outputs and allocations', async () => {
    const again = join(work, 'again.duckdb');
    const r = flexibench(study(again, 6, ['--workers', '1']), env);
    expect(r.status, r.stderr).toBe(0);
    expect(await queryStudyFile(again, SAMPLES)).toEqual(await queryStudyFile(reference, SAMPLES));
    expect(await queryStudyFile(again, TOKENS)).toEqual(await queryStudyFile(reference, TOKENS));
  });

  it('rerunning a finished study stores nothing new', async () => {
    const before = await queryStudyFile(reference, 'SELECT count(*)::INT AS n FROM tokens');
    const r = flexibench(study(reference, 6), env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming, 24 samples already stored/);
    expect(await queryStudyFile(reference, 'SELECT count(*)::INT AS n FROM tokens')).toEqual(before);
  });

  it('resumes after SIGKILL with exactly one row per item and token, identical to an uninterrupted run', async () => {
    const killed = join(work, 'killed.duckdb');
    const full = join(work, 'uninterrupted.duckdb');
    const limit = 12;
    // Kill the child once it has stored a few samples (progress is printed after every sample here).
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...study(killed, limit, ['--workers', '1'])], {
        env: { ...process.env, ...env, FLEXIBENCH_PROGRESS_MS: '0' },
      });
      let lines = 0;
      child.stderr.on('data', (chunk: Buffer) => {
        lines += (chunk.toString().match(/^run: .*\d+\/\d+/gm) ?? []).length;
        if (lines >= 5) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child ended before it was killed (code ${code})`))));
    });
    const partial = await queryStudyFile<{ n: number }>(killed, 'SELECT count(*)::INT AS n FROM samples');
    expect(partial[0]!.n).toBeGreaterThan(0);
    expect(partial[0]!.n).toBeLessThan(4 * limit);

    const resumed = flexibench(study(killed, limit, ['--workers', '1']), env);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming/);
    expect(flexibench(study(full, limit, ['--workers', '1']), env).status).toBe(0);

    const dupes = await queryStudyFile(killed, 'SELECT run_id, doc_id, position FROM tokens GROUP BY ALL HAVING count(*) > 1');
    expect(dupes).toEqual([]);
    expect(await queryStudyFile(killed, SAMPLES)).toEqual(await queryStudyFile(full, SAMPLES));
    expect(await queryStudyFile(killed, TOKENS)).toEqual(await queryStudyFile(full, TOKENS));
  });
});

describe('bad input leaves stored results intact', () => {
  it.each([
    ['an unknown suite', (db: string) => ['run', '--model', model, '--suites', 'repetition,nope', '--db', db], /unknown suite 'nope'/],
    [
      'a bad model directory',
      (db: string) => ['run', '--model', join(work, 'missing'), '--suites', 'repetition', '--db', db],
      /missing: model directory not found/,
    ],
    ['an unknown variant', (db: string) => ['run', '--model', model, '--suites', 'repetition', '--variants', 'half', '--db', db], /unknown variant 'half'/],
  ])('%s', async (_what, args, pattern) => {
    const db = join(work, `bad-${Math.random().toString(36).slice(2)}.duckdb`);
    expect(flexibench(study(db, 2), env).status).toBe(0);
    const before = await queryStudyFile(db, SAMPLES);
    const r = flexibench(args(db), env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(pattern);
    expect(await queryStudyFile(db, SAMPLES)).toEqual(before);
  });

  it('a file that is not a study database is refused and left unchanged', () => {
    const file = join(work, 'notes.duckdb');
    writeFileSync(file, 'my notes, not a database\n');
    const r = flexibench(study(file, 2), env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/notes\.duckdb: not a flexibench study database/);
    expect(readFileSync(file, 'utf8')).toBe('my notes, not a database\n');
  });

  it('a crashed worker stops the run with one line; finished samples stay and the rerun completes', async () => {
    const db = join(work, 'crash.duckdb');
    const r = flexibench(study(db, 6, ['--workers', '1']), { ...env, FLEXIBENCH_WORKER_EXIT_AFTER: '5' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      /generation worker 0 crashed \(exit code 3\); 5 new samples stored in .*crash\.duckdb; rerun the same command to resume/,
    );
    expect((await queryStudyFile<{ n: number }>(db, 'SELECT count(*)::INT AS n FROM samples'))[0]!.n).toBe(5);
    expect(flexibench(study(db, 6, ['--workers', '1']), env).status).toBe(0);
    expect((await queryStudyFile<{ n: number }>(db, "SELECT count(*)::INT AS n FROM samples WHERE status = 'done'"))[0]!.n).toBe(24);
    expect(existsSync(db)).toBe(true);
  });
});

describe('a full disk', () => {
  // A 1 MiB tmpfs fills up after some samples. Mounting needs root; where it is refused the test is skipped.
  const mountPoint = join(work, 'small-disk');
  let mounted = false;
  try {
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }

  it.skipIf(!mounted)('stops with one line naming the database; every stored sample is whole and the study resumes elsewhere', async () => {
    const db = join(mountPoint, 'study.duckdb');
    let r;
    try {
      r = flexibench(['run', '--model', model, '--suites', 'repetition', '--limit', '150', '--db', db], env);
    } finally {
      // Keep what was written, then free the mount.
      mkdirSync(join(work, 'rescued'));
      for (const f of [db, `${db}.wal`]) if (existsSync(f)) copyFileSync(f, join(work, 'rescued', f.slice(mountPoint.length + 1)));
      execFileSync('umount', [mountPoint]);
    }
    expect(r.status).toBe(1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/No space left on device; (\d+) new samples stored in .*study\.duckdb; rerun the same command to resume/);
    const stored = Number(/; (\d+) new samples stored/.exec(last)![1]);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(300);

    const rescued = join(work, 'rescued', 'study.duckdb');
    const whole = await queryStudyFile<{ n: number; incomplete: number }>(
      rescued,
      `SELECT count(*)::INT AS n, count(*) FILTER (WHERE s.prompt_tokens + s.generated_tokens <> (SELECT count(*) FROM tokens t WHERE t.run_id = s.run_id AND t.doc_id = s.doc_id))::INT AS incomplete
       FROM samples s WHERE status = 'done'`,
    );
    expect(whole).toEqual([{ n: stored, incomplete: 0 }]);
    const resumed = flexibench(['run', '--model', model, '--suites', 'repetition', '--limit', '150', '--db', rescued], env);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect((await queryStudyFile<{ n: number }>(rescued, "SELECT count(*)::INT AS n FROM samples WHERE status = 'done'"))[0]!.n).toBe(300);
  });
});
