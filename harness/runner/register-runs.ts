/**
 * One run per suite × variant: its identity (what makes its numbers distinct, hashed into the run
 * id) and its metadata (how it was produced), registered in the study, with the docs it already
 * has so a rerun resumes.
 */
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import type { Variant } from '../../src/model/graph-builder.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';
import type { RunIdentity, RunMetadata, StudyDb } from '../../src/store/study-db.ts';
import type { StudyMetadata } from './metadata.ts';
import { specContent, type PlannedSuite } from './plan.ts';

export interface RunPlan {
  suite: PlannedSuite;
  variant: Variant;
  runId: string;
  /** The threshold stored with the run (0.5 for full, which has no routers to apply it to). */
  threshold: number;
  /** Docs whose sample is already stored as done. */
  done: Set<string>;
}

/** What every run of a study shares. */
export interface StudySettings {
  modelDir: string;
  checkpoint: Pick<Checkpoint, 'contentHash' | 'config'>;
  seed: number;
  limit: number | null;
  threshold: number;
  /** --max-length as given; null when the model's context is used. */
  maxLength: number | null;
  executionProvider: ExecutionProvider;
  workers: number;
  intraOpThreads: number;
  metadata: StudyMetadata;
}

/** The full variant ignores the threshold; a fixed value keeps its run id independent of --threshold. */
const FULL_THRESHOLD = 0.5;

export function runIdentity(suite: PlannedSuite, variant: Variant, s: StudySettings): RunIdentity {
  return {
    modelHash: s.checkpoint.contentHash,
    variant,
    suite: suite.spec.name,
    suiteConfigHash: suite.configHash,
    seed: s.seed,
    limit: s.limit,
    threshold: variant === 'flexidepth' ? s.threshold : FULL_THRESHOLD,
    // An explicit --max-length changes prompts, so it makes another run; the default (the model's context) does not.
    generation: { ...suite.spec.generation, ...(s.maxLength !== null ? { max_length: s.maxLength } : {}) },
  };
}

export function runMetadata(suite: PlannedSuite, variant: Variant, s: StudySettings, startedAt: string): RunMetadata {
  return {
    modelDir: s.modelDir,
    layersTotal: s.checkpoint.config.numLayers,
    routingLayers: variant === 'flexidepth' ? s.checkpoint.config.routingLayers : [],
    suiteConfig: specContent(suite.spec),
    ...s.metadata,
    executionProvider: s.executionProvider,
    threads: { workers: s.workers, intra_op: s.intraOpThreads },
    startedAt,
  };
}

/**
 * Registers (or finds again) every suite × variant run, in suite order, then variant order; flexidepth
 * once per threshold of a sweep (ascending, as given), full once. Without `thresholds`, s.threshold alone.
 */
export async function registerRuns(
  db: StudyDb,
  suites: readonly PlannedSuite[],
  variants: readonly Variant[],
  s: StudySettings,
  thresholds: readonly number[] = [s.threshold],
): Promise<RunPlan[]> {
  const runs: RunPlan[] = [];
  for (const suite of suites) {
    for (const variant of variants) {
      for (const threshold of variant === 'flexidepth' ? thresholds : [s.threshold]) {
        const settings = { ...s, threshold };
        const identity = runIdentity(suite, variant, settings);
        const { runId } = await db.ensureRun(identity, runMetadata(suite, variant, settings, new Date().toISOString()));
        runs.push({ suite, variant, runId, threshold: identity.threshold, done: await db.completedDocIds(runId) });
      }
    }
  }
  return runs;
}
