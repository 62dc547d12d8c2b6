// runStudy called directly (no command line): --log-samples lists exactly the samples the study
// stores, with the producing-position depth the token rows give; suites come from include paths;
// run metadata is gathered once per study.
import * as childProcess from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runStudy } from '../harness/runner/run-study.ts';
import type { StudyOptions } from '../harness/runner/study-options.ts';
import { testStudyOptions, type StudyOverrides } from './study-options.ts';
import type { SampleLogLine } from '../harness/runner/sample-log.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

vi.mock('node:child_process', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:child_process')>();
  return { ...original, execFileSync: vi.fn(original.execFileSync) };
});

const work = mkdtempSync(join(tmpdir(), 'fb-study-'));
const model = join(work, 'ddllama');
const customTasks = join(work, 'tasks');
process.env['FLEXIBENCH_CACHE_DIR'] = join(work, 'cache');

const options = (name: string, over: StudyOverrides = {}): StudyOptions =>
  testStudyOptions(
    { modelDir: model, suites: ['addition', 'too-long'], dataDir, dbPath: join(work, `${name}.duckdb`) },
    {
      plan: { limit: 3, includePaths: [customTasks], ...over.plan },
      output: { logSamplesPath: join(work, `${name}-log`, 'samples.jsonl'), ...over.output },
    },
  );

const readLog = (path: string): SampleLogLine[] =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as SampleLogLine);
const key = (r: { run_id: string; doc_id: string }): string => `${r.run_id} ${r.doc_id}`;

/** The stored samples in the log's shape, depth from the token rows at the producing positions. */
async function storedAsLogLines(db: string): Promise<SampleLogLine[]> {
  const rows = await queryStudyFile<SampleLogLine & { metrics: unknown }>(
    db,
    `
    SELECT r.suite, r.variant, r.threshold, s.run_id, s.doc_id, s.doc_index, s.prompt, s.output, s.reference, s.metrics::VARCHAR AS metrics,
           s.status, s.error, s.prompt_tokens, s.truncated_tokens, s.generated_tokens,
           (SELECT avg(t.layers_used) FROM tokens t WHERE t.run_id = s.run_id AND t.doc_id = s.doc_id
              AND t.position BETWEEN s.prompt_tokens - 1 AND s.prompt_tokens + s.generated_tokens - 2) AS layers_used_mean
    FROM samples s JOIN runs r USING (run_id) ORDER BY s.run_id, s.doc_id`,
  );
  return rows.map((r) => ({ ...r, metrics: JSON.parse(String(r.metrics)) as SampleLogLine['metrics'] }));
}

function expectSameSamples(logged: SampleLogLine[], stored: SampleLogLine[]): void {
  const sorted = [...logged].sort((a, b) => key(a).localeCompare(key(b)));
  expect(sorted.map(key)).toEqual(stored.map(key));
  sorted.forEach((line, i) => {
    const { layers_used_mean: depth, ...rest } = stored[i]!;
    expect(line).toMatchObject(rest);
    if (depth === null) expect(line.layers_used_mean).toBeNull();
    else expect(line.layers_used_mean).toBeCloseTo(depth, 12);
  });
}

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
  // A custom suite in an include path whose prompts never fit: every sample of it fails.
  mkdirSync(customTasks);
  const addition = readFileSync(resolve(import.meta.dirname, '../tasks/addition.yaml'), 'utf8');
  writeFileSync(
    join(customTasks, 'too-long.yaml'),
    addition.replace('name: addition', 'name: too-long').replace('max_new_tokens: 8', 'max_new_tokens: 250\n  truncation: none'),
  );
});

describe('runStudy', () => {
  it('logs every stored sample, done and failed, once; git runs once per study, not per run', async () => {
    const git = vi.mocked(childProcess.execFileSync);
    git.mockClear();
    const opts = options('logged');
    const stats = await runStudy(opts);
    expect(stats).toMatchObject({ samplesWritten: 6, samplesFailed: 6, samplesSkipped: 0 });
    // 4 runs (2 suites x 2 variants); gitRevision is rev-parse plus status.
    expect(git.mock.calls.filter(([cmd]) => cmd === 'git')).toHaveLength(2);
    const revisions = await queryStudyFile<{ n: number }>(opts.output.dbPath, 'SELECT count(DISTINCT git_revision)::INT AS n, count(*)::INT AS runs FROM runs');
    expect(revisions).toEqual([{ n: 1, runs: 4 }]);

    const logged = readLog(opts.output.logSamplesPath!);
    const stored = await storedAsLogLines(opts.output.dbPath);
    expect(stored).toHaveLength(12);
    expectSameSamples(logged, stored);
    const failed = logged.filter((l) => l.status === 'error');
    expect(failed.map((l) => l.suite)).toEqual(Array(6).fill('too-long'));
    for (const l of failed)
      expect(l).toMatchObject({ layers_used_mean: null, metrics: {}, error: expect.stringMatching(/too-long\.yaml: generation\.truncation is 'none'/) });
    // flexidepth skips some routed layers; full runs all 4 layers for every token.
    const done = logged.filter((l) => l.status === 'done');
    for (const l of done.filter((d) => d.variant === 'full')) expect(l.layers_used_mean).toBe(4);
    expect(done.some((l) => l.variant === 'flexidepth' && l.layers_used_mean! < 4)).toBe(true);
  });

  it('a crashed worker: the log lists exactly the samples stored; the resumed study appends the rest', async () => {
    const opts = options('crashed', { plan: { suites: ['addition'] } });
    process.env['FLEXIBENCH_WORKER_EXIT_AFTER'] = '3';
    try {
      await expect(runStudy(opts)).rejects.toThrow(/generation worker 0 crashed \(exit code 3\); 3 new samples stored/);
    } finally {
      delete process.env['FLEXIBENCH_WORKER_EXIT_AFTER'];
    }
    expectSameSamples(readLog(opts.output.logSamplesPath!), await storedAsLogLines(opts.output.dbPath));
    expect(readLog(opts.output.logSamplesPath!)).toHaveLength(3);

    expect(await runStudy(opts)).toMatchObject({ samplesWritten: 3, samplesSkipped: 3 });
    const all = await storedAsLogLines(opts.output.dbPath);
    expect(all).toHaveLength(6);
    expectSameSamples(readLog(opts.output.logSamplesPath!), all);
  });

  it('without --log-samples no file is written; a log path that cannot be opened stops the study before the database', async () => {
    const opts = options('unlogged', { plan: { suites: ['addition'], limit: 1 }, output: { logSamplesPath: null } });
    await runStudy(opts);
    expect(existsSync(join(work, 'unlogged-log'))).toBe(false);

    const file = join(work, 'a-file');
    writeFileSync(file, 'mine');
    const bad = options('bad-log', { output: { logSamplesPath: join(file, 'samples.jsonl') } });
    await expect(runStudy(bad)).rejects.toThrow(/a-file\/samples\.jsonl: cannot open the sample log \(--log-samples\): (ENOTDIR|EEXIST)/);
    expect(existsSync(bad.output.dbPath)).toBe(false);
  });
});
