/**
 * Bootstrap confidence intervals with a fixed seed, so the same scores give the same intervals.
 * For two variants scored on the same items, the resampling is paired: each bootstrap replicate
 * draws one set of item indices and uses it for both variants and their difference, which keeps
 * the per-item correlation that makes paired comparisons sharp. Intervals are percentile
 * intervals (linear interpolation between order statistics, as numpy.percentile).
 */
import { SeededRandom } from '../seeded-random.ts';

export interface BootstrapOptions {
  /** Bootstrap replicates; default 10000. */
  samples?: number;
  /** Default 0. */
  seed?: number;
  /** Default 0.95. */
  confidence?: number;
}

export interface Estimate {
  mean: number;
  /** The percentile interval at the requested confidence (named for the default 95%). */
  ci95: [number, number];
}

export interface PairedBootstrap {
  n: number;
  samples: number;
  seed: number;
  a: Estimate;
  b: Estimate;
  /** a - b per item. */
  difference: Estimate;
  /** Share of replicates in which the mean of a - b is > 0 (a one-sided bootstrap measure). */
  share_a_better: number;
}

function percentile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function checkValues(name: string, values: readonly number[]): void {
  if (values.length === 0) throw new Error(`bootstrap: ${name} is empty`);
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`bootstrap: ${name} holds a non-finite value ${v}`);
}

function interval(replicates: Float64Array, confidence: number): [number, number] {
  const sorted = replicates.slice().sort();
  const tail = (1 - confidence) / 2;
  return [percentile(sorted, tail), percentile(sorted, 1 - tail)];
}

/** Paired bootstrap of two variants' per-item scores; `a[i]` and `b[i]` must be the same item. */
export function pairedBootstrap(a: readonly number[], b: readonly number[], options: BootstrapOptions = {}): PairedBootstrap {
  const samples = options.samples ?? 10_000;
  const seed = options.seed ?? 0;
  const confidence = options.confidence ?? 0.95;
  checkValues('a', a);
  checkValues('b', b);
  if (a.length !== b.length) throw new Error(`pairedBootstrap: ${a.length} scores for a but ${b.length} for b`);
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`pairedBootstrap: samples must be a positive integer`);
  const n = a.length;
  const rng = new SeededRandom(seed);
  const meansA = new Float64Array(samples);
  const meansB = new Float64Array(samples);
  const meansD = new Float64Array(samples);
  let aBetter = 0;
  for (let s = 0; s < samples; s++) {
    let sumA = 0;
    let sumB = 0;
    for (let i = 0; i < n; i++) {
      const j = rng.int(0, n - 1);
      sumA += a[j] as number;
      sumB += b[j] as number;
    }
    meansA[s] = sumA / n;
    meansB[s] = sumB / n;
    meansD[s] = (sumA - sumB) / n;
    if (meansD[s]! > 0) aBetter++;
  }
  const diffs = a.map((v, i) => v - (b[i] as number));
  return {
    n,
    samples,
    seed,
    a: { mean: mean(a), ci95: interval(meansA, confidence) },
    b: { mean: mean(b), ci95: interval(meansB, confidence) },
    difference: { mean: mean(diffs), ci95: interval(meansD, confidence) },
    share_a_better: aBetter / samples,
  };
}

/** Bootstrap interval of one variant's mean score. */
export function bootstrapMean(values: readonly number[], options: BootstrapOptions = {}): Estimate {
  return pairedBootstrap(values, values, options).a;
}

/** Per cluster (e.g. per sample), a numerator and a denominator (e.g. layers used summed over its tokens, and its token count). */
export interface Clusters {
  num: readonly number[];
  den: readonly number[];
}

function checkClusters(name: string, c: Clusters): void {
  checkValues(`${name}.num`, c.num);
  checkValues(`${name}.den`, c.den);
  if (c.num.length !== c.den.length) throw new Error(`bootstrap: ${name} has ${c.num.length} numerators but ${c.den.length} denominators`);
  if (c.den.reduce((s, v) => s + v, 0) <= 0) throw new Error(`bootstrap: ${name} has no weight (its denominators sum to 0)`);
}

function pooled(c: Clusters): number {
  return c.num.reduce((s, v) => s + v, 0) / c.den.reduce((s, v) => s + v, 0);
}

/** One bootstrap replicate of the pooled ratio; a replicate that drew only empty clusters repeats the estimate. */
function resampledRatio(c: Clusters, rng: SeededRandom, fallback: number): number {
  let num = 0;
  let den = 0;
  const n = c.num.length;
  for (let i = 0; i < n; i++) {
    const j = rng.int(0, n - 1);
    num += c.num[j] as number;
    den += c.den[j] as number;
  }
  return den > 0 ? num / den : fallback;
}

/**
 * A pooled ratio sum(num) / sum(den) over clusters (e.g. layers used per generated token, pooled
 * over a run's samples), with a cluster bootstrap interval: whole clusters are resampled, because
 * the tokens of one sample are not independent of each other.
 */
export function bootstrapRatio(c: Clusters, options: BootstrapOptions = {}): Estimate {
  checkClusters('clusters', c);
  const samples = options.samples ?? 10_000;
  const rng = new SeededRandom(options.seed ?? 0);
  const estimate = pooled(c);
  const replicates = new Float64Array(samples);
  for (let s = 0; s < samples; s++) replicates[s] = resampledRatio(c, rng, estimate);
  return { mean: estimate, ci95: interval(replicates, options.confidence ?? 0.95) };
}

/** ratio(b) - ratio(a) for two independent groups of clusters (e.g. two suites), each resampled on its own. */
export function bootstrapRatioDifference(a: Clusters, b: Clusters, options: BootstrapOptions = {}): Estimate {
  checkClusters('a', a);
  checkClusters('b', b);
  const samples = options.samples ?? 10_000;
  const rng = new SeededRandom(options.seed ?? 0);
  const ra = pooled(a);
  const rb = pooled(b);
  const replicates = new Float64Array(samples);
  for (let s = 0; s < samples; s++) replicates[s] = resampledRatio(b, rng, rb) - resampledRatio(a, rng, ra);
  return { mean: rb - ra, ci95: interval(replicates, options.confidence ?? 0.95) };
}
