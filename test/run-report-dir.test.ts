// run --report-dir (issue 29): the study's report goes where the user says, not beside the study;
// a folder that is an input of the run, or holds the user's own files, is refused before anything
// runs; a previous report there is replaced.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-report-dir-'));
const model = join(work, 'model');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const base = ['run', '--model', model, '--suites', 'addition', '--limit', '1', '--variants', 'full', '--data-dir', dataDir];

beforeAll(() => writeRandomCheckpoint(model, { routingLayers: [2, 3], seed: 5 }));

describe('run --report-dir', () => {
  it('writes the report there, not beside the study, and replaces it on a rerun', () => {
    const db = join(work, 'a', 'study.duckdb');
    const out = join(work, 'reports', 'mine');
    const r = flexibench([...base, '--db', db, '--report-dir', out], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`report: ${join(out, 'index.html')}`);
    expect(readdirSync(out).sort()).toEqual(['index.html', 'summary.json', 'summary.md']);
    expect(existsSync(join(work, 'a', 'study-report'))).toBe(false);
    const again = flexibench([...base, '--db', db, '--report-dir', out], env);
    expect(again.status, again.stderr).toBe(0);
  });

  it('refuses a folder holding the user files, or an input of the run, before anything runs', () => {
    const mine = join(work, 'notes');
    mkdirSync(mine);
    writeFileSync(join(mine, 'todo.txt'), 'mine');
    const db = join(work, 'b', 'study.duckdb');
    const held = flexibench([...base, '--db', db, '--report-dir', mine], env);
    expect(held.status).toBe(1);
    expect(held.stderr).toMatch(
      /notes: run writes the study's report into this folder, which holds something other than a previous report \(1 entry\); move it aside or give another --report-dir/,
    );
    const inModel = flexibench([...base, '--db', db, '--report-dir', join(model, 'report')], env);
    expect(inModel.status).toBe(1);
    expect(inModel.stderr).toMatch(/--report-dir/);
    expect(inModel.stderr).toMatch(/--model/);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(join(model, 'report'))).toBe(false);
  });
});
