/**
 * What a graph's weights take at a weight precision (graph-builder.ts):
 *   fp32       every tensor float32;
 *   fp16       the projections (q, k, v, o, MLP, adapter, LM head) and the embedding table float16;
 *              norms and routers float32 (the graph computes them in float32);
 *   int8/int4  the projections and the embedding table block-quantized, each block of `blockSize`
 *              weights carrying a float32 scale and a zero point of `bits` (a row's 4-bit zero
 *              points two to a byte); each router's encoder at 8 bits; norms and the rest of the
 *              routers float32.
 * For sizing memory before a graph exists, and for counting what a decode step reads (weight-traffic.ts).
 */
import { isQuantized, QUANT_BITS, QUANT_BLOCK_SIZE, type WeightPrecision } from './graph-builder.ts';
import type { WeightWidths } from './weight-traffic.ts';

/** The checkpoint tensors a quantized graph holds as MatMulNBits: the adapter's too (router_proj.*_proj). */
const PROJECTION = /(?:\.(?:q|k|v|o|gate|up|down)_proj\.weight|^lm_head\.weight)$/;
const EMBEDDING = 'model.embed_tokens.weight';
/** The router's first linear, which a quantized graph holds at 8 bits. */
const ROUTER_ENCODER = /\.router\.router_enc\.weight$/;
const ROUTER_BITS = 8;

/**
 * Bytes per weight of the projections, of the embedding table and of the rest at this precision;
 * quantized, the average over whole blocks (a row whose length is not a multiple of the block
 * holds its last block padded: heldWeightBytes counts that).
 */
export function weightWidths(precision: WeightPrecision, blockSize = QUANT_BLOCK_SIZE): Required<WeightWidths> {
  if (precision === 'fp32') return { projection: 4, embedding: 4, routerEncoder: 4, other: 4 };
  if (precision === 'fp16') return { projection: 2, embedding: 2, routerEncoder: 4, other: 4 };
  const width = (bits: number): number => bits / 8 + (4 + bits / 8) / blockSize;
  return { projection: width(QUANT_BITS[precision]), embedding: width(QUANT_BITS[precision]), routerEncoder: width(ROUTER_BITS), other: 4 };
}

/** Bytes of a torch weight [rows, cols] block-quantized along cols: codes, float32 scales, zero points. */
function quantizedBytes(rows: number, cols: number, bits: number, blockSize: number): number {
  const kBlocks = Math.ceil(cols / blockSize);
  return rows * (kBlocks * ((blockSize * bits) / 8) + 4 * kBlocks + Math.ceil((kBlocks * bits) / 8));
}

/**
 * Bytes the graph's weights take: `tensors` the checkpoint tensors it is built from (name and
 * shape). With tied embeddings the head is the embedding table held a second time (float32 and
 * float16 transposed for its MatMul); quantized, the lookup and the head share one copy.
 */
export function heldWeightBytes(
  tensors: Iterable<[string, readonly number[]]>,
  precision: WeightPrecision,
  tiedEmbeddings: boolean,
  blockSize = QUANT_BLOCK_SIZE,
): number {
  const width = weightWidths(precision, blockSize);
  let bytes = 0;
  for (const [name, shape] of tensors) {
    // The graph folds each router's dec [d, r] and head [1, d] into one [r, 1] vector.
    if (name.endsWith('.router.router_head.weight')) continue;
    const n = name.endsWith('.router.router_dec.weight') ? shape[1]! : shape.reduce((a, b) => a * b, 1);
    const projection = PROJECTION.test(name);
    if (isQuantized(precision) && (projection || name === EMBEDDING || ROUTER_ENCODER.test(name))) {
      bytes += quantizedBytes(shape[0]!, shape[1]!, projection || name === EMBEDDING ? QUANT_BITS[precision] : ROUTER_BITS, blockSize);
      continue;
    }
    bytes += n * (projection ? width.projection : name === EMBEDDING ? width.embedding : width.other);
    if (tiedEmbeddings && name === EMBEDDING) bytes += n * width.projection;
  }
  return bytes;
}
