import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadReport } from '../reports/report-data.ts';
import type { StudySummary } from '../reports/summary.ts';
import { bootstrapMean, pairedBootstrap } from '../src/scoring/bootstrap.ts';
import { SCHEMA_VERSION } from '../src/store/schema.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { buildStudy, tempDir, type BuiltStudy } from './store-fixtures.ts';

const BOOT = { samples: 500, seed: 7 };

describe('study summary on a hand-made study', () => {
  let summary: StudySummary;
  let runs: BuiltStudy;
  let path: string;

  beforeAll(async () => {
    path = join(tempDir(), 'study.duckdb');
    const db = await StudyDb.open(path);
    runs = await buildStudy(db);
    await db.close();
    summary = (await loadReport([path], BOOT)).summary;
  });

  const result = (model: string, variant: string) => {
    const r = summary.results.find((x) => x.model_hash === model && x.variant === variant);
    if (r === undefined) throw new Error(`no result for ${model} ${variant}`);
    return r;
  };

  it('lists the runs with their sample counts and metadata', () => {
    expect(summary.study.dbs).toEqual([{ label: 'study', db: path, schema_version: SCHEMA_VERSION }]);
    expect(summary.study.runs.map((r) => [r.run_id, r.variant, r.model_hash, r.n_done, r.n_error])).toEqual([
      [runs.flex, 'flexidepth', 'model-1', 2, 1],
      [runs.full, 'full', 'model-1', 3, 0],
      [runs.otherModelFlex, 'flexidepth', 'model-2', 1, 0],
    ]);
    const flex = summary.study.runs[0]!;
    expect(flex).toMatchObject({
      suite: 'arith',
      suite_config_hash: 'cfg-1',
      seed: 0,
      limit: null,
      threshold: 0.5,
      layers_total: 6,
      routing_layers: [3, 4, 5],
    });
    expect(flex).toMatchObject({
      git_revision: 'abc123',
      execution_provider: 'cpu',
      threads: { workers: 1, intra_op: 1 },
      started_at: '2025-01-02T03:04:05.000Z',
    });
    expect(flex.generation).toEqual({ max_new_tokens: 8, temperature: 0, stop: ['\n'] });
    expect(flex.ended_at).not.toBeNull();
    expect(summary.study.runs[2]!.ended_at).toBeNull();
  });

  it('uses the producing-position depth per generated token', () => {
    // doc a: generated positions 3,4,5 were produced at 2,3,4 (layers 4,5,3); doc b: 2,3 at 1,2 (6,3).
    // The same-position reading would give (5+3+6+3+6)/5 = 4.6 and 8/15 routed.
    const flex = result('model-1', 'flexidepth');
    expect(flex.layers_used_mean).toBeCloseTo(21 / 5, 12);
    expect(flex.routed_usage).toBeCloseTo(6 / 15, 12);
    expect(flex.layers_total).toBe(6);
    expect(flex.generated_tokens).toBe(5);
    const other = result('model-2', 'flexidepth');
    expect(other.layers_used_mean).toBeCloseTo((3 + 6) / 2, 12);
    expect(other.routed_usage).toBeCloseTo(3 / 6, 12);
  });

  it('reports the full depth and no routed usage for the full variant', () => {
    const full = result('model-1', 'full');
    expect(full.layers_used_mean).toBe(6);
    expect(full.routed_usage).toBeNull();
  });

  it('averages numeric metrics over done samples only, with seeded bootstrap intervals', () => {
    const flex = result('model-1', 'flexidepth');
    expect(flex.n).toBe(2);
    expect(flex.n_error).toBe(1);
    expect(Object.keys(flex.metrics)).toEqual(['accuracy', 'rouge']);
    expect(flex.metrics.accuracy).toEqual({ ...bootstrapMean([1, 0], { samples: 500, seed: 7 }), n: 2 });
    expect(flex.metrics.rouge!.mean).toBeCloseTo(0.375, 12);
    const full = result('model-1', 'full');
    expect(full.metrics.accuracy!.mean).toBeCloseTo(2 / 3, 12);
    expect(full.metrics.rouge).toEqual({ ...bootstrapMean([1, 0.5, 0], { samples: 500, seed: 7 }), n: 3 });
  });

  it('computes tokens per second from the done samples', () => {
    const flex = result('model-1', 'flexidepth');
    expect(flex.prefill_tokens_per_s).toBeCloseTo((3 + 2) / 0.02, 9);
    expect(flex.decode_tokens_per_s).toBeCloseTo((3 + 2) / 0.05, 9);
    const full = result('model-1', 'full');
    expect(full.prefill_tokens_per_s).toBeCloseTo(6 / 0.06, 9);
    expect(full.decode_tokens_per_s).toBeCloseTo(6 / 0.12, 9);
  });

  it('pairs flexidepth with full by document, within one model', () => {
    expect(summary.paired.map((p) => [p.model_hash, p.suite, p.metric, p.n])).toEqual([
      ['model-1', 'arith', 'accuracy', 2],
      ['model-1', 'arith', 'rouge', 2],
    ]);
    const [accuracy, rouge] = summary.paired;
    expect(accuracy).toMatchObject({ flexidepth_run_id: runs.flex, full_run_id: runs.full, flexidepth_mean: 0.5, full_mean: 1, retention: 0.5 });
    expect(accuracy!.flexidepth_minus_full).toEqual(pairedBootstrap([1, 0], [1, 1], { samples: 500, seed: 7 }).difference);
    expect(accuracy!.flexidepth_minus_full.mean).toBeCloseTo(-0.5, 12);
    expect(rouge!.flexidepth_minus_full.mean).toBeCloseTo(-0.375, 12);
    expect(rouge!.retention).toBeCloseTo(0.5, 12);
  });

  it('gives null retention when the full mean is 0', async () => {
    const path = join(tempDir(), 'zero.duckdb');
    const db = await StudyDb.open(path);
    try {
      const { runId: f } = await db.ensureRun({ ...identityZero, variant: 'flexidepth' }, metaZero);
      const { runId: b } = await db.ensureRun({ ...identityZero, variant: 'full' }, metaZero);
      await db.writeSample(f, { ...sampleZero, metrics: { em: 1 } }, []);
      await db.writeSample(b, { ...sampleZero, metrics: { em: 0 } }, []);
      await db.close();
      const s = (await loadReport([path], BOOT)).summary;
      expect(s.paired).toHaveLength(1);
      expect(s.paired[0]!.retention).toBeNull();
      // No tokens stored: no generated tokens to average over.
      expect(s.results.find((r) => r.variant === 'flexidepth')!.layers_used_mean).toBeNull();
    } finally {
      await db.close();
    }
  });
});

const identityZero = { modelHash: 'm', variant: 'full' as const, suite: 's', suiteConfigHash: 'c', seed: 1, limit: 1, threshold: 0.5, generation: {} };
const metaZero = {
  modelDir: 'm',
  layersTotal: 4,
  routingLayers: [2, 3],
  suiteConfig: null,
  gitRevision: null,
  packageVersions: {},
  hardware: {},
  executionProvider: 'cpu',
  threads: {},
  startedAt: '2025-01-01T00:00:00Z',
};
const sampleZero = {
  docId: 'x',
  docIndex: 0,
  prompt: 'p',
  output: 'o',
  reference: 'r',
  metrics: {},
  promptTokens: 1,
  truncatedTokens: 0,
  generatedTokens: 1,
  prefillMs: 0,
  decodeMs: 0,
  stopReason: 'eos',
  status: 'done' as const,
  error: null,
};
