// `flexibench run --thresholds`: one flexidepth run per threshold and one full run, in one study
// that resumes as a whole and reports each threshold as its own series.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-thresholds-'));
const model = join(work, 'ddllama');
const db = join(work, 'sweep.duckdb');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
// Unsorted, with a duplicate: stored sorted and once each.
const sweep = ['run', '--model', model, '--suites', 'repetition', '--limit', '3', '--db', db, '--workers', '1', '--thresholds', '0.9,0.1,0.5,0.1'];

interface RunRow {
  variant: string;
  threshold: number;
  samples: number;
  layers_used: number;
}

const RUNS = `SELECT r.variant, r.threshold, count(DISTINCT s.doc_id)::INTEGER AS samples,
    (SELECT avg(t.layers_used) FROM tokens t WHERE t.run_id = r.run_id AND t.phase = 'generated') AS layers_used
  FROM runs r JOIN samples s USING (run_id) WHERE s.status = 'done' GROUP BY ALL ORDER BY r.variant, r.threshold`;

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});

describe('flexibench run --thresholds', () => {
  it('runs flexidepth once per threshold and full once; layers used does not rise with the threshold; a rerun stores nothing', async () => {
    const r = flexibench(sweep, env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/flexidepth@0\.1 3\/3 .*flexidepth@0\.5 3\/3 .*flexidepth@0\.9 3\/3 .*full 3\/3/);
    const runs = await queryStudyFile<RunRow>(db, RUNS);
    expect(runs.map((x) => [x.variant, x.threshold, x.samples])).toEqual([
      ['flexidepth', 0.1, 3],
      ['flexidepth', 0.5, 3],
      ['flexidepth', 0.9, 3],
      ['full', 0.5, 3],
    ]);
    const flexi = runs.filter((x) => x.variant === 'flexidepth').map((x) => x.layers_used);
    for (let i = 1; i < flexi.length; i++) expect(flexi[i]!).toBeLessThanOrEqual(flexi[i - 1]!);
    expect(flexi[2]!).toBeLessThan(flexi[0]!);

    const again = flexibench(sweep, env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/run: 0 samples written, 12 already stored, 0 failed/);
    const counted = await queryStudyFile<{ n: number }>(db, 'SELECT count(*)::INTEGER AS n FROM samples');
    expect(counted).toEqual([{ n: 12 }]);

    const report = flexibench(['report', '--db', db, '--json'], env);
    expect(report.status, report.stderr).toBe(0);
    const rows = (JSON.parse(report.stdout) as { results: { variant: string; threshold: number; layers_used_mean: number }[] }).results;
    expect(rows.filter((x) => x.variant === 'flexidepth').map((x) => x.threshold)).toEqual([0.1, 0.5, 0.9]);
    const text = flexibench(['report', '--db', db], env);
    expect(text.status, text.stderr).toBe(0);
    for (const t of ['0.1', '0.5', '0.9']) expect(text.stdout).toContain(`flexidepth@${t}`);
  }, 300_000);

  it('--threshold with --thresholds, or a value out of range, is one line and exit 1', () => {
    const both = flexibench(['run', '--model', model, '--db', join(work, 'x.duckdb'), '--threshold', '0.5', '--thresholds', '0.3,0.7'], env);
    expect(both.status).toBe(1);
    expect(both.stderr).toBe('flexibench: run: give --threshold or --thresholds, not both\n');
    const bad = flexibench(['run', '--model', model, '--db', join(work, 'x.duckdb'), '--thresholds', '0.3,1.5'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("flexibench: run: --thresholds must be a number from 0 to 1, got '1.5'\n");
  });
});
