/**
 * A hand-made study with the comparator variants, for the Table 1 tests: a 6-layer model (layers
 * 3-5 routed), suites alpha (number scorer) and beta (copy scorer), each run as full, flexidepth at
 * 0.3 and 0.6, and static and random matched to both thresholds. Every document has one prompt
 * position and two generated ones, so its generated tokens' depths are those of positions 0 and 1
 * (the producing positions); the expected numbers are worked out in report-comparators.test.ts.
 */
import type { Variant } from '../src/model/variants.ts';
import type { RunComparator } from '../src/store/run-comparator.ts';
import { runIdOf } from '../src/store/run-identity.ts';
import type { StudyDb, TokenRecord } from '../src/store/study-db.ts';
import { fullTokens, identity, metadata, sample } from './store-fixtures.ts';

export const THRESHOLDS = [0.3, 0.6] as const;
export const DOCS = ['d1', 'd2', 'd3', 'd4'] as const;

type Mask = [number, number, number];

interface RunSpec {
  variant: Variant;
  threshold: number;
  /** Routed masks of the producing positions 0 and 1 (the last position's is [0, 0, 0]); none for full. */
  masks: [Mask, Mask] | null;
  /** Per suite, per document (DOCS order) the scorer's main metric; a missing entry is a document the run did not do. */
  main: Record<string, (number | undefined)[]>;
}

/** Layers used per generated token = 3 + ones of the producing masks, averaged. */
export const RUNS: readonly RunSpec[] = [
  // Inserted before the runs they are matched to, so Table 1's order is the table's own, not insertion order.
  {
    variant: 'random',
    threshold: 0.6,
    masks: [
      [1, 0, 1],
      [0, 0, 0],
    ],
    main: { alpha: [1, 0, 0, 0], beta: [1, 0, 0, 0] },
  },
  {
    variant: 'static',
    threshold: 0.6,
    masks: [
      [1, 0, 0],
      [1, 0, 0],
    ],
    main: { alpha: [0, 0, 0, undefined], beta: [0, 0, 0, 0] },
  },
  { variant: 'full', threshold: 0.3, masks: null, main: { alpha: [1, 1, 1, 1], beta: [0, 0, 0, 0] } },
  {
    variant: 'flexidepth',
    threshold: 0.6,
    masks: [
      [1, 0, 0],
      [1, 0, 0],
    ],
    main: { alpha: [1, 1, 0, 0], beta: [1, 0, 0, 0] },
  },
  {
    variant: 'flexidepth',
    threshold: 0.3,
    masks: [
      [1, 1, 0],
      [1, 1, 0],
    ],
    main: { alpha: [1, 1, 1, 0], beta: [1, 1, 0, 0] },
  },
  {
    variant: 'static',
    threshold: 0.3,
    masks: [
      [1, 1, 0],
      [1, 1, 0],
    ],
    main: { alpha: [1, 0, 0, 0], beta: [1, 0, 0, 0] },
  },
  {
    variant: 'random',
    threshold: 0.3,
    masks: [
      [1, 1, 1],
      [0, 1, 1],
    ],
    main: { alpha: [1, 1, 0, 0], beta: [0, 0, 0, 0] },
  },
];

/** Suite configs as the runner stores them: the scorer names the main metric (copy: exact_match before edit_similarity). */
const SUITES = {
  alpha: { name: 'alpha', scorer: { name: 'number' } },
  beta: { name: 'beta', scorer: { name: 'copy' } },
} as const;

const REMOVED: Record<number, number[]> = { 0.3: [5], 0.6: [4, 5] };

function routedTokens(masks: [Mask, Mask], withGates: boolean): TokenRecord[] {
  return [...masks, [0, 0, 0] as Mask].map((m, position) => ({
    position,
    tokenId: 100 + position,
    text: `t${position}`,
    bytes: new TextEncoder().encode(`t${position}`),
    phase: position === 0 ? ('prompt' as const) : ('generated' as const),
    layersUsed: 3 + m.filter((x) => x === 1).length,
    mask: m.map((x) => x === 1),
    gates: withGates ? m.map((x) => (x === 1 ? 0.8 : 0.1)) : [],
  }));
}

function comparatorOf(spec: RunSpec, flexRunId: string): RunComparator | undefined {
  if (spec.variant === 'static') {
    return {
      kind: 'static',
      matched_threshold: spec.threshold,
      flexidepth_skips_mean: (REMOVED[spec.threshold] as number[]).length,
      removed_layers: REMOVED[spec.threshold] as number[],
      block_influence: [
        { layer: 3, value: 0.3 },
        { layer: 4, value: 0.2 },
        { layer: 5, value: 0.1 },
      ],
      calibration: { source: 'wikitext', windows: 4, tokens: 512 },
    };
  }
  if (spec.variant === 'random') {
    return {
      kind: 'random',
      matched_threshold: spec.threshold,
      matched_run_id: flexRunId,
      seed: 0,
      rates: { prompt: [0.5, 0.5, 0.5], producing: [0.5, 0.5, 0.5] },
    };
  }
  return undefined;
}

export type ComparatorRunIds = Record<string, Record<string, string>>;

const runKey = (variant: Variant, threshold: number): string => (variant === 'full' ? 'full' : `${variant}@${threshold}`);

/**
 * Writes the study; with `comparators: false`, only the full and flexidepth runs (the same run
 * ids), to compare against a study without comparator runs. Returns run ids by suite, then by
 * `full` / `variant@threshold`.
 */
export async function buildComparatorStudy(db: StudyDb, opts: { comparators?: boolean } = {}): Promise<ComparatorRunIds> {
  const ids: ComparatorRunIds = {};
  for (const [suite, suiteConfig] of Object.entries(SUITES)) {
    const byKey: Record<string, string> = (ids[suite] = {});
    const specs = RUNS.filter((r) => opts.comparators !== false || r.variant === 'full' || r.variant === 'flexidepth');
    const flexId = (threshold: number): string => runIdOf(identity({ suite, variant: 'flexidepth', threshold, suiteConfigHash: `cfg-${suite}` }));
    for (const [i, spec] of specs.entries()) {
      const comparator = comparatorOf(spec, flexId(spec.threshold));
      const { runId } = await db.ensureRun(
        identity({
          suite,
          variant: spec.variant,
          threshold: spec.threshold,
          suiteConfigHash: `cfg-${suite}`,
          ...(comparator === undefined ? {} : { comparator: { kind: comparator.kind } }),
        }),
        metadata({
          routingLayers: spec.variant === 'full' ? [] : [3, 4, 5],
          suiteConfig,
          startedAt: `2025-01-02T03:04:${String(10 + i).padStart(2, '0')}.000Z`,
          ...(comparator === undefined ? {} : { comparator }),
        }),
      );
      byKey[runKey(spec.variant, spec.threshold)] = runId;
      for (const [d, doc] of DOCS.entries()) {
        const main = spec.main[suite]?.[d];
        if (main === undefined) continue;
        // Copy's second metric, opposite to the main one, so a table on the wrong metric shows other numbers.
        const metrics: Record<string, number> = suite === 'beta' ? { exact_match: main, edit_similarity: 1 - main / 2 } : { exact_match: main };
        const tokens = spec.masks === null ? fullTokens(1, 2) : routedTokens(spec.masks, spec.variant !== 'static');
        await db.writeSample(runId, sample(doc, { docIndex: d, metrics, promptTokens: 1, generatedTokens: 2 }), tokens);
      }
      await db.finishRun(runId);
    }
  }
  return ids;
}
