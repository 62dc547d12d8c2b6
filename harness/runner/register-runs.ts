/**
 * One run per suite × precision × variant (× threshold): its identity (what makes its numbers distinct, hashed
 * into the run id) and its metadata (how it was produced), registered in the study, with the docs
 * it already has so a rerun resumes. Comparator runs (comparators.ts) register through registerRun
 * with what they were matched to.
 */
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import type { GraphSpec, WeightPrecision } from '../../src/model/graph-builder.ts';
import { DEFAULT_THRESHOLD, type ModelVariant, type Variant } from '../../src/model/variants.ts';
import { withPrecision } from '../model-options.ts';
import type { Routing } from '../../src/model/routing.ts';
import type { RunComparator } from '../../src/store/run-comparator.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';
import type { RunIdentity, RunMetadata, StudyDb } from '../../src/store/study-db.ts';
import type { StudyMetadata } from './metadata.ts';
import { specContent, type PlannedSuite } from './plan.ts';

export interface RunPlan {
  suite: PlannedSuite;
  variant: Variant;
  runId: string;
  /** The threshold stored with the run (DEFAULT_THRESHOLD for full, which has no routers to apply it to; a comparator's matched threshold). */
  threshold: number;
  /** What the run's graph is built as. */
  graph: GraphSpec;
  /** How its routed layers decide; a `random` run's seed is the study's, made per document by documentSeed. */
  routing: Routing;
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
  /** The weights' precision of the run being registered (like the threshold, one value per run). */
  precision: WeightPrecision;
  /** The quantization block size of int8 and int4 weights. */
  blockSize: number;
  /** --max-length as given; null when the model's context is used. */
  maxLength: number | null;
  executionProvider: ExecutionProvider;
  workers: number;
  intraOpThreads: number;
  metadata: StudyMetadata;
}

/** The full variant ignores the threshold; a fixed value (the default's) keeps its run id independent of --threshold. */
const FULL_THRESHOLD = DEFAULT_THRESHOLD;

/**
 * What a comparator run computes beyond its variant, in its identity: static's removed layers,
 * random's rates (to 3 decimals, so the id does not hang on float noise).
 */
function comparatorIdentity(c: RunComparator): Record<string, unknown> {
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return c.kind === 'static' ? { removed_layers: c.removed_layers } : { rates: { prompt: c.rates.prompt.map(round), producing: c.rates.producing.map(round) } };
}

export function runIdentity(suite: PlannedSuite, variant: Variant, s: StudySettings, comparator?: RunComparator): RunIdentity {
  return {
    modelHash: s.checkpoint.contentHash,
    variant,
    suite: suite.spec.name,
    suiteConfigHash: suite.configHash,
    seed: s.seed,
    limit: s.limit,
    threshold: variant === 'full' ? FULL_THRESHOLD : s.threshold,
    // An explicit --max-length changes prompts, so it makes another run; the default (the model's context) does not.
    generation: { ...suite.spec.generation, ...(s.maxLength !== null ? { max_length: s.maxLength } : {}) },
    ...(comparator !== undefined ? { comparator: comparatorIdentity(comparator) } : {}),
    ...precisionIdentity(s),
  };
}

/** A run's precision in its identity as its graph has it: nothing for fp32 (its ids predate precisions). */
function precisionIdentity(s: Pick<StudySettings, 'precision' | 'blockSize'>): Pick<RunIdentity, 'precision' | 'block_size'> {
  const { precision, blockSize } = graphAt({ variant: 'full' }, s);
  if (precision === undefined || precision === 'fp32') return {};
  return { precision, ...(blockSize !== undefined ? { block_size: blockSize } : {}) };
}

/** The graph of a run at the settings' precision. */
export function graphAt(spec: GraphSpec, s: Pick<StudySettings, 'precision' | 'blockSize'>): GraphSpec {
  return withPrecision(spec, s.precision, s.blockSize);
}

export function runMetadata(suite: PlannedSuite, variant: Variant, s: StudySettings, startedAt: string): RunMetadata {
  return {
    modelDir: s.modelDir,
    layersTotal: s.checkpoint.config.numLayers,
    routingLayers: variant === 'full' ? [] : s.checkpoint.config.routingLayers,
    suiteConfig: specContent(suite.spec),
    ...s.metadata,
    executionProvider: s.executionProvider,
    threads: { workers: s.workers, intra_op: s.intraOpThreads },
    startedAt,
  };
}

/** How a run is computed, beyond its suite and settings. */
export interface RunKind {
  variant: Variant;
  graph: GraphSpec;
  routing: Routing;
  comparator?: RunComparator;
}

/** Registers (or finds again) one run at `s.threshold`. */
export async function registerRun(db: StudyDb, suite: PlannedSuite, kind: RunKind, s: StudySettings): Promise<RunPlan> {
  const identity = runIdentity(suite, kind.variant, s, kind.comparator);
  const meta = { ...runMetadata(suite, kind.variant, s, new Date().toISOString()), ...(kind.comparator ? { comparator: kind.comparator } : {}) };
  const { runId } = await db.ensureRun(identity, meta);
  const { variant, graph, routing } = kind;
  return { suite, variant, runId, threshold: identity.threshold, graph, routing, done: await db.completedDocIds(runId) };
}

/**
 * Registers (or finds again) every suite × precision × variant run of the model's own variants
 * (full, flexidepth), in suite order, then precision order (as given), then variant order;
 * flexidepth once per threshold of a sweep (ascending, as given), full once. Without `thresholds`,
 * s.threshold alone; without `precisions`, s.precision alone.
 */
export async function registerRuns(
  db: StudyDb,
  suites: readonly PlannedSuite[],
  variants: readonly ModelVariant[],
  s: StudySettings,
  thresholds: readonly number[] = [s.threshold],
  precisions: readonly WeightPrecision[] = [s.precision],
): Promise<RunPlan[]> {
  const runs: RunPlan[] = [];
  for (const suite of suites) {
    for (const precision of precisions) {
      for (const variant of variants) {
        for (const threshold of variant === 'flexidepth' ? thresholds : [s.threshold]) {
          const at = { ...s, threshold, precision };
          const kind = { variant, graph: graphAt({ variant }, at), routing: { kind: 'threshold', threshold } } as const;
          runs.push(await registerRun(db, suite, kind, at));
        }
      }
    }
  }
  return runs;
}
