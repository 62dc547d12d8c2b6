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
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
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
    if (meansD[s] > 0) aBetter++;
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
