/**
 * The comparator runs of a study (docs/method.md, "Comparators"), planned after its FlexiDepth runs
 * are stored, because each is matched to what FlexiDepth did at the same threshold:
 * - `static` removes, for every token, the k routed layers of least Block Influence, k being the
 *   rounded mean number of routed layers FlexiDepth skipped per generated token over the study's
 *   suites at that threshold (or --static-layers);
 * - `random` draws each routed decision at the rate FlexiDepth ran that layer, per suite, where it
 *   reads the prompt and where it produces the answer (src/model/routing.ts).
 * Each precision of the study gets its own comparators, matched to FlexiDepth at that precision
 * (Block Influence, a property of the model, is measured once, in float32). A comparator that has
 * nothing to match (FlexiDepth stored no tokens; k rounds to 0) is left out with a line saying why.
 */
import { loadCalibrationPassages, CALIBRATION_SOURCE } from '../../datasets/calibration.ts';
import { leastInfluential, measureBlockInfluence, type LayerInfluence } from '../../src/model/block-influence.ts';
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import { DecoderSession } from '../../src/model/session.ts';
import { flexidepthSkipsMean, routedUsageByRateSet } from '../../src/store/comparator-reads.ts';
import type { RandomComparator, StaticComparator } from '../../src/store/run-comparator.ts';
import type { StudyDb } from '../../src/store/study-db.ts';
import type { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import type { PlannedSuite } from './plan.ts';
import { graphAt, registerRun, type RunPlan, type StudySettings } from './register-runs.ts';
import { precisionTag } from './protocol.ts';
import type { WeightPrecision } from '../../src/model/graph-builder.ts';
import type { ComparatorVariant } from '../../src/model/variants.ts';

/** Calibration for Block Influence: windows of held-out text (datasets/calibration.ts). */
const CALIBRATION_WINDOWS = 16;
const CALIBRATION_TOKENS = 128;
/** Characters enough for CALIBRATION_TOKENS tokens: English averages under 5 characters per token in common BPE vocabularies. */
const CALIBRATION_CHARS = 8 * CALIBRATION_TOKENS;

export interface ComparatorPlan {
  variants: readonly ComparatorVariant[];
  thresholds: readonly number[];
  /** The study's precisions: each gets its comparators, matched to FlexiDepth at that precision. */
  precisions: readonly WeightPrecision[];
  /** --static-layers: remove this many routed layers instead of matching FlexiDepth's mean. */
  staticLayers: number | null;
  /** Held-out text for Block Influence (calibrationText); needed when `variants` has static. */
  calibration: readonly string[];
  intraOpThreads: number;
  log: NodeJS.WritableStream;
}

interface StudyContext {
  db: StudyDb;
  ckpt: Checkpoint;
  tok: TextTokenizer;
  suites: readonly PlannedSuite[];
  /** The study's FlexiDepth runs, stored. */
  flexidepth: readonly RunPlan[];
  settings: StudySettings;
}

/** Block Influence of the routed layers on the full model over the calibration windows. */
async function routedBlockInfluence(ckpt: Checkpoint, tok: TextTokenizer, plan: ComparatorPlan): Promise<{ influence: LayerInfluence[]; tokens: number }> {
  const limit = Math.min(CALIBRATION_TOKENS, ckpt.config.maxPositionEmbeddings);
  const windows = plan.calibration.map((text) => tok.encode(text).slice(0, limit));
  const session = await DecoderSession.create(ckpt, { variant: 'full', hiddenStates: true, intraOpThreads: plan.intraOpThreads });
  try {
    const influence = await measureBlockInfluence(session, windows, ckpt.config.routingLayers);
    return { influence, tokens: windows.reduce((n, w) => n + w.length, 0) };
  } finally {
    await session.release();
  }
}

/** The study's precisions, each with how its runs are labelled in the lines written (' int8', or '' for fp32). */
function precisionsOf(x: StudyContext, plan: ComparatorPlan): { precision: WeightPrecision; label: string }[] {
  return plan.precisions.map((precision) => {
    const tag = precisionTag(graphAt({ variant: 'static' }, { ...x.settings, precision }));
    return { precision, label: tag === '' ? '' : ` ${tag}` };
  });
}

async function staticRuns(x: StudyContext, plan: ComparatorPlan): Promise<RunPlan[]> {
  const runs: RunPlan[] = [];
  const measured = await routedBlockInfluence(x.ckpt, x.tok, plan);
  for (const { precision, label } of precisionsOf(x, plan)) {
    const flexidepth = x.flexidepth.filter((r) => (r.graph.precision ?? 'fp32') === precision);
    runs.push(...(await staticRunsAt({ ...x, flexidepth, settings: { ...x.settings, precision } }, plan, measured, label)));
  }
  return runs;
}

/** static at each threshold, for FlexiDepth runs of one precision (`label` names it in the lines written). */
async function staticRunsAt(
  x: StudyContext,
  plan: ComparatorPlan,
  measured: { influence: LayerInfluence[]; tokens: number },
  label: string,
): Promise<RunPlan[]> {
  const routed = x.ckpt.config.routingLayers;
  const runs: RunPlan[] = [];
  for (const threshold of plan.thresholds) {
    const flexRuns = x.flexidepth.filter((r) => r.threshold === threshold).map((r) => r.runId);
    const skips = plan.staticLayers === null ? await x.db.read((conn) => flexidepthSkipsMean(conn, flexRuns)) : null;
    if (skips !== null && skips.mean === null) {
      plan.log.write(`run: static@${threshold}${label} left out: FlexiDepth stored no generated tokens at threshold ${threshold} to match\n`);
      continue;
    }
    const k = plan.staticLayers ?? Math.round(skips!.mean!);
    if (k === 0) {
      plan.log.write(
        `run: static@${threshold}${label} left out: FlexiDepth skips ${skips!.mean!.toFixed(2)} routed layers per generated token, which rounds to 0\n`,
      );
      continue;
    }
    const removed = leastInfluential(measured.influence, k);
    plan.log.write(
      `run: static@${threshold}${label} removes layers ${removed.join(', ')}: the ${k} routed layers of least Block Influence` +
        (skips === null ? ' (--static-layers)\n' : ` (FlexiDepth skips ${skips.mean!.toFixed(2)} per generated token)\n`),
    );
    const comparator: StaticComparator = {
      kind: 'static',
      matched_threshold: threshold,
      flexidepth_skips_mean: skips?.mean ?? null,
      removed_layers: removed,
      block_influence: measured.influence,
      calibration: { source: CALIBRATION_SOURCE, windows: CALIBRATION_WINDOWS, tokens: measured.tokens },
    };
    const kind = {
      variant: 'static',
      graph: graphAt({ variant: 'static', removedLayers: removed }, x.settings),
      routing: { kind: 'fixed', keep: routed.map((l) => !removed.includes(l)) },
      comparator,
    } as const;
    for (const suite of x.suites) runs.push(await registerRun(x.db, suite, kind, { ...x.settings, threshold }));
  }
  return runs;
}

async function randomRuns(x: StudyContext, plan: ComparatorPlan): Promise<RunPlan[]> {
  const runs: RunPlan[] = [];
  for (const { precision, label } of precisionsOf(x, plan)) {
    const flexidepth = x.flexidepth.filter((r) => (r.graph.precision ?? 'fp32') === precision);
    runs.push(...(await randomRunsAt({ ...x, flexidepth, settings: { ...x.settings, precision } }, plan, label)));
  }
  return runs;
}

/** random at each threshold and suite, for FlexiDepth runs of one precision. */
async function randomRunsAt(x: StudyContext, plan: ComparatorPlan, label: string): Promise<RunPlan[]> {
  const routed = x.ckpt.config.routingLayers.length;
  const runs: RunPlan[] = [];
  for (const threshold of plan.thresholds) {
    for (const suite of x.suites) {
      const matched = x.flexidepth.find((r) => r.suite === suite && r.threshold === threshold);
      const rates = matched === undefined ? null : await x.db.read((conn) => routedUsageByRateSet(conn, matched.runId, routed));
      if (matched === undefined || rates === null) {
        plan.log.write(
          `run: random@${threshold}${label} on ${suite.spec.name} left out: FlexiDepth stored no samples of it at threshold ${threshold} to match\n`,
        );
        continue;
      }
      const comparator: RandomComparator = { kind: 'random', matched_threshold: threshold, matched_run_id: matched.runId, seed: x.settings.seed, rates };
      const kind = {
        variant: 'random',
        graph: graphAt({ variant: 'random' }, x.settings),
        routing: { kind: 'random', seed: x.settings.seed, rates },
        comparator,
      } as const;
      runs.push(await registerRun(x.db, suite, kind, { ...x.settings, threshold }));
    }
  }
  return runs;
}

/** The calibration passages static needs, read (and verified) before the study is touched; none without static. */
export function calibrationText(variants: readonly string[], dataDir: string): string[] {
  return variants.includes('static') ? loadCalibrationPassages(dataDir, CALIBRATION_WINDOWS, CALIBRATION_CHARS) : [];
}

/** Registers (or finds again) the comparator runs, static first, each suite in order. */
export async function registerComparatorRuns(x: StudyContext, plan: ComparatorPlan): Promise<RunPlan[]> {
  return [...(plan.variants.includes('static') ? await staticRuns(x, plan) : []), ...(plan.variants.includes('random') ? await randomRuns(x, plan) : [])];
}
