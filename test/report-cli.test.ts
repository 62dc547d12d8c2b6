import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudyDb, type StudySummary } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { buildStudy, tempDir } from './store-fixtures.ts';

describe('flexibench report', () => {
  let dir: string;
  let path: string;
  let expected: StudySummary;

  beforeAll(async () => {
    dir = tempDir('flexibench-report-');
    path = join(dir, 'study.duckdb');
    const db = await StudyDb.open(path);
    await buildStudy(db);
    // The command's defaults: 10000 bootstrap samples, seed 0.
    expected = await db.summary();
    await db.close();
  });

  it('--json prints the summary as one JSON document and nothing else', () => {
    const before = readFileSync(path);
    const r = flexibench(['report', '--db', path, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(r.stdout) as StudySummary;
    expect(summary).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(summary.results.map((x) => [x.model_hash, x.variant, x.n, x.layers_used_mean])).toEqual([
      ['model-1', 'flexidepth', 2, 4.2],
      ['model-1', 'full', 3, 6],
      ['model-2', 'flexidepth', 1, 4.5],
    ]);
    expect(summary.paired.map((p) => [p.metric, p.flexidepth_minus_full.mean, p.retention])).toEqual([
      ['accuracy', -0.5, 0.5],
      ['rouge', -0.375, 0.5],
    ]);
    // A report opens the study read-only.
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('prints a readable table without --json', () => {
    const r = flexibench(['report', '--db', path, '--bootstrap-samples', '200']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${path}: 3 runs, schema version 1`);
    expect(r.stdout).toMatch(/model-1\s+arith\s+flexidepth@0\.5\s+2 \(\+1 err\)\s+accuracy 0\.500 \[[-\d.]+, [-\d.]+\]; rouge 0\.375 \[[-\d.]+, [-\d.]+\]\s+4\.20\/6\s+40\.0%\s+250\.0\s+100\.0/);
    expect(r.stdout).toMatch(/model-1\s+arith\s+full\s+3\s+accuracy 0\.667 .*6\.00\/6\s+-\s+100\.0\s+50\.0/);
    expect(r.stdout).toMatch(/model-1\s+arith\s+rouge\s+2\s+-0\.375 \[[-\d.]+, [-\d.]+\]\s+50\.0%/);
  });

  it('--out DIR writes summary.json there', () => {
    const out = join(dir, 'report');
    const r = flexibench(['report', '--db', path, '--out', out, '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/wrote .*summary\.json \(the HTML report is not generated yet\)/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(JSON.parse(r.stdout));
  });

  it('a missing database: one line, exit 1, nothing created', () => {
    const missing = join(dir, 'missing.duckdb');
    const r = flexibench(['report', '--db', missing, '--json']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`flexibench: ${missing}: no such study database\n`);
    expect(existsSync(missing)).toBe(false);
  });

  it('a text file or a foreign DuckDB file: one line, exit 1, bytes unchanged', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n');
    const r1 = flexibench(['report', '--db', text]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toBe(`flexibench: ${text}: not a flexibench study database (not a DuckDB file)\n`);
    expect(readFileSync(text, 'utf8')).toBe('not a database\n');

    const foreign = join(dir, 'other.duckdb');
    const instance = await DuckDBInstance.create(foreign);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7)');
    conn.closeSync();
    instance.closeSync();
    const before = readFileSync(foreign);
    const r2 = flexibench(['report', '--db', foreign, '--json']);
    expect(r2.status).toBe(1);
    expect(r2.stdout).toBe('');
    expect(r2.stderr).toBe(`flexibench: ${foreign}: not a flexibench study database (a DuckDB database without a schema_version table; it holds orders)\n`);
    expect(readFileSync(foreign).equals(before)).toBe(true);
  });
});
