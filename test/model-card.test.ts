// The committed model card's numbers are the harness's: `flexibench run` with the card's exact
// arguments on models/flexidepth-ref, `report --json`, then training/model_card.py --check regenerates
// the card's measured tables from that summary and must find them equal to the card's (no timings are
// in them). The engine is deterministic on the CPU with one thread per session, and the numbers do not
// depend on --workers. model_card.py reads JSON only: no torch needed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MODEL = join(ROOT, 'models/flexidepth-ref');
const PYTHON = '/usr/bin/python3';
/** Run as a module of the training package, from the repository root. */
const CARD = ['-m', 'training.model_card'];
const work = mkdtempSync(join(tmpdir(), 'fb-card-'));
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const summaryPath = join(work, 'card-summary.json');

function modelCard(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(PYTHON, [...CARD, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('models/flexidepth-ref/README.md', () => {
  beforeAll(() => {
    const args = modelCard(['--study-args']);
    expect(args.status, args.out).toBe(0);
    const db = join(work, 'card-study.duckdb');
    const run = flexibench(['run', '--model', MODEL, ...args.out.trim().split(/\s+/), '--data-dir', dataDir, '--db', db], env);
    expect(run.status, run.stderr).toBe(0);
    const report = flexibench(['report', '--db', db, '--json'], env);
    expect(report.status, report.stderr).toBe(0);
    writeFileSync(summaryPath, report.stdout);
  }, 400_000);

  it('states exactly the tables that `flexibench run` + `report --json` give on the committed model', () => {
    const check = modelCard(['--check', '--model', MODEL, '--summary', summaryPath]);
    expect(check.status, check.out).toBe(0);
    expect(check.out).toContain('ok: ');
  });

  it('and the check fails, with a diff, on any difference', () => {
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { results: { suite: string; variant: string; routed_usage: number | null }[] };
    const row = summary.results.find((r) => r.suite === 'copy' && r.variant === 'flexidepth')!;
    row.routed_usage = (row.routed_usage as number) + 0.01;
    const changed = join(work, 'changed-summary.json');
    writeFileSync(changed, JSON.stringify(summary));
    const check = modelCard(['--check', '--model', MODEL, '--summary', changed]);
    expect(check.status).toBe(1);
    expect(check.out).toMatch(/^-\| copy \|.*\n\+\| copy \|/m);
  });
});
