// A study at several weight precisions (issue 28): each precision is its own runs, fp32's ids are
// those of a study without --precision, and each lossy FlexiDepth run is measured for how it routes
// fp32's generated tokens, which the runner feeds back through both graphs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { agreementCounts, agreementPairs, producingInput } from '../harness/runner/routing-agreement.ts';
import { runStudy } from '../harness/runner/run-study.ts';
import type { StudyOptions } from '../harness/runner/study-options.ts';
import { testStudyOptions, type StudyOverrides } from './study-options.ts';
import { mergeStudies } from '../src/store/merge-studies.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';
import type { RunPlan } from '../harness/runner/register-runs.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-precision-run-'));
const model = join(work, 'ddllama');
process.env['FLEXIBENCH_CACHE_DIR'] = join(work, 'cache');

const options = (name: string, over: StudyOverrides = {}): StudyOptions =>
  testStudyOptions(
    { modelDir: model, suites: ['addition', 'copy'], dataDir, dbPath: join(work, `${name}.duckdb`) },
    { ...over, plan: { limit: 4, ...over.plan } },
  );

beforeAll(() => {
  // Gates spread around the threshold, so some decisions sit near it and quantization can flip them.
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});

describe('routing agreement, by hand', () => {
  it('counts the decisions at the producing positions of the generated tokens, layer-major', () => {
    // Prompt of 3 tokens, 2 generated: fed are positions 0..3, producing positions 2 and 3.
    const input = producingInput({ ids: [10, 11, 12, 13, 14], promptTokens: 3 });
    expect(input).toEqual({ ids: [10, 11, 12, 13], from: 2, n: 2 });
    const R = 2;
    const S = 4;
    const reference = Float32Array.from([0.9, 0.9, 0.6, 0.4, /* layer 2 */ 0.1, 0.1, 0.7, 0.2]);
    const gates = Float32Array.from([0.1, 0.1, 0.7, 0.6, /* layer 2 */ 0.9, 0.9, 0.3, 0.1]);
    // Positions 0-1 disagree everywhere but are not counted; at 2-3: layer 1 agrees, disagrees; layer 2 disagrees, agrees.
    expect(agreementCounts(reference, gates, { R, S }, input.from, input.n, 0.5)).toEqual({ decisions: 4, identical: 2 });
    expect(agreementCounts(reference, reference, { R, S }, input.from, input.n, 0.5)).toEqual({ decisions: 4, identical: 4 });
    // No generated token: nothing fed, nothing decided.
    expect(producingInput({ ids: [1, 2, 3], promptTokens: 3 }).n).toBe(0);
  });

  it('pairs each lossy flexidepth run with the fp32 flexidepth run of its suite and threshold, and nothing else', () => {
    const suite = {} as RunPlan['suite'];
    const other = {} as RunPlan['suite'];
    const run = (variant: RunPlan['variant'], precision: 'fp32' | 'int4', threshold: number, s = suite): RunPlan =>
      ({
        suite: s,
        variant,
        threshold,
        runId: `${variant}-${precision}-${threshold}`,
        graph: precision === 'fp32' ? { variant } : { variant, precision },
      }) as RunPlan;
    const runs = [
      run('flexidepth', 'fp32', 0.5),
      run('flexidepth', 'fp32', 0.7),
      run('full', 'int4', 0.5),
      run('flexidepth', 'int4', 0.7),
      run('flexidepth', 'int4', 0.5, other),
    ];
    expect(agreementPairs(runs).map((p) => [p.run.runId, p.reference.runId])).toEqual([['flexidepth-int4-0.7', 'flexidepth-fp32-0.7']]);
  });
});

describe('a study at fp32 and int4', () => {
  it('runs each precision as its own series, keeps fp32 run ids, and stores the routing agreement of every int4 flexidepth sample', async () => {
    const plain = options('plain');
    await runStudy(plain);
    const both = options('both', { plan: { precisions: ['int4', 'fp32'] } });
    const stats = await runStudy(both);
    // 2 suites x 2 precisions x 2 variants x 4 items.
    expect(stats).toMatchObject({ samplesWritten: 32, samplesFailed: 0 });
    const runs = await queryStudyFile<{ run_id: string; variant: string; suite: string; precision: string | null }>(
      both.output.dbPath,
      `SELECT run_id, variant, suite, identity->>'precision' AS precision FROM runs ORDER BY suite, variant, precision NULLS FIRST`,
    );
    expect(runs.map((r) => `${r.suite} ${r.variant} ${r.precision}`)).toEqual([
      'addition flexidepth null',
      'addition flexidepth int4',
      'addition full null',
      'addition full int4',
      'copy flexidepth null',
      'copy flexidepth int4',
      'copy full null',
      'copy full int4',
    ]);
    const plainIds = (await queryStudyFile<{ run_id: string }>(plain.output.dbPath, 'SELECT run_id FROM runs ORDER BY run_id')).map((r) => r.run_id);
    expect(
      runs
        .filter((r) => r.precision === null)
        .map((r) => r.run_id)
        .sort(),
    ).toEqual(plainIds);

    const agreement = await queryStudyFile<{
      suite: string;
      reference_precision: string | null;
      docs: number;
      decisions: number;
      identical: number;
      generated: number;
    }>(
      both.output.dbPath,
      `SELECT r.suite, ref.identity->>'precision' AS reference_precision, count(*)::INT AS docs, sum(a.decisions)::INT AS decisions, sum(a.identical)::INT AS identical,
              (SELECT sum(s.generated_tokens)::INT FROM samples s WHERE s.run_id = a.reference_run_id) AS generated
       FROM routing_agreement a JOIN runs r USING (run_id) JOIN runs ref ON ref.run_id = a.reference_run_id
       WHERE r.variant = 'flexidepth' AND (r.identity->>'precision') = 'int4' AND ref.variant = 'flexidepth'
       GROUP BY r.suite, ref.identity, a.reference_run_id ORDER BY r.suite`,
    );
    expect(agreement).toHaveLength(2);
    for (const a of agreement) {
      expect(a).toMatchObject({ reference_precision: null, docs: 4 });
      // One decision per routed layer (2) per generated token of fp32's samples.
      expect(a.decisions).toBe(2 * a.generated);
      expect(a.identical).toBeLessThanOrEqual(a.decisions);
    }
    // int4 flips some of this random model's decisions near the threshold, and keeps most.
    const share = agreement.reduce((n, a) => n + a.identical, 0) / agreement.reduce((n, a) => n + a.decisions, 0);
    expect(share).toBeGreaterThan(0.8);
    expect(share).toBeLessThan(1);
    // Nothing but lossy flexidepth runs is measured.
    expect(await queryStudyFile(both.output.dbPath, 'SELECT count(*)::INT AS n FROM routing_agreement')).toEqual([{ n: 8 }]);

    // A merge carries the agreement with the samples; merging it again adds nothing.
    const merged = join(work, 'merged.duckdb');
    await mergeStudies(merged, [both.output.dbPath]);
    await mergeStudies(merged, [both.output.dbPath]);
    const count = 'SELECT count(*)::INT AS n, sum(identical)::INT AS identical FROM routing_agreement';
    expect(await queryStudyFile(merged, count)).toEqual(await queryStudyFile(both.output.dbPath, count));

    // A rerun resumes: nothing generated, nothing measured again.
    const again = await runStudy(both);
    expect(again).toMatchObject({ samplesWritten: 0, samplesSkipped: 32 });
    expect(await queryStudyFile(both.output.dbPath, 'SELECT count(*)::INT AS n FROM routing_agreement')).toEqual([{ n: 8 }]);
  });
});
