// The runner's pure parts, without workers or a database: which runs a study registers, the order
// jobs start in, what a finished generation is stored as, the --log-samples line, and the stats.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobList, storedSampleCount } from '../harness/runner/job-list.ts';
import { planSuite, type PlannedSuite } from '../harness/runner/plan.ts';
import { runIdentity, runMetadata, type RunPlan, type StudySettings } from '../harness/runner/register-runs.ts';
import { sampleLogLine } from '../harness/runner/sample-log.ts';
import { errorSample, sampleRows } from '../harness/runner/sample-rows.ts';
import { studyStats } from '../harness/runner/study-stats.ts';
import type { Generation, PositionRecord } from '../src/model/generate.ts';
import type { Variant } from '../src/model/variants.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const model = join(mkdtempSync(join(tmpdir(), 'fb-jobs-')), 'm');
writeRandomCheckpoint(model, { routingLayers: [2, 3] });
const tok = TextTokenizer.load(model);
const plan = (name: string, limit: number): PlannedSuite => planSuite(name, tok, { dataDir, limit, seed: 0, maxLength: 256 });
const addition = plan('addition', 3);
const repetition = plan('repetition', 2);

const runOf = (suite: PlannedSuite, variant: Variant, done: string[] = []): RunPlan => ({
  suite,
  variant,
  runId: `${suite.spec.name}-${variant}`,
  threshold: 0.5,
  graph: { variant },
  routing: { kind: 'threshold', threshold: 0.5 },
  done: new Set(done),
});

const settings: StudySettings = {
  modelDir: model,
  checkpoint: { contentHash: 'hash', config: { numLayers: 4, routingLayers: [2, 3] } as StudySettings['checkpoint']['config'] },
  seed: 7,
  limit: 3,
  precision: 'fp32',
  blockSize: 32,
  threshold: 0.3,
  maxLength: null,
  executionProvider: 'cpu',
  workers: 2,
  intraOpThreads: 1,
  metadata: { gitRevision: 'rev', packageVersions: { flexibench: '0.1.0' }, hardware: { cores: 2 } },
};

/** A generation with the given depth at each position, prompt first. */
function generationOf(promptIds: number[], generatedIds: number[], depths: number[], stopString: string | null = null): Generation {
  const ids = [...promptIds, ...generatedIds];
  const positions: PositionRecord[] = ids.map((id, i) => ({
    id,
    phase: i < promptIds.length ? 'prompt' : 'generated',
    gates: [],
    mask: [],
    layersUsed: depths[i]!,
  }));
  return {
    promptIds,
    generatedIds,
    positions,
    stopReason: stopString === null ? 'eos' : 'stop_string',
    stopString,
    timing: { prefillMs: 2, decodeMs: 3, prefillTokens: promptIds.length, decodeTokens: generatedIds.length },
  };
}

describe('run registration', () => {
  it('the full variant has a fixed threshold, so --threshold does not make it a new run', () => {
    const full = runIdentity(addition, 'full', settings);
    expect(full.threshold).toBe(0.5);
    expect(runIdentity(addition, 'full', { ...settings, threshold: 0.9 })).toEqual(full);
    expect(runIdentity(addition, 'flexidepth', settings).threshold).toBe(0.3);
  });

  it('an explicit --max-length is part of the identity; the model context is not', () => {
    expect(runIdentity(addition, 'full', settings).generation).not.toHaveProperty('max_length');
    expect(runIdentity(addition, 'full', { ...settings, maxLength: 128 }).generation).toMatchObject({ max_length: 128, max_new_tokens: 8 });
  });

  it('metadata is the study metadata given, routing layers only for flexidepth', () => {
    const meta = runMetadata(addition, 'full', settings, '2024-01-01T00:00:00Z');
    expect(meta).toMatchObject({ gitRevision: 'rev', hardware: { cores: 2 }, routingLayers: [], layersTotal: 4, threads: { workers: 2, intra_op: 1 } });
    expect(meta.suiteConfig).not.toHaveProperty('file');
    expect(runMetadata(addition, 'flexidepth', settings, '2024-01-01T00:00:00Z').routingLayers).toEqual([2, 3]);
  });
});

describe('jobList', () => {
  const ids = (s: PlannedSuite): string[] => s.docs.map((d) => d.docId);

  it('interleaves the variants doc by doc, suite by suite, and skips docs a run has', () => {
    const [a0, a1, a2] = ids(addition);
    const [r0, r1] = ids(repetition);
    const runs = [runOf(addition, 'full'), runOf(addition, 'flexidepth', [a1!]), runOf(repetition, 'full', [r0!]), runOf(repetition, 'flexidepth')];
    const order = jobList([addition, repetition], runs).map((j) => `${j.run.runId} ${j.doc.docId}`);
    expect(order).toEqual([
      `addition-full ${a0}`,
      `addition-flexidepth ${a0}`,
      `addition-full ${a1}`,
      `addition-full ${a2}`,
      `addition-flexidepth ${a2}`,
      `repetition-flexidepth ${r0}`,
      `repetition-full ${r1}`,
      `repetition-flexidepth ${r1}`,
    ]);
    expect(storedSampleCount(runs)).toBe(2);
  });

  it('for batched decoding, groups the runs by graph and threshold across suites, suite by suite within a group', () => {
    const [a0, a1, a2] = ids(addition);
    const [r0, r1] = ids(repetition);
    const at = (run: RunPlan, threshold: number): RunPlan => ({ ...run, runId: `${run.runId}@${threshold}`, routing: { kind: 'threshold', threshold } });
    const runs = [
      runOf(addition, 'full'),
      at(runOf(addition, 'flexidepth', [a1!]), 0.5),
      at(runOf(addition, 'flexidepth'), 0.7),
      runOf(repetition, 'full', [r0!]),
      at(runOf(repetition, 'flexidepth'), 0.5),
    ];
    const order = jobList([addition, repetition], runs, 'batch').map((j) => `${j.run.runId} ${j.doc.docId}`);
    expect(order).toEqual([
      `addition-full ${a0}`,
      `addition-full ${a1}`,
      `addition-full ${a2}`,
      `repetition-full ${r1}`,
      `addition-flexidepth@0.5 ${a0}`,
      `addition-flexidepth@0.5 ${a2}`,
      `repetition-flexidepth@0.5 ${r0}`,
      `repetition-flexidepth@0.5 ${r1}`,
      `addition-flexidepth@0.7 ${a0}`,
      `addition-flexidepth@0.7 ${a1}`,
      `addition-flexidepth@0.7 ${a2}`,
    ]);
  });

  it('a finished study has no jobs', () => {
    const runs = [runOf(addition, 'full', ids(addition)), runOf(addition, 'flexidepth', ids(addition))];
    expect(jobList([addition], runs)).toEqual([]);
    expect(storedSampleCount(runs)).toBe(6);
  });
});

