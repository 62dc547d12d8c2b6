/**
 * What a graph's weights take at a weight precision (graph-builder.ts): every tensor in float32,
 * or the projections (q, k, v, o, MLP, adapter, LM head) block-quantized, each block of
 * QUANT_BLOCK_SIZE weights carrying a float32 scale and a zero point of `bits`, and the rest (norms,
 * routers, the embedding table) still float32. For sizing memory before a graph exists, and for
 * counting what a decode step reads (weight-traffic.ts).
 */
import { QUANT_BITS, QUANT_BLOCK_SIZE, type WeightPrecision } from './graph-builder.ts';
import type { WeightWidths } from './weight-traffic.ts';

/** The checkpoint tensors a quantized graph holds as MatMulNBits: the adapter's too (router_proj.*_proj). */
const PROJECTION = /(?:\.(?:q|k|v|o|gate|up|down)_proj\.weight|^lm_head\.weight)$/;

/** Bytes per weight of the projections and of the rest at this precision. */
export function weightWidths(precision: WeightPrecision): WeightWidths {
  if (precision === 'fp32') return { projection: 4, other: 4 };
  const bits = QUANT_BITS[precision];
  return { projection: bits / 8 + (4 + bits / 8) / QUANT_BLOCK_SIZE, other: 4 };
}

/**
 * Bytes the graph's weights take: `tensors` the checkpoint tensors it is built from (name and
 * shape). With tied embeddings the head is the embedding table held a second time, as a projection.
 */
export function heldWeightBytes(tensors: Iterable<[string, readonly number[]]>, precision: WeightPrecision, tiedEmbeddings: boolean): number {
  const width = weightWidths(precision);
  let bytes = 0;
  for (const [name, shape] of tensors) {
    // The graph folds each router's dec [d, r] and head [1, d] into one [r, 1] vector.
    if (name.endsWith('.router.router_head.weight')) continue;
    const n = name.endsWith('.router.router_dec.weight') ? shape[1]! : shape.reduce((a, b) => a * b, 1);
    bytes += n * (PROJECTION.test(name) ? width.projection : width.other);
    if (tiedEmbeddings && name === 'model.embed_tokens.weight') bytes += n * width.projection;
  }
  return bytes;
}
