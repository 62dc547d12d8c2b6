/**
 * Multiply-adds of one decode step (one token, batch 1), counted from the method rather than from
 * the graph: what a FlexiDepth step must compute at the least, so that full ÷ flexidepth is the
 * speed ratio a perfect engine would reach for the same routing (`bench`'s ideal_speed_ratio).
 *
 * Counted: every matrix product a token's pass needs (docs/method.md, "One routed layer, exactly"):
 *   plain layer        q, k, v, o projections; attention scores and values over the T cached keys
 *                      (query heads × head dim × T, twice); the SwiGLU MLP (3 · d · I)
 *   routed layer       always: router (enc d·d/16, dec d/16·d, head d·1) and k, v (K and V are
 *                      computed and cached for every token, full path or not);
 *                      full path: q, attention over T keys, o, MLP; skip path: the adapter (3 · d · m)
 *   model              LM head (d · V); the embedding is a lookup (0)
 * Not counted: elementwise work (norms, RoPE, softmax, activations, gate scaling), O(d + T) per
 * layer against O(d²) for the products: under 1% of a step for the reference model
 * (d 192) and less for larger ones.
 */
import { FLEXIDEPTH_REDUCTION, type ModelConfig } from './config.ts';

export type PathCostConfig = Pick<
  ModelConfig,
  'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize' | 'routingLayers'
>;

/** Multiply-adds of the parts of one layer for one token that attends to `contextLength` keys (itself included). */
export interface LayerCost {
  /** k and v projections: computed for every token in every layer. */
  keyValue: number;
  /** q projection, attention over the cache, o projection. */
  attention: number;
  mlp: number;
  /** FlexiDepth router (enc, dec, head): every token of a routed layer. */
  router: number;
  /** FlexiDepth adapter: skip-path tokens of a routed layer. */
  adapter: number;
}

export function layerCost(cfg: PathCostConfig, contextLength: number, adapterSize = cfg.intermediateSize / FLEXIDEPTH_REDUCTION): LayerCost {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const r = d / FLEXIDEPTH_REDUCTION;
  return {
    keyValue: 2 * d * kvDim,
    attention: d * qDim + 2 * qDim * contextLength + qDim * d,
    mlp: 3 * d * cfg.intermediateSize,
    router: d * r + r * d + d,
    adapter: 3 * d * adapterSize,
  };
}

/**
 * Multiply-adds of one decode step at a token that attends to `contextLength` keys.
 * `fullPath`: for the flexidepth variant, whether each routed layer (in layer order) took the full
 * path at this token; null for the full variant (every layer plain, no router).
 */
export function decodeStepMultiplyAdds(cfg: PathCostConfig, contextLength: number, fullPath: readonly boolean[] | null, adapterSize?: number): number {
  const c = layerCost(cfg, contextLength, adapterSize);
  const plain = c.keyValue + c.attention + c.mlp;
  let total = cfg.hiddenSize * cfg.vocabSize;
  if (fullPath === null) return total + cfg.numLayers * plain;
  if (fullPath.length !== cfg.routingLayers.length) {
    throw new Error(`decodeStepMultiplyAdds: ${fullPath.length} routing decisions for ${cfg.routingLayers.length} routed layers`);
  }
  total += (cfg.numLayers - cfg.routingLayers.length) * plain;
  for (const full of fullPath) total += c.router + c.keyValue + (full ? c.attention + c.mlp : c.adapter);
  return total;
}
