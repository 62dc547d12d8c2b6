// `run --shard K/N` and `merge`: the partition itself, then shards run as separate processes (one
// killed with SIGKILL and rerun) merged into one study that matches the study run whole, and merges
// that must be refused without touching --out.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { itemsOfShard, parseShard, shardIndexes } from '../harness/runner/shard.ts';
import { flexibench } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { queryStudyFile } from './store-fixtures.ts';

describe('the shard partition', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `item-${i}`);

  it.each([2, 3, 7])('of 1000 ids into %i shards is disjoint, covering and balanced', (n) => {
    const shards = Array.from({ length: n }, (_, k) => itemsOfShard(ids, (id) => id, { index: k + 1, count: n }));
    const all = shards.flat();
    expect(all).toHaveLength(ids.length);
    expect(new Set(all)).toEqual(new Set(ids));
    const sizes = shards.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('depends on the ids, not their order or position', () => {
    const reversed = [...ids].reverse();
    const a = shardIndexes(ids, 5);
    const b = shardIndexes(reversed, 5);
    expect(ids.map((_, i) => a[i])).toEqual(ids.map((_, i) => b[ids.length - 1 - i]));
    // Not by position: the shard of consecutive items is not the position's residue.
    expect(a.slice(0, 20)).not.toEqual(Array.from({ length: 20 }, (_, i) => i % 5));
  });

  it('parses K/N and auto/N (0-based scheduler indexes), refusing the rest with one line', () => {
    expect(parseShard('2/3', {})).toEqual({ index: 2, count: 3 });
    expect(parseShard('auto/3', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 3 });
    expect(parseShard('auto/3', { SLURM_ARRAY_TASK_ID: '2' })).toEqual({ index: 3, count: 3 });
    expect(parseShard('auto/3', { JOB_COMPLETION_INDEX: '1', SLURM_ARRAY_TASK_ID: '0' })).toEqual({ index: 2, count: 3 });
    expect(() => parseShard('auto/3', {})).toThrow(/auto\/3 .*JOB_COMPLETION_INDEX .*SLURM_ARRAY_TASK_ID.*neither is set$/);
    expect(() => parseShard('auto/3', { SLURM_ARRAY_TASK_ID: '3' })).toThrow(
      /SLURM_ARRAY_TASK_ID is '3', not a 0-based index below 3 \(submit the array as --array=0-2\)/,
    );
    for (const bad of ['0/3', '4/3', '1/0', 'a/3', '1/b', '2', '1/2/3', '-1/3', '1.5/3'])
      expect(() => parseShard(bad, {}), bad).toThrow(new RegExp(`^run: --shard must be K/N .*got '${bad.replace('.', '\\.')}'`));
  });
});

const work = mkdtempSync(join(tmpdir(), 'fb-shard-'));
const model = join(work, 'ddllama');
const otherModel = join(work, 'other');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const db = (name: string): string => join(work, `${name}.duckdb`);
const study = (file: string, extra: string[] = [], modelDir = model): string[] => [
  'run',
  '--model',
  modelDir,
  '--suites',
  'repetition,addition',
  '--limit',
  '6',
  '--db',
  file,
  '--workers',
  '1',
  ...extra,
];

// Everything but timings and written_at/started_at.
const RUNS = `SELECT run_id, model_hash, variant, suite, suite_config_hash, seed, doc_limit, threshold, generation, identity, layers_total, routing_layers
  FROM runs ORDER BY run_id`;
const SAMPLES = `SELECT run_id, doc_id, doc_index, prompt, output, reference, metrics, prompt_tokens, truncated_tokens, generated_tokens, stop_reason, status, error
  FROM samples ORDER BY run_id, doc_id`;
const TOKENS = `SELECT run_id, doc_id, position, token_id, text, phase, layers_used, mask, gates, hex(bytes) AS bytes FROM tokens ORDER BY run_id, doc_id, position`;
const EVERYTHING = [RUNS, SAMPLES, TOKENS];

async function contents(file: string): Promise<unknown[]> {
  return Promise.all(EVERYTHING.map((sql) => queryStudyFile(file, sql)));
}

