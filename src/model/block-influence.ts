/**
 * Block Influence (ShortGPT, Men et al. 2024, eq. 1): BI_i = 1 − mean over tokens t of
 * cos(x_i,t, x_i+1,t), where x_i,t is layer i's input hidden state at token t. The layer whose
 * output is most like its input changes the least, and is the first the `static` comparator removes.
 * Measured on the full model (routers ignored), as ShortGPT measures the base model.
 */
import type { DecoderSession } from './session.ts';

export interface LayerInfluence {
  layer: number;
  value: number;
}

/** Sum over the rows of [n, d] `a` and `b` of their cosine similarity, in float64. */
export function cosineSum(a: Float32Array, b: Float32Array, d: number): number {
  let sum = 0;
  for (let row = 0; row * d < a.length; row++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let k = row * d; k < (row + 1) * d; k++) {
      dot += a[k]! * b[k]!;
      na += a[k]! * a[k]!;
      nb += b[k]! * b[k]!;
    }
    sum += na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  }
  return sum;
}

/**
 * The BI of `layers` over token windows, each run as one prompt through `session` (a `full` graph
 * built with hiddenStates; every window starts from an empty cache).
 */
export async function measureBlockInfluence(session: DecoderSession, windows: readonly number[][], layers: readonly number[]): Promise<LayerInfluence[]> {
  const d = session.config.hiddenSize;
  const sums = layers.map(() => 0);
  let tokens = 0;
  for (const ids of windows) {
    const { hidden } = await session.step(ids, session.emptyCache());
    if (hidden.length !== session.config.numLayers + 1) throw new Error('measureBlockInfluence: the session was not built with hiddenStates');
    layers.forEach((layer, j) => (sums[j]! += cosineSum(hidden[layer]!, hidden[layer + 1]!, d)));
    tokens += ids.length;
  }
  if (tokens === 0) throw new Error('measureBlockInfluence: no calibration tokens');
  return layers.map((layer, j) => ({ layer, value: 1 - sums[j]! / tokens }));
}

/** The k layers of least influence (ties: the earlier layer first), ascending by index. */
export function leastInfluential(influence: readonly LayerInfluence[], k: number): number[] {
  if (k > influence.length) throw new Error(`cannot remove ${k} of ${influence.length} layers`);
  return [...influence]
    .sort((a, b) => a.value - b.value || a.layer - b.layer)
    .slice(0, k)
    .map((l) => l.layer)
    .sort((a, b) => a - b);
}
