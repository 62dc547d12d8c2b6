import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { SCHEMA_VERSION } from '../src/store/schema.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadReport, type ReportSummary } from '../reports/report-data.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { buildPatternStudy } from './report-fixtures.ts';
import { buildStudy, tempDir } from './store-fixtures.ts';

describe('flexibench report', () => {
  let dir: string;
  let path: string;
  let second: string;
  let expected: ReportSummary;

  beforeAll(async () => {
    dir = tempDir('flexibench-report-');
    path = join(dir, 'study.duckdb');
    const db = await StudyDb.open(path);
    await buildStudy(db);
    await db.close();
    second = join(dir, 'second.duckdb');
    const other = await StudyDb.open(second);
    await buildPatternStudy(other);
    await other.close();
    // The command's defaults: 10000 bootstrap samples, seed 0.
    expected = (await loadReport([path])).summary;
  });

  it('--json prints the summary as one JSON document and nothing else', () => {
    const before = readFileSync(path);
    const r = flexibench(['report', '--db', path, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(r.stdout) as ReportSummary;
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
    expect(lines[0]).toBe(`${path}: 3 runs, schema version ${SCHEMA_VERSION}`);
    // Piped, the table is 80 columns wide: the suite's primary metric (accuracy, its first) and
    // the paired difference keep their place; the speeds and the rouge scores are in the report.
    expect(r.stdout).toMatch(/^model\s+suite\s+variant\s+n\s+accuracy\s+diff \[95% CI\]\s+layers$/m);
    expect(r.stdout).toMatch(/^model-1\s+arith\s+flexidepth@0\.5\s+2 \(\+1 err\)\s+0\.500\s+-0\.500 \[[-\d.]+, [-\d.]+\]\s+4\.20\/6$/m);
    expect(r.stdout).toMatch(/^model-1\s+arith\s+full\s+3\s+0\.667\s+6\.00\/6$/m);
    expect(r.stdout).toMatch(/^accuracy: the primary metric of the suite\./m);
    expect(r.stdout).not.toContain('rouge');
    expect(lines.slice(1).filter((l) => l.length > 80)).toEqual([]);
  });

  it('--out DIR writes index.html, summary.md and summary.json there', () => {
    const out = join(dir, 'report');
    const r = flexibench(['report', '--db', path, '--out', out, '--json', '--bootstrap-samples', '200']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`report: ${join(out, 'index.html')}\n`);
    expect(readdirSync(out).sort()).toEqual(['index.html', 'summary.json', 'summary.md']);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(JSON.parse(r.stdout));
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    // Every run's layers used is a number in the scores table, whatever its suite.
    const header = html.indexOf('metrics: mean [95% CI]');
    const scores = html.slice(html.lastIndexOf('<table>', header), html.indexOf('</table>', header));
    expect(scores).toContain('<th class="num">layers used per generated token [95% CI]</th>');
    const rows = [...scores.matchAll(/<tr><td>/g)].length;
    expect(rows).toBeGreaterThan(0);
    expect([...scores.matchAll(/<td class="num">\d+\.\d\d\/\d+/g)].length).toBe(rows);
    // The run metadata reads as tables of fields, not as raw JSON objects.
    const metadata = html.slice(html.indexOf('id="metadata"'), html.indexOf('<details>', html.indexOf('id="metadata"')));
    expect(metadata).toContain('<div class="fields"><div class="wide"><table>');
    expect(metadata).not.toMatch(/\{&quot;/);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/^# flexibench report: study\n/);
    // A folder holding only a previous report is replaced without --force.
    const again = flexibench(['report', '--db', path, '--out', out, '--bootstrap-samples', '200']);
    expect(again.status).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('several --db side by side: rows name their study', () => {
    const r = flexibench(['report', '--db', path, '--db', second, '--json', '--bootstrap-samples', '100']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as ReportSummary;
    expect(summary.study.dbs.map((d) => d.label)).toEqual(['study', 'second']);
    expect(summary.results.map((x) => [x.study, x.suite, x.variant])).toContainEqual(['second', 'addition', 'flexidepth']);
    expect(summary.paper.map((p) => p.series)).toEqual([
      'study · model-1 · flexidepth@0.5',
      'study · model-2 · flexidepth@0.5',
      'second · model-1 · flexidepth@0.5',
    ]);
    const table = flexibench(['report', '--db', path, '--db', second, '--bootstrap-samples', '100']);
    expect(table.stdout).toMatch(/^study\s+model\s+suite\s+variant/m);
  });

  it('refuses an output folder the user made, unless --force; nothing is half written', () => {
    const mine = join(dir, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep me');
    const r = flexibench(['report', '--db', path, '--out', mine, '--bootstrap-samples', '100']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`flexibench: ${mine}: folder exists and is not empty (1 entry); choose another report --out or pass --force to replace it\n`);
    expect(readdirSync(mine)).toEqual(['notes.txt']);
    const forced = flexibench(['report', '--db', path, '--out', mine, '--force', '--bootstrap-samples', '100']);
    expect(forced.status).toBe(0);
    expect(readdirSync(mine).sort()).toEqual(['index.html', 'summary.json', 'summary.md']);

    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const under = flexibench(['report', '--db', path, '--out', join(file, 'report'), '--bootstrap-samples', '100']);
    expect(under.status).toBe(1);
    expect(under.stderr).toBe(`flexibench: ${join(file, 'report')}: cannot create it, ${file} is not a folder\n`);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('an empty study: one line, exit 1', async () => {
    const empty = join(dir, 'empty.duckdb');
    await (await StudyDb.open(empty)).close();
    const r = flexibench(['report', '--db', empty, '--out', join(dir, 'empty-report')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`flexibench: ${empty}: the study has no runs yet (run \`flexibench run --db ${empty}\` first)\n`);
    expect(existsSync(join(dir, 'empty-report'))).toBe(false);
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