async function write(file: string, sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  try {
    await conn.run(sql);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function ok(args: string[]): string {
  const r = flexibench(args, env);
  expect(r.status, r.stderr).toBe(0);
  return r.stderr;
}

/** Exit 1 with one line on stderr matching `line`. */
function refused(args: string[], line: RegExp): void {
  const r = flexibench(args, env);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(line);
}

/** Runs a shard and SIGKILLs it once it has reported its first stored sample. */
async function killMidRun(args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, FLEXIBENCH_PROGRESS_MS: '0' } });
    child.stderr.on('data', (chunk: Buffer) => {
      if (/^run: (flexidepth|full) \d+\/\d+/m.test(chunk.toString())) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`shard ended before it was killed (code ${code})`))));
  });
}

describe('shards merged', () => {
  beforeAll(() => {
    writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
    writeRandomCheckpoint(otherModel, { routingLayers: [2, 3], routerHeadScale: 4, seed: 12 });
    ok(study(db('whole'), ['--workers', '2']));
    for (const k of [1, 2, 3]) {
      const stderr = ok(study(db(`shard${k}`), ['--shard', `${k}/3`]));
      expect(stderr).toContain(`run: shard ${k}/3: repetition 2 items, addition 2 items\n`);
    }
    ok(['merge', '--out', db('merged'), db('shard1'), db('shard2'), db('shard3')]);
  });

  it('three shards, run as separate processes, merge into the study run whole', async () => {
    expect(await contents(db('merged'))).toEqual(await contents(db('whole')));
    // The shards' runs are the whole study's runs; each machine's shard is in its metadata.
    const hardware = await queryStudyFile<{ shard: string }>(db('shard2'), "SELECT DISTINCT hardware->>'shard' AS shard FROM runs");
    expect(hardware).toEqual([{ shard: '2/3' }]);
    expect(await queryStudyFile(db('merged'), "SELECT DISTINCT hardware->>'shard' AS shard FROM runs")).toEqual([{ shard: null }]);
  });

  it('a merged study reports like any other', () => {
    // Everything but speeds and the study's label (its file name).
    const strip = (json: string): unknown => {
      const summary = JSON.parse(json) as { results: Record<string, unknown>[]; paired: Record<string, unknown>[] };
      return [
        summary.results.map(({ prefill_tokens_per_s: _p, decode_tokens_per_s: _d, study: _s, ...rest }) => rest),
        summary.paired.map(({ study: _s, ...rest }) => rest),
      ];
    };
    const merged = flexibench(['report', '--db', db('merged'), '--json', '--bootstrap-samples', '200'], env);
    const whole = flexibench(['report', '--db', db('whole'), '--json', '--bootstrap-samples', '200'], env);
    expect(merged.status, merged.stderr).toBe(0);
    expect(strip(merged.stdout)).toEqual(strip(whole.stdout));
  });

  it('a shard killed with SIGKILL and rerun merges into the same study', async () => {
    const killed = db('killed2');
    await killMidRun(study(killed, ['--shard', '2/3']));
    const partial = await queryStudyFile<{ n: number }>(killed, 'SELECT count(*)::INT AS n FROM samples');
    expect(partial[0]!.n).toBeLessThan(8);
    expect(ok(study(killed, ['--shard', '2/3']))).toMatch(/resuming|samples written/);
    ok(['merge', '--out', db('merged-killed'), db('shard1'), killed, db('shard3')]);
    expect(await contents(db('merged-killed'))).toEqual(await contents(db('whole')));
  });

  it('merging the same shard again, or twice at once, changes nothing', async () => {
    const before = await contents(db('merged'));
    const times = await queryStudyFile(db('merged'), 'SELECT run_id, started_at, ended_at FROM runs ORDER BY run_id');
    expect(ok(['merge', '--out', db('merged'), db('shard2')])).toMatch(/0 runs added, 0 updated; 0 samples added, .*8 already there/);
    expect(await contents(db('merged'))).toEqual(before);
    expect(await queryStudyFile(db('merged'), 'SELECT run_id, started_at, ended_at FROM runs ORDER BY run_id')).toEqual(times);
    // One shard at a time into a growing study: the same study.
    for (const k of [3, 1, 2]) ok(['merge', '--out', db('incremental'), db(`shard${k}`)]);
    expect(await contents(db('incremental'))).toEqual(before);
    expect(await queryStudyFile(db('incremental'), 'SELECT run_id, started_at, ended_at FROM runs ORDER BY run_id')).toEqual(times);
    ok(['merge', '--out', db('twice'), db('shard1'), db('shard1')]);
    expect(await contents(db('twice'))).toEqual(await contents(db('shard1')));
  });

  it('a sample that differs is refused with one line naming it; --out is byte-identical afterwards', async () => {
    const out = db('out-conflict');
    copyFileSync(db('merged'), out);
    const bytes = readFileSync(out);
    const changed = db('changed');
    copyFileSync(db('shard1'), changed);
    const [victim] = await queryStudyFile<{ run_id: string; doc_id: string }>(changed, 'SELECT run_id, doc_id FROM samples ORDER BY run_id, doc_id LIMIT 1');
    await write(changed, `UPDATE samples SET output = output || 'x' WHERE run_id = '${victim!.run_id}' AND doc_id = '${victim!.doc_id}'`);
    const names = new RegExp(
      `sample ${victim!.doc_id} of run ${victim!.run_id} \\(.*\\) differs between .*out-conflict\\.duckdb \\(--out\\) and .*changed\\.duckdb \\(its output`,
    );
    refused(['merge', '--out', out, changed], names);
    expect(readFileSync(out).equals(bytes)).toBe(true);

    // Token rows count too; and a refused merge into a new --out leaves no file.
    const depth = db('depth');
    copyFileSync(db('shard1'), depth);
    await write(depth, `UPDATE tokens SET layers_used = layers_used - 1 WHERE run_id = '${victim!.run_id}' AND doc_id = '${victim!.doc_id}' AND position = 0`);
    refused(
      ['merge', '--out', db('fresh'), db('shard1'), depth],
      /differs between .*shard1\.duckdb and .*depth\.duckdb \(its token rows\); nothing was merged$/,
    );
    expect(existsSync(db('fresh'))).toBe(false);
  });

  it("another model's study is refused unless --allow-mixed; --out is byte-identical afterwards", async () => {
    const other = db('other-model');
    ok(study(other, ['--shard', '1/3', '--variants', 'full'], otherModel));
    const out = db('out-mixed');
    copyFileSync(db('merged'), out);
    const bytes = readFileSync(out);
    refused(
      ['merge', '--out', out, other],
      /^flexibench: merge: .*out-mixed\.duckdb \(--out\) and .*other-model\.duckdb hold runs of different models .*--allow-mixed/,
    );
    expect(readFileSync(out).equals(bytes)).toBe(true);
    ok(['merge', '--out', out, other, '--allow-mixed']);
    expect((await queryStudyFile<{ n: number }>(out, 'SELECT count(DISTINCT model_hash)::INT AS n FROM runs'))[0]!.n).toBe(2);
  });

  it('a done sample replaces an error one; a file that is not a study is refused', async () => {
    const out = db('with-error');
    copyFileSync(db('shard3'), out);
    const [victim] = await queryStudyFile<{ run_id: string; doc_id: string }>(out, 'SELECT run_id, doc_id FROM samples ORDER BY run_id, doc_id LIMIT 1');
    const where = `WHERE run_id = '${victim!.run_id}' AND doc_id = '${victim!.doc_id}'`;
    await write(out, `DELETE FROM tokens ${where}; UPDATE samples SET status = 'error', output = '', error = 'boom' ${where}`);
    expect(ok(['merge', '--out', out, db('shard3')])).toMatch(/0 samples added, 1 error samples replaced by done ones, 7 already there/);
    expect(await contents(out)).toEqual(await contents(db('shard3')));

    const notes = join(work, 'notes.duckdb');
    writeFileSync(notes, 'not a database\n');
    refused(['merge', '--out', db('fresh'), db('shard1'), notes], /notes\.duckdb: not a flexibench study database \(not a DuckDB file\)$/);
    refused(['merge', '--out', db('shard1'), db('shard1')], /merge: .*shard1\.duckdb is the --out database itself$/);
    expect(existsSync(db('fresh'))).toBe(false);
  });
});
