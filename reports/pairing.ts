/**
 * Which runs of a study are compared document by document, and the paired comparison of their
 * metrics. Two runs compare when they differ only in what the comparison is about: FlexiDepth
 * against full or a comparator (comparisonKey: variant and threshold free), or a lower weight
 * precision against fp32 (precisionCounterpartKey: precision free). The limit is free in both: a run
 * over fewer documents pairs on the documents both have.
 */
import { pairedBootstrap, type BootstrapOptions, type Estimate } from '../src/scoring/bootstrap.ts';
import type { StoredRun } from '../src/store/summary-reads.ts';

const settingsOf = (run: StoredRun): unknown[] => [run.model_hash, run.suite, run.suite_config_hash, run.seed, run.generation];

/**
 * What must be equal for two runs to be compared across variants: everything but the variant, the
 * threshold and the limit. The precision is part of it, so a FlexiDepth run at int8 is compared with
 * full at int8 and never with full at fp32.
 */
export function comparisonKey(run: StoredRun): string {
  return JSON.stringify([...settingsOf(run), run.precision, run.block_size]);
}

/** What a run at a lower precision shares with its fp32 counterpart: everything but the precision (and the limit). */
export function precisionCounterpartKey(run: StoredRun): string {
  return JSON.stringify([...settingsOf(run), run.variant, run.threshold]);
}

/** One metric of two runs, paired on the documents both scored. */
export interface MetricPair {
  metric: string;
  n: number;
  /** Each run's mean over the shared documents, with its interval. */
  a: Estimate;
  b: Estimate;
  /** a − b, resampling the shared documents. */
  difference: Estimate;
}

/** A run's metrics: metric name -> (doc id -> value). */
export type RunMetrics = Map<string, Map<string, number>>;

/** Every metric of run `a` that run `b` also has numeric on at least one shared document, by name. */
export function pairMetrics(a: RunMetrics | undefined, b: RunMetrics | undefined, boot: BootstrapOptions): MetricPair[] {
  const out: MetricPair[] = [];
  for (const name of [...(a?.keys() ?? [])].sort()) {
    const x = a?.get(name) as Map<string, number>;
    const y = b?.get(name);
    if (y === undefined) continue;
    const docs = [...x.keys()].filter((doc) => y.has(doc));
    if (docs.length === 0) continue;
    const p = pairedBootstrap(
      docs.map((doc) => x.get(doc) as number),
      docs.map((doc) => y.get(doc) as number),
      boot,
    );
    out.push({ metric: name, n: docs.length, a: p.a, b: p.b, difference: p.difference });
  }
  return out;
}
