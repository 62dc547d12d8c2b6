/**
 * A study whose stored strings are hostile, as a study handed over for `merge` can be: suite names,
 * model hashes and folders, metric names, a git revision, a dataset name and an error message are
 * whatever the caller gives (markup, Markdown syntax, terminal escape sequences). Each suite is run
 * by each model as full, flexidepth@0.5 and static@0.5, so every section of the report and the
 * card (paired differences, Table 1, layer usage, answer parts, failed samples) shows them.
 */
import type { StudyDb, TokenRecord } from '../src/store/study-db.ts';
import { fullTokens, identity, metadata, sample, tokensFromMasks } from './store-fixtures.ts';

export interface HostileStrings {
  suites: string[];
  /** Two or more, so the report names each series by its model too. */
  models: { hash: string; dir: string }[];
  metric: string;
  gitRevision: string;
  /** The dataset a suite config names as its source: the card's "items from" column. */
  dataset: string;
  /** The reason of a failed sample. */
  error: string;
}

/** A static run's rows: routed layer 5 removed for every token, no gates (no router runs). */
function staticTokens(): TokenRecord[] {
  return tokensFromMasks([[1, 1, 0]], [[1, 1, 0]]).map((t) => ({ ...t, gates: [] }));
}

const STATIC_COMPARATOR = {
  kind: 'static' as const,
  matched_threshold: 0.5,
  flexidepth_skips_mean: 1,
  removed_layers: [5],
  block_influence: [
    { layer: 3, value: 0.3 },
    { layer: 4, value: 0.2 },
    { layer: 5, value: 0.1 },
  ],
  calibration: { source: 'wikitext', windows: 4, tokens: 512 },
};

export async function buildHostileStudy(db: StudyDb, s: HostileStrings): Promise<void> {
  for (const suite of s.suites) {
    const suiteConfig = { name: suite, scorer: { name: 'number' }, source: { kind: 'dataset', dataset: s.dataset, split: s.dataset } };
    for (const model of s.models) {
      for (const variant of ['full', 'flexidepth', 'static'] as const) {
        const { runId } = await db.ensureRun(
          identity({
            suite,
            variant,
            modelHash: model.hash,
            suiteConfigHash: `cfg-${suite}`,
            ...(variant === 'static' ? { comparator: { kind: 'static' } } : {}),
          }),
          metadata({
            modelDir: model.dir,
            routingLayers: variant === 'full' ? [] : [3, 4, 5],
            suiteConfig,
            gitRevision: s.gitRevision,
            ...(variant === 'static' ? { comparator: STATIC_COMPARATOR } : {}),
          }),
        );
        for (const [i, doc] of ['d1', 'd2'].entries()) {
          const tokens = variant === 'full' ? fullTokens(1, 1) : variant === 'static' ? staticTokens() : tokensFromMasks([[1, 0, 1]], [[0, 1, 0]]);
          const metrics = { exact_match: i, [s.metric]: 1 - i };
          await db.writeSample(runId, sample(doc, { docIndex: i, metrics, promptTokens: 1, generatedTokens: 1 }), tokens);
        }
        if (variant === 'flexidepth') {
          await db.writeSample(runId, sample('d3', { docIndex: 2, status: 'error', error: s.error, metrics: {} }), []);
        }
        await db.finishRun(runId);
      }
    }
  }
}
