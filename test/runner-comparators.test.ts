// `flexibench run --variants ...,static,random`: the comparators are matched to the study's FlexiDepth
// runs at each threshold (static's removed layers, random's per-layer rates), stored with what they
// were matched to, and resumed like every run.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import type { RandomComparator, StaticComparator } from '../src/store/run-comparator.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-comparators-run-'));
const model = join(work, 'ddllama');
const db = join(work, 'study.duckdb');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };
const base = ['run', '--model', model, '--suites', 'repetition,addition', '--limit', '4', '--workers', '1', '--data-dir', DATA_DIR];
const study = [...base, '--db', db, '--variants', 'full,flexidepth,static,random', '--thresholds', '0.3,0.7'];

interface RunRow {
  run_id: string;
  suite: string;
  variant: string;
  threshold: number;
  comparator: string | null;
  samples: number;
  /** Mean producing-position depth per generated token, as the report counts it. */
  layers_used: number;
}

const RUNS = `SELECT r.run_id, r.suite, r.variant, r.threshold, r.comparator::VARCHAR AS comparator, count(DISTINCT s.doc_id)::INTEGER AS samples,
    (SELECT avg(p.layers_used) FROM tokens g JOIN tokens p ON p.run_id = g.run_id AND p.doc_id = g.doc_id AND p.position = g.position - 1
     WHERE g.run_id = r.run_id AND g.phase = 'generated') AS layers_used
  FROM runs r JOIN samples s USING (run_id) WHERE s.status = 'done' GROUP BY ALL ORDER BY r.suite, r.variant, r.threshold`;

beforeAll(() => {
  writeRandomCheckpoint(model, { numLayers: 6, routingLayers: [2, 3, 4, 5], routerHeadScale: 4, seed: 11 });
});