describe('sampleRows', () => {
  const doc = addition.docs[0]!;
  const reference = doc.reference;

  it('stores the output cut before the stop string, scored, with one row per position that reproduces it', () => {
    // The test tokenizer has no newline, so a stop string it can spell stands in for the suite's.
    const generated = tok.encode(`${reference};`, false);
    const depths = [...doc.promptIds.map(() => 4), ...generated.map((_, i) => 2 + (i % 3))];
    const gen = generationOf(doc.promptIds, generated, depths, ';');
    const { sample, tokens } = sampleRows(addition, doc, gen, tok, new Map());
    expect(sample).toMatchObject({
      output: reference,
      status: 'done',
      error: null,
      promptTokens: doc.promptIds.length,
      generatedTokens: generated.length,
      stopReason: 'stop_string',
    });
    expect(sample.metrics['exact_match']).toBe(1);
    expect(tokens).toHaveLength(doc.promptIds.length + generated.length);
    expect(tokens.map((t) => t.layersUsed)).toEqual(depths);
    const generatedText = tokens
      .filter((t) => t.phase === 'generated')
      .map((t) => t.text)
      .join('');
    expect(generatedText).toBe(`${reference};`);
    expect(
      tokens
        .filter((t) => t.phase === 'prompt')
        .map((t) => t.text)
        .join(''),
    ).toBe(tok.decode(doc.promptIds, false));
  });

  it('special tokens keep their row but are not output text', () => {
    const generated = [...tok.encode(reference, false), 2];
    const gen = generationOf(
      doc.promptIds,
      generated,
      [...doc.promptIds, ...generated].map(() => 4),
    );
    const { sample, tokens } = sampleRows(addition, doc, gen, tok, new Map());
    expect(sample.output).toBe(reference);
    expect(tokens.at(-1)).toMatchObject({ tokenId: 2, phase: 'generated' });
  });

  it('a failed sample keeps its prompt and reason, and no metrics', () => {
    expect(errorSample(doc, 'worker said no')).toMatchObject({
      status: 'error',
      error: 'worker said no',
      output: '',
      metrics: {},
      generatedTokens: 0,
      promptTokens: doc.promptIds.length,
    });
  });
});

describe('sampleLogLine', () => {
  const doc = addition.docs[1]!;
  const run = runOf(addition, 'flexidepth');

  it('layers_used_mean is over generated tokens at their producing positions', () => {
    // Prompt depths 9 except the last prompt position (3); generated tokens at 5, 7, and 100 for the
    // last one, whose pass produced nothing: producing depths are 3, 5, 7.
    const generated = tok.encode('12;', false);
    const depths = [...doc.promptIds.slice(0, -1).map(() => 9), 3, 5, 7, 100];
    const gen = generationOf(doc.promptIds, generated, depths, ';');
    const line = sampleLogLine(run, sampleRows(addition, doc, gen, tok, new Map()).sample, gen);
    expect(line.layers_used_mean).toBe(5);
    expect(line).toMatchObject({
      suite: 'addition',
      variant: 'flexidepth',
      threshold: 0.5,
      run_id: 'addition-flexidepth',
      doc_id: doc.docId,
      doc_index: doc.index,
      output: '12',
      reference: doc.reference,
      status: 'done',
      error: null,
      generated_tokens: 3,
    });
    expect(JSON.parse(JSON.stringify(line))).toEqual(line);
  });

  it('a failed sample has no depth', () => {
    const line = sampleLogLine(run, errorSample(doc, 'too long'), null);
    expect(line).toMatchObject({ status: 'error', error: 'too long', layers_used_mean: null, metrics: {} });
  });
});

describe('studyStats', () => {
  it('overhead is the share of worker time outside session.run', () => {
    const stats = studyStats({ samplesWritten: 4, samplesFailed: 1, sessionRunMs: 1500 }, 3, { wallMs: 1000, workers: 2 });
    expect(stats).toEqual({ samplesWritten: 4, samplesFailed: 1, samplesSkipped: 3, sessionRunMs: 1500, wallMs: 1000, overheadShare: 0.25 });
  });

  it('nothing run: no overhead', () => {
    expect(studyStats({ samplesWritten: 0, samplesFailed: 0, sessionRunMs: 0 }, 6, { wallMs: 5, workers: 0 }).overheadShare).toBe(0);
  });
});
