/**
 * runStudy's options for the tests that call it directly: a quiet study on one worker and thread,
 * fp32, the default threshold, every item unless `limit` is given. Each test names only what it varies.
 */
import { QUANT_BLOCK_SIZE } from '../src/model/graph-builder.ts';
import { DEFAULT_THRESHOLD } from '../src/model/variants.ts';
import type { StudyExecution, StudyOptions, StudyOutput, StudyPlan } from '../harness/runner/study-options.ts';

const quiet = { write: () => true } as unknown as NodeJS.WritableStream;

export interface StudyOverrides {
  plan?: Partial<StudyPlan>;
  output?: Partial<StudyOutput>;
  execution?: Partial<StudyExecution>;
}

export function testStudyOptions(
  base: Pick<StudyPlan, 'modelDir' | 'suites' | 'dataDir'> & Pick<StudyOutput, 'dbPath'>,
  over: StudyOverrides = {},
): StudyOptions {
  return {
    plan: {
      modelDir: base.modelDir,
      suites: base.suites,
      includePaths: [],
      dataDir: base.dataDir,
      variants: ['flexidepth', 'full'],
      thresholds: [DEFAULT_THRESHOLD],
      precisions: ['fp32'],
      blockSize: QUANT_BLOCK_SIZE,
      limit: null,
      seed: 0,
      maxLength: null,
      staticLayers: null,
      overrides: {},
      ...over.plan,
    },
    output: { dbPath: base.dbPath, logSamplesPath: null, log: quiet, ...over.output },
    execution: { workers: 1, intraOpThreads: 1, executionProvider: 'cpu', batch: 1, shard: null, ...over.execution },
  };
}