describe('flexibench run with the comparators', () => {
  it('matches static and random to flexidepth at each threshold, stores why, and resumes', async () => {
    const r = flexibench(study, env);
    expect(r.status, r.stderr).toBe(0);
    const runs = await queryStudyFile<RunRow>(db, RUNS);
    const of = (suite: string, variant: string, threshold: number): RunRow => {
      const row = runs.find((x) => x.suite === suite && x.variant === variant && x.threshold === threshold);
      if (row === undefined) throw new Error(`no ${variant}@${threshold} run of ${suite}: ${r.stderr}`);
      return row;
    };
    for (const suite of ['addition', 'repetition']) {
      for (const t of [0.3, 0.7]) {
        const flex = of(suite, 'flexidepth', t);
        const random = of(suite, 'random', t);
        expect(random.samples).toBe(4);
        const c = JSON.parse(random.comparator!) as RandomComparator;
        expect(c).toMatchObject({ kind: 'random', matched_threshold: t, matched_run_id: flex.run_id, seed: 0 });
        expect(c.rates.prompt).toHaveLength(4);
        // The budget matches: random's layers used per suite is within 0.35 of flexidepth's.
        expect(Math.abs(random.layers_used - flex.layers_used), `${suite}@${t}: ${random.layers_used} vs ${flex.layers_used}`).toBeLessThan(0.35);
      }
    }
    // static: one removal per threshold for every suite, k = the rounded mean skips over both suites.
    for (const t of [0.3, 0.7]) {
      const statics = runs.filter((x) => x.variant === 'static' && x.threshold === t);
      expect(statics.map((x) => x.suite)).toEqual(['addition', 'repetition']);
      const c = JSON.parse(statics[0]!.comparator!) as StaticComparator;
      expect(JSON.parse(statics[1]!.comparator!)).toEqual(c);
      expect(c.removed_layers).toHaveLength(Math.round(c.flexidepth_skips_mean!));
      expect(c.removed_layers.length).toBeGreaterThanOrEqual(1);
      expect(c.block_influence.map((b) => b.layer)).toEqual([2, 3, 4, 5]);
      const ranked = [...c.block_influence].sort((a, b) => a.value - b.value).map((b) => b.layer);
      expect(c.removed_layers).toEqual(ranked.slice(0, c.removed_layers.length).sort());
      expect(c.calibration.tokens).toBeGreaterThan(500);
      expect(r.stderr).toContain(`run: static@${t} removes layers ${c.removed_layers.join(', ')}`);
      for (const run of statics) expect(run.layers_used).toBe(6 - c.removed_layers.length);
    }
    // Layers used falls as the threshold rises, for flexidepth and hence its comparators.
    for (const suite of ['addition', 'repetition']) expect(of(suite, 'flexidepth', 0.7).layers_used).toBeLessThan(of(suite, 'flexidepth', 0.3).layers_used);
    // static tokens: the kept routed layers as the mask, no gates.
    const tokens = await queryStudyFile<{ mask: string; gates: string }>(
      db,
      `SELECT DISTINCT t.mask::VARCHAR AS mask, t.gates::VARCHAR AS gates FROM tokens t JOIN runs r USING (run_id) WHERE r.variant = 'static' AND r.threshold = 0.7`,
    );
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.gates).toBe('[]');

    const again = flexibench(study, env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/run: 0 samples written, 56 already stored, 0 failed/);

    const report = flexibench(['report', '--db', db, '--json'], env);
    expect(report.status, report.stderr).toBe(0);
    const variants = (JSON.parse(report.stdout) as { results: { variant: string; threshold: number }[] }).results.map((x) => `${x.variant}@${x.threshold}`);
    for (const v of ['static@0.3', 'static@0.7', 'random@0.3', 'random@0.7']) expect(variants).toContain(v);
  }, 600_000);

  it('--static-layers K removes K layers without flexidepth in the study', async () => {
    const path = join(work, 'fixed.duckdb');
    const r = flexibench([...base, '--db', path, '--variants', 'full,static', '--static-layers', '2', '--limit', '2'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/run: static@0\.5 removes layers \d, \d: the 2 routed layers of least Block Influence \(--static-layers\)/);
    const rows = await queryStudyFile<{ variant: string; layers: number }>(
      path,
      `SELECT DISTINCT r.variant, t.layers_used::INTEGER AS layers FROM tokens t JOIN runs r USING (run_id) ORDER BY 1`,
    );
    expect(rows).toEqual([
      { variant: 'full', layers: 6 },
      { variant: 'static', layers: 4 },
    ]);
  }, 300_000);

  it('a comparator without flexidepth to match, or more static layers than routed ones: one line, exit 1, no study', () => {
    const path = join(work, 'refused.duckdb');
    const random = flexibench([...base, '--db', path, '--variants', 'full,random'], env);
    expect(random.status).toBe(1);
    expect(random.stderr).toBe("flexibench: run: --variants random is matched to FlexiDepth's layer budget in the same study; add flexidepth to --variants\n");
    const many = flexibench([...base, '--db', path, '--variants', 'flexidepth,static', '--static-layers', '5'], env);
    expect(many.status).toBe(1);
    expect(many.stderr).toBe(`flexibench: run: --static-layers 5 is more than the 4 routed layers of ${model}\n`);
    const plain = join(work, 'llama');
    writeRandomCheckpoint(plain, { numLayers: 3 });
    const noRouters = flexibench(['run', '--model', plain, '--db', path, '--variants', 'full,static', '--static-layers', '1'], env);
    expect(noRouters.status).toBe(1);
    expect(noRouters.stderr).toMatch(/variant static needs a FlexiDepth checkpoint/);
    // Static's calibration text is read before the study is touched.
    const noCorpus = flexibench([...base, '--db', path, '--variants', 'flexidepth,static', '--data-dir', work], env);
    expect(noCorpus.status).toBe(1);
    expect(noCorpus.stderr).toMatch(/^flexibench: datasets: corpora\/tinyshakespeare.txt not found in .*\n$/);
    expect(existsSync(path)).toBe(false);
  });
});
