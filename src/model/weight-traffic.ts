/**
 * Bytes of weights one decode step (one token, batch 1) reads, for the routing model of
 * path-cost.ts: at batch 1 each weight is used for one multiply-add per step, so a step is bound by
 * streaming its weights from memory, and bytes ÷ step time against the machine's read bandwidth
 * (memory-bandwidth.ts) says how close the engine comes to that bound (`bench`'s achieved GB/s).
 *
 * Counted: every weight a token's pass reads, once per step (docs/method.md, "One routed layer, exactly"):
 *   plain layer        input and post-attention norms (2d); q, k, v, o; gate, up, down
 *   routed layer       always: input norm, router (enc d·r, router_norm r, and the [r, 1] vector the
 *                      graph folds router_dec · router_head into, so r rather than d·r + d), k and v
 *                      (every token's K and V are cached, full path or not);
 *                      full path: q, o, post-attention norm, MLP; skip path: post-attention norm and
 *                      the adapter (3 · d · m)
 *   model              one embedding row (a lookup reads d, not V·d); the final norm (d); the LM
 *                      head (d · V), which reads the embedding matrix again when the two are tied
 * Not counted: the KV cache. Its keys and values are activations, not weights: its size is
 * 2 · kvH · hd · T per attending layer, grown by the context T rather than fixed by the model, so
 * one step's figure would depend on where in the sequence it falls. A caller that knows T may add
 * it separately. Nor are activations or the RoPE tables (a row of hd per step): O(d + I) per layer
 * against O(d²) for the weights, and mostly served from cache.
 * Every read is counted as coming from memory: weights that fit in the last-level cache (a tiny
 * model) are served faster, and such a model may appear to beat the bound.
 */
import { FLEXIDEPTH_REDUCTION } from './config.ts';
import type { PathCostConfig } from './path-cost.ts';

/** Bytes per weight of the projections (q, k, v, o, MLP, adapter, LM head), of the embedding table, and of the rest (norms, router). */
export interface WeightWidths {
  projection: number;
  /** The embedding table's (one row read per step); `other` when absent. */
  embedding?: number;
  /** The router's encoder [d, r]; `other` when absent. */
  routerEncoder?: number;
  other: number;
}

/**
 * Bytes of weights read by one decode step. `fullPath`: for the flexidepth variant, whether each
 * routed layer (in layer order) took the full path at this token; null for the full variant (every
 * layer plain, no router). `bytesPerWeight`: one width for all (4: float32 initializers), or the
 * projections' and the embedding table's apart, which fp16 and quantized graphs hold in fewer bits
 * (weightWidths in held-weights.ts).
 */
export function decodeStepWeightBytes(
  cfg: PathCostConfig,
  fullPath: readonly boolean[] | null,
  adapterSize?: number,
  bytesPerWeight: number | WeightWidths = 4,
): number {
  const width = typeof bytesPerWeight === 'number' ? { projection: bytesPerWeight, other: bytesPerWeight } : bytesPerWeight;
  const d = cfg.hiddenSize;
  const embedding = d * (width.embedding ?? width.other);
  const I = cfg.intermediateSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const r = d / FLEXIDEPTH_REDUCTION;
  const m = adapterSize ?? I / FLEXIDEPTH_REDUCTION;

  const norm = d;
  const keyValue = 2 * kvDim * d;
  const queryOutput = 2 * qDim * d;
  const mlp = 3 * I * d;
  // The encoder at its own width; the router's norm and folded head [r, 1] are the rest's.
  const routerEncoder = d * r * (width.routerEncoder ?? width.other);
  const router = r + r;
  const adapter = 3 * d * m;

  // Projection weights, the embedding row, the routers' encoders and the rest, counted apart.
  let projection = d * cfg.vocabSize;
  let other = norm;
  let routerBytes = 0;
  const plainLayers = fullPath === null ? cfg.numLayers : cfg.numLayers - cfg.routingLayers.length;
  projection += plainLayers * (keyValue + queryOutput + mlp);
  other += plainLayers * 2 * norm;
  if (fullPath !== null) {
    if (fullPath.length !== cfg.routingLayers.length) {
      throw new Error(`decodeStepWeightBytes: ${fullPath.length} routing decisions for ${cfg.routingLayers.length} routed layers`);
    }
    for (const full of fullPath) {
      projection += keyValue + (full ? queryOutput + mlp : adapter);
      other += norm + router + norm;
      routerBytes += routerEncoder;
    }
  }
  return projection * width.projection + embedding + routerBytes + other * width.other;
}
