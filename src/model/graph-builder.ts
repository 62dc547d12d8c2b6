/**
 * Builds the decoder graph (with KV cache) of a Llama or FlexiDepth checkpoint, one method per
 * block, in the spirit of onnxruntime-genai's model builder.
 *
 * Graph contract (docs/design.md), for B sequences of S new tokens each:
 *   inputs   input_ids [B,S] int64, position_ids [B,S] int64,
 *            attention_mask [B,C+S] int64: which of the C cache slots and of the S new tokens each
 *            sequence's tokens may see (new tokens also only up to themselves: causal),
 *            past.{i}.key / past.{i}.value [B,1,kvH,C,hd]: cache buffers of C slots per sequence,
 *            read in place (float16 in an fp16 graph, as is present: kvCacheType),
 *            logit_rows [B,K] int64: the positions (of the S) whose logits are wanted,
 *            and for `flexidepth` threshold [] float, for `random` route_full [R,B,S] bool
 *            (each routed layer's decision, drawn by the caller),
 *            cos_cache / sin_cache [P,hd/2] float: the rotary tables of positions 0..P-1, P past
 *            every position fed (RotaryTables)
 *   outputs  logits [B,K,V], present [2*L'*B,kvH,S,hd]: the new K and V rows only, of each
 *            cached layer in order, K then V, each block [B,kvH,S,hd] (one output, as ORT's run
 *            costs ~3 µs per output), which the caller writes into its buffers (DecoderSession);
 *            for `flexidepth` and `random` gates [R,B,S] (R routed layers, in layer order); with
 *            `hiddenStates`, hidden.{i} [B,S,d]: the input of layer i, and hidden.{L} the last output
 * Comparators (docs/method.md, "Comparators"): `static` is `full` without its `removedLayers` (no
 * past/present for them either: the layer is gone); `random` is `flexidepth` with each routed
 * layer's decision read from route_full instead of gate > threshold, so a skip takes the adapter
 * exactly as a FlexiDepth skip does.
 *
 * So a decode step neither concatenates nor copies out the cache: its cost grows with the cached
 * length only through attention's reads of the buffers.
 *
 * Attention is written out (MatMul/Softmax) with an additive bias [B, S, C+S] rather than a fused
 * causal kernel: the bias row of each token encodes its own causal limit and the slots its
 * sequence filled, one mask for every layout of the cache buffers.
 */
import type { ModelConfig } from './config.ts';
import { layerPrefix, readWeight, type Checkpoint } from './checkpoint.ts';
import { quantizeLinear, type BlockQuantized, type QuantBits } from './block-quant.ts';
import { toFloat16 } from './float16.ts';
import { stackInto, transposeInto, type LinearPart } from './linear-weight.ts';
import { ELEM, OnnxGraph, type ElemType } from './onnx-graph.ts';
import { UserError } from '../errors.ts';
import type { Variant } from './variants.ts';

/**
 * How the weights are held and computed with:
 *   fp32       everything float32 (exact);
 *   fp16       weights and activations float16, with the RMS norms, attention's softmax and the
 *              routers computed in float32 (Casts around them) and logits and gates cast back to
 *              float32 outputs; the KV cache is float16. ONNX Runtime's CPU provider lacks float16
 *              kernels for many ops and runs those in float32 between Casts (InsertCastTransformer):
 *              on CPU fp16 is for checking against fp32, on CUDA for speed;
 *   int8/int4  weight-only block quantization: the projections for ONNX Runtime's MatMulNBits, the
 *              embedding table for GatherBlockQuantized (shared with the LM head when tied);
 *              each router's encoder at 8 bits; activations, norms and the rest of the routers
 *              stay float32.
 */
export type WeightPrecision = 'fp32' | 'fp16' | 'int8' | 'int4';
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['fp32', 'fp16', 'int8', 'int4'];
export type QuantizedPrecision = 'int8' | 'int4';
export const QUANT_BITS: Record<QuantizedPrecision, QuantBits> = { int8: 8, int4: 4 };
export const isQuantized = (precision: WeightPrecision | undefined): precision is QuantizedPrecision => precision === 'int8' || precision === 'int4';
/** Weights per scale and zero point: onnxruntime-genai's default for CPU. */
export const QUANT_BLOCK_SIZE = 32;
/**
 * The block sizes a quantized graph takes: MatMulNBits needs a power of two of at least 16, and
 * MLAS has fused CPU kernels for 16 to 256 (past that it dequantizes the whole weight every run).
 */
export const QUANT_BLOCK_SIZES: readonly number[] = [16, 32, 64, 128, 256];

/** `size` when it is one of QUANT_BLOCK_SIZES; else a UserError naming it and what is allowed. */
export function checkBlockSize(size: number): number {
  if (!QUANT_BLOCK_SIZES.includes(size))
    throw new UserError(`block size ${size}: MatMulNBits needs a power of two from 16 to 256 (${QUANT_BLOCK_SIZES.join(', ')})`);
  return size;
}

/** The KV cache's element type at this precision: the graph's past.* inputs and present output. */
export function kvCacheType(precision: WeightPrecision | undefined): 'float32' | 'float16' {
  return precision === 'fp16' ? 'float16' : 'float32';
}
/**
 * MatMulNBits' accuracy_level 4: the activations are quantized to int8 for the product. At 8 bits
 * level 0 dequantizes the whole weight on every run, many times slower than float32.
 */
const QUANT_ACCURACY_LEVEL = 4;

/** A checkpoint tensor as one part of a projection: its name, and how linear-weight.ts places it. */
type LinearSource = Omit<LinearPart, 'data' | 'out'> & { name: string };

/** What a graph is built as: a variant, the layers `static` removes, and whether the hidden states are outputs. */
export interface GraphSpec {
  variant: Variant;
  /** The weights (and for fp16 the activations); float32 when absent. */
  precision?: WeightPrecision;
  /** int8/int4: weights per scale and zero point, one of QUANT_BLOCK_SIZES; QUANT_BLOCK_SIZE when absent. */
  blockSize?: number;
  /** `static` only: the (routed) layers left out, ascending. */
  removedLayers?: readonly number[];
  /** Outputs hidden.{i} for Block Influence (block-influence.ts). */
  hiddenStates?: boolean;
}

/** Refuses, in one line naming the checkpoint, a variant this checkpoint cannot be built as. */
export function requireVariant(ckpt: Pick<Checkpoint, 'dir' | 'config'>, variant: Variant): void {
  if (variant !== 'full' && ckpt.config.routingLayers.length === 0) {
    throw new UserError(
      `${ckpt.dir}: variant ${variant} needs a FlexiDepth checkpoint (model_type ddllama with routing_layers); this one is a plain ${ckpt.config.modelType}`,
    );
  }
}

/** Whether the variant's graph has the routers (and outputs their gates). */
export function hasRouters(variant: Variant): boolean {
  return variant === 'flexidepth' || variant === 'random';
}

/** Bumped whenever the emitted graph changes, so cached graphs are rebuilt. */
export const GRAPH_BUILDER_VERSION = 18;

/** Additive attention bias for disallowed keys: large but finite, so softmax never sees -inf - -inf. */
const MASKED = -1e30;

/** A layer's keys and values as attention reads them: the cache buffers [B,1,kvH,C,hd] and the new rows [B,1,kvH,S,hd]. */
interface Cache {
  k: string;
  v: string;
  kNew: string;
  vNew: string;
}

/** A row takes a routed layer's full path iff score [B, S] > cut []. */
interface Route {
  score: string;
  cut: string;
}

/**
 * A torch weight [N, K] block-quantized: B [N, kBlocks, blob] as MatMulNBits takes it (or, for a
 * lookup table alone, [N, kBlocks * blob] as GatherBlockQuantized does), scales [N, kBlocks] and
 * zero points [N, ceil(kBlocks * bits / 8)]; both ops read the scales and zero points in these
 * shapes (each packs a row's 4-bit zero points two to a byte, even block low), so a tied
 * embedding shares all three with the LM head.
 */
interface QuantizedWeight {
  b: string;
  scales: string;
  zeroPoints: string;
  /** B's shape: MatMulNBits' rank 3, or rank 2 rows. */
  layout: 'matmul' | 'rows';
  n: number;
  k: number;
  kBlocks: number;
}

export class DecoderGraphBuilder {
  private readonly g = new OnnxGraph();
  private readonly cfg: ModelConfig;
  private readonly d: number;
  private readonly half: number;
  private inputIds = '';
  private shapeBS = '';
  /** All rows' positions [B, S] and attention bias [B, 1, 1, S, C+S]. */
  private positionIds = '';
  private biasAll = '';
  private cosCache = '';
  private sinCache = '';
  private threshold = '';
  private routeFull = '';
  private readonly removed: ReadonlySet<number>;
  private readonly gates: string[] = [];
  /** The new K and V rows of each cached layer, in layer order: concatenated into the one `present` output. */
  private readonly presents: string[] = [];
  /** The cache buffers' slot count C (past.*.key dim 3), and [C, S] for splitting attention's key axis. */
  private capacity = '';
  private splitSizes = '';

  private readonly variant: Variant;
  private readonly precision: WeightPrecision;
  private readonly blockSize: number;
  /** The activations' type: float16 in an fp16 graph, where norms, softmax and routers cast to float32 and back. */
  private readonly act: ElemType;
  private readonly quantizedWeights = new Map<string, QuantizedWeight>();

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly spec: GraphSpec,
  ) {
    this.cfg = ckpt.config;
    this.d = this.cfg.hiddenSize;
    this.half = this.cfg.headDim / 2;
    this.variant = spec.variant;
    this.precision = spec.precision ?? 'fp32';
    this.blockSize = checkBlockSize(spec.blockSize ?? QUANT_BLOCK_SIZE);
    this.act = this.precision === 'fp16' ? 'float16' : 'float';
    requireVariant(ckpt, spec.variant);
    this.removed = new Set(spec.variant === 'static' ? (spec.removedLayers ?? []) : []);
    for (const i of this.removed) {
      if (!this.cfg.routingLayers.includes(i)) throw new Error(`static: layer ${i} is not a routed layer of ${ckpt.dir}`);
    }
  }

  build(): OnnxGraph {
    const { cfg, g } = this;
    this.inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
    this.positionIds = g.input('position_ids', 'int64', ['batch', 'seq']);
    const attentionMask = g.input('attention_mask', 'int64', ['batch', 'slots']);
    const logitRows = g.input('logit_rows', 'int64', ['batch', 'rows']);
    const routers = hasRouters(this.variant);
    if (this.variant === 'flexidepth') this.threshold = g.input('threshold', 'float', []);
    if (this.variant === 'random') this.routeFull = g.input('route_full', 'bool', [cfg.routingLayers.length, 'batch', 'seq']);
    this.shapeBS = g.op('/model/shape_bs', 'Shape', [this.inputIds]);
    const kept = Array.from({ length: cfg.numLayers }, (_, i) => i).filter((i) => !this.removed.has(i));
    for (const i of kept) {
      for (const kind of ['key', 'value']) g.input(`past.${i}.${kind}`, this.act, ['batch', 1, cfg.numKvHeads, 'capacity', cfg.headDim]);
    }
    const firstCache = `past.${kept[0]!}.key`;
    this.capacity = g.op('/model/capacity', 'Gather', [g.op('/model/capacity', 'Shape', [firstCache]), g.int64s([3], true)], { axis: 0 });

    let x = this.embed();
    // Fed by the caller, sized by the positions it runs (rotary-tables.ts): nothing here grows with the context.
    this.cosCache = this.toAct('/model/cos_cache', g.input('cos_cache', 'float', ['positions', this.half]));
    this.sinCache = this.toAct('/model/sin_cache', g.input('sin_cache', 'float', ['positions', this.half]));
    this.biasAll = g.op('/model/attn_bias/heads', 'Unsqueeze', [this.attentionBias(attentionMask), g.int64s([1, 2])]); // [B, 1, 1, S, C+S]
    for (let i = 0; i < cfg.numLayers; i++) {
      if (this.spec.hiddenStates === true) this.floatOutput(`/model/hidden.${i}`, x, `hidden.${i}`, ['batch', 'seq', this.d]);
      if (this.removed.has(i)) continue;
      const routed = routers && cfg.routingLayers.includes(i);
      x = routed ? this.routedLayer(i, x) : this.layer(i, x);
    }
    if (this.spec.hiddenStates === true) this.floatOutput(`/model/hidden.${cfg.numLayers}`, x, `hidden.${cfg.numLayers}`, ['batch', 'seq', this.d]);
    this.lmHead(x, logitRows);
    const presentDims = ['presentRows', cfg.numKvHeads, 'seq', cfg.headDim];
    g.node('/model/present', 'Concat', this.presents, { axis: 0 }, 1, '', [g.output('present', this.act, presentDims)]);
    if (routers) {
      const all = g.op('/model/gates', 'Concat', this.gates, { axis: 0 }); // [R*B, S]
      const shape = g.op('/model/gates/shape', 'Concat', [g.int64s([this.gates.length]), this.shapeBS], { axis: 0 });
      g.node('/model/gates', 'Reshape', [all, shape], {}, 1, '', [g.output('gates', 'float', [this.gates.length, 'batch', 'seq'])]);
    }
    return g;
  }

  /** A graph output `name` of x as float32: written by x's Cast in an fp16 graph, else by an Identity. */
  private floatOutput(path: string, x: string, name: string, dims: (number | string)[]): void {
    const [op, attrs] = this.act === 'float' ? ['Identity', {}] : ['Cast', { to: ELEM.float }];
    this.g.node(path, op, [x], attrs, 1, '', [this.g.output(name, 'float', dims)]);
  }

  /** float32 `x` in the activations' type: a Cast in an fp16 graph, `x` itself otherwise. */
  private toAct(path: string, x: string): string {
    return this.act === 'float' ? x : this.g.op(`${path}/to_fp16`, 'Cast', [x], { to: ELEM[this.act] });
  }

  /** An activation as float32, for what an fp16 graph still computes in float32. */
  private toFloat(path: string, x: string): string {
    return this.act === 'float' ? x : this.g.op(`${path}/to_fp32`, 'Cast', [x], { to: ELEM.float });
  }

  // ---- weights -------------------------------------------------------------------------------

  /**
   * Weights are read from the checkpoint when the graph is encoded, one at a time (OnnxGraph's
   * deferred initializers): here only their shapes are known.
   */
  private shape(name: string): number[] {
    const t = this.ckpt.tensors.get(name);
    if (t === undefined) throw new Error(`checkpoint tensor ${name} missing (loadCheckpoint validates this)`);
    return t.shape;
  }

  private read(name: string): Float32Array {
    return readWeight(this.ckpt, name).data;
  }

  /**
   * x [.., in] times torch Linear weights [out_k, in] side by side: a MatMul on a float32 or float16
   * initializer [in, sum out_k], or MatMulNBits on the weights block-quantized in their torch layout
   * (which is MatMulNBits' own). `outputs` names the node's output when it is a graph output.
   */
  private project(path: string, x: string, name: string, parts: LinearSource[], precision = this.precision, outputs?: string[]): string {
    if (!isQuantized(precision)) return this.g.node(path, 'MatMul', [x, this.floatWeight(name, parts, precision)], {}, 1, '', outputs)[0]!;
    const q = this.quantized(name, parts, 'matmul', QUANT_BITS[precision]);
    const attrs = { K: q.k, N: q.n, bits: QUANT_BITS[precision], block_size: this.blockSize, accuracy_level: QUANT_ACCURACY_LEVEL };
    return this.g.node(path, 'MatMulNBits', [x, q.b, q.scales, q.zeroPoints], attrs, 1, 'com.microsoft', outputs)[0]!;
  }

  /** The parts' torch shapes: each part's out, the shared in, and the total out. */
  private partShapes(parts: LinearSource[]): { outs: number[]; inp: number; total: number } {
    const outs = parts.map((part) => this.shape(part.name)[0]!);
    return { outs, inp: this.shape(parts[0]!.name)[1]!, total: outs.reduce((a, b) => a + b, 0) };
  }

  /** The parts as one MatMul initializer [in, total] (float32, or float16 in an fp16 graph), transposed one part at a time. */
  private floatWeight(name: string, parts: LinearSource[], precision: 'fp32' | 'fp16'): string {
    const { outs, inp, total } = this.partShapes(parts);
    const transposed = (): Float32Array => {
      const w = new Float32Array(inp * total);
      let col = 0;
      parts.forEach((part, k) => {
        transposeInto(w, total, col, { ...part, data: this.read(part.name), out: outs[k]! }, inp);
        col += outs[k]!;
      });
      return w;
    };
    return precision === 'fp16' ? this.g.initializer(name, [inp, total], () => toFloat16(transposed()), 2) : this.g.initializer(name, [inp, total], transposed);
  }

  /** The graph's quantized width; only a quantized graph quantizes. */
  private quantBits(): QuantBits {
    if (!isQuantized(this.precision)) throw new Error(`graph builder: a weight quantized in a ${this.precision} graph`);
    return QUANT_BITS[this.precision];
  }

  /**
   * The parts block-quantized in torch's layout [total, in], as three initializers named after
   * `name`; made once per name, so a tied embedding and LM head read the same ones.
   */
  private quantized(name: string, parts: LinearSource[], layout: QuantizedWeight['layout'], bits = this.quantBits()): QuantizedWeight {
    const made = this.quantizedWeights.get(name);
    if (made !== undefined) {
      if (made.layout !== layout) throw new Error(`graph builder: ${name} is quantized as ${made.layout}, asked again as ${layout}`);
      return made;
    }
    const { blockSize } = this;
    const { outs, inp, total } = this.partShapes(parts);
    const kBlocks = Math.ceil(inp / blockSize);
    const blob = (blockSize * bits) / 8;
    // One quantization feeds three initializers, which encode writes one after another: kept until the third is taken.
    let held: BlockQuantized | undefined;
    let taken = 0;
    const take =
      <T extends Uint8Array | Float32Array>(pick: (q: BlockQuantized) => T): (() => T) =>
      () => {
        held ??= quantizeLinear(this.torchWeight(parts, outs, inp, total), total, inp, { bits, blockSize });
        const values = pick(held);
        if (++taken === 3) held = undefined;
        return values;
      };
    const { g } = this;
    const q: QuantizedWeight = {
      b: g.initializer(
        name,
        layout === 'matmul' ? [total, kBlocks, blob] : [total, kBlocks * blob],
        take((w) => w.packed),
        1,
      ),
      scales: g.initializer(
        `${name}.scales`,
        [total, kBlocks],
        take((w) => w.scales),
      ),
      zeroPoints: g.initializer(
        `${name}.zero_points`,
        [total, Math.ceil((kBlocks * bits) / 8)],
        take((w) => w.zeroPoints),
        1,
      ),
      layout,
      n: total,
      k: inp,
      kBlocks,
    };
    this.quantizedWeights.set(name, q);
    return q;
  }

  /** The parts stacked in torch's layout [total, in], each reordered and scaled: what is quantized. */
  private torchWeight(parts: LinearSource[], outs: number[], inp: number, total: number): Float32Array {
    // One part as the checkpoint has it (most projections, the LM head): no copy, which at an 8B
    // model's vocabulary would be gigabytes.
    const only = parts.length === 1 ? parts[0]! : undefined;
    if (only !== undefined && (only.scale ?? 1) === 1 && only.rows === undefined && only.cols === undefined) return this.read(only.name);
    const w = new Float32Array(total * inp);
    let row = 0;
    parts.forEach((part, k) => {
      stackInto(w, row, { ...part, data: this.read(part.name), out: outs[k]! }, inp);
      row += outs[k]!;
    });
    return w;
  }

  /**
   * The query heads in attention's order, as indices into the checkpoint's [H*hd] axis: head slot
   * r*kvH + g holds checkpoint head g*rep + r (the r-th query head of key head g), so queries
   * reshape to [rep, kvH, M, hd] and broadcast against keys [1, kvH, T, hd] with no repeat.
   */
  private queryHeadOrder(): number[] {
    const { numHeads: H, numKvHeads: kvH, headDim: hd } = this.cfg;
    const rep = H / kvH;
    return Array.from({ length: H * hd }, (_, i) => {
      const slot = Math.floor(i / hd);
      return ((slot % kvH) * rep + Math.floor(slot / kvH)) * hd + (i % hd);
    });
  }

  private vector(name: string): string {
    if (this.g.hasInitializer(name)) return name;
    return this.g.initializer(name, this.shape(name), () => this.read(name));
  }

  // ---- model-level blocks ----------------------------------------------------------------------

  /**
   * The embedding rows of input_ids, [B, S, d]: a Gather on the table (float32, or float16), or at
   * int8/int4 GatherBlockQuantized on the table quantized as the projections are, along the hidden
   * axis, so no float32 table is held. Tied, the table is the LM head's weight and its quantized
   * initializers are the head's: MatMulNBits' B [V, kBlocks, blob] is viewed as the lookup's rows
   * [V, kBlocks * blob] by a Reshape. The graph holds the table once; ONNX Runtime folds the
   * Reshape into a copy when it loads the graph, so a session holds the rows and the head's
   * packed weight, as it would untied.
   *
   *   input_ids ─ GatherBlockQuantized(Reshape(B), scales, zero_points) ─ [B,S,kBlocks*block] ─ [Slice to d]
   */
  private embed(): string {
    const { g, cfg, d } = this;
    const name = 'model.embed_tokens.weight';
    const p = '/model/embed_tokens';
    if (!isQuantized(this.precision)) {
      const read = (): Float32Array => this.read(name);
      const table =
        this.precision === 'fp16' ? g.initializer(name, [cfg.vocabSize, d], () => toFloat16(read()), 2) : g.initializer(name, [cfg.vocabSize, d], read);
      return g.op(p, 'Gather', [table, this.inputIds], { axis: 0 });
    }
    const q = this.quantized(name, [{ name }], cfg.tieWordEmbeddings ? 'matmul' : 'rows');
    const rows = q.layout === 'rows' ? q.b : g.op(`${p}/rows`, 'Reshape', [q.b, g.int64s([0, -1])]);
    const attrs = { gather_axis: 0, quantize_axis: 1, block_size: this.blockSize, bits: QUANT_BITS[this.precision] };
    const looked = g.op(p, 'GatherBlockQuantized', [rows, this.inputIds, q.scales, q.zeroPoints], attrs, 'com.microsoft'); // [B, S, kBlocks * block]
    // The last block's padding dequantizes to 0s past d.
    if (q.kBlocks * this.blockSize === d) return looked;
    return g.op(`${p}/unpad`, 'Slice', [looked, g.int64s([0]), g.int64s([d]), g.int64s([2])]);
  }

  /**
   * The additive attention bias [B, S, C+S] over the key slots attention reads: each sequence's C
   * cache slots, then its S new rows. Token s of sequence b may see cache slot j iff
   * attention_mask[b, j] = 1, and new row s' iff s' <= s and attention_mask[b, C + s'] = 1.
   *
   *   mask[:, :C] [B,1,C] ─ Expand [B,S,C] ──────────────────┐
   *   s' [1,S] <= s [S,1] ─ And mask[:, C:] [B,1,S] ─ [B,S,S] ┴─ Concat ─ Where(0, MASKED)
   */
  private attentionBias(attentionMask: string): string {
    const { g } = this;
    const p = '/model/attn_bias';
    const zero = g.int64s([0], true);
    const one = g.int64s([1], true);
    const S = g.op(`${p}/seq`, 'Gather', [this.shapeBS, one], { axis: 0 });
    const C = this.capacity;
    const s1 = g.op(`${p}/s_1d`, 'Unsqueeze', [S, g.int64s([0])]);
    const c1 = g.op(`${p}/c_1d`, 'Unsqueeze', [C, g.int64s([0])]);
    const mask = g.op(`${p}/mask`, 'Unsqueeze', [g.op(`${p}/mask`, 'Cast', [attentionMask], { to: 9 }), g.int64s([1])]); // [B, 1, C+S] bool
    this.splitSizes = g.op(`${p}/split_sizes`, 'Concat', [c1, s1], { axis: 0 }); // [C, S], also attention's key split
    const [cacheMask, newMask] = g.node(`${p}/mask`, 'Split', [mask, this.splitSizes], { axis: 2 }, 2);
    const bs = g.op(`${p}/b_s`, 'Slice', [this.shapeBS, g.int64s([0]), g.int64s([2])]);
    const cached = g.op(`${p}/cached`, 'Expand', [cacheMask!, g.op(`${p}/b_s_c`, 'Concat', [bs, c1], { axis: 0 })]); // [B, S, C]
    const q = g.op(`${p}/query`, 'Range', [zero, S, one]);
    const causal = g.op(`${p}/causal`, 'LessOrEqual', [g.op(`${p}/key`, 'Unsqueeze', [q, g.int64s([0])]), g.op(`${p}/query`, 'Unsqueeze', [q, g.int64s([1])])]);
    const fresh = g.op(`${p}/fresh`, 'And', [causal, newMask!]); // [B, S, S]
    const allowed = g.op(`${p}/allowed`, 'Concat', [cached, fresh], { axis: 2 });
    return g.op(`${p}/bias`, 'Where', [allowed, g.float(0), g.float(MASKED)]);
  }

  /**
   * Logits of the rows asked for: a prompt needs only its last token's (the LM head is about 8% of a
   * prompt's multiply-adds at the reference model's size, and its logits [S, V] the largest output).
   *
   *   x [B,S,d] ─ GatherND logit_rows [B,K] ─ [B,K,d] ─ norm ─ lm_head ─ logits [B,K,V]
   */
  private lmHead(x: string, logitRows: string): void {
    const { g, cfg } = this;
    const rows = g.op('/model/logit_rows', 'Unsqueeze', [logitRows, g.int64s([2])]); // [B, K, 1]
    const picked = g.op('/model/logit_rows', 'GatherND', [x, rows], { batch_dims: 1 });
    const normed = this.rmsNorm('/model/norm', picked, 'model.norm.weight');
    // Tied: the embedding table [V, d] is the head's torch weight, read again; quantized, the
    // embedding's initializers themselves (embed).
    const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const name = cfg.tieWordEmbeddings && isQuantized(this.precision) ? head : 'lm_head.weight';
    const dims = ['batch', 'rows', cfg.vocabSize];
    if (this.act === 'float') {
      this.project('/lm_head', normed, name, [{ name: head }], this.precision, [g.output('logits', 'float', dims)]);
      return;
    }
    this.floatOutput('/lm_head/logits', this.project('/lm_head', normed, name, [{ name: head }]), 'logits', dims);
  }

  // ---- layer blocks --------------------------------------------------------------------------

  /** RMSNorm of an activation, computed in float32 (an fp16 graph casts in and out). */
  private rmsNorm(path: string, x: string, weightName: string): string {
    return this.toAct(path, this.rmsNormFloat(path, this.toFloat(path, x), weightName));
  }

  /** RMSNorm of float32 `x` to float32, with the float32 weight. */
  private rmsNormFloat(path: string, x: string, weightName: string): string {
    return this.g.op(path, 'SimplifiedLayerNormalization', [x, this.vector(weightName)], { axis: -1, epsilon: { float: this.cfg.rmsNormEps }, stash_type: 1 });
  }

  /** A plain Llama layer over all rows: h = x + Attn(InNorm(x)); y = h + FFN(PostNorm(h)). */
  private layer(i: number, x: string): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const z = this.rmsNorm(`${p}/input_layernorm`, x, `${layerPrefix(i)}.input_layernorm.weight`);
    const { cache, q } = this.projections(i, z, true);
    const h = g.op(`${p}/attn/residual`, 'Add', [x, this.attention(i, q!, cache)]);
    const u = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${layerPrefix(i)}.post_attention_layernorm.weight`);
    return g.op(`${p}/mlp/residual`, 'Add', [h, this.mlp(i, u)]);
  }

  /**
   * A FlexiDepth routed layer (docs/method.md, "One routed layer, exactly"). The input norm, the
   * router and K/V run for every token. Then two `If`s on the gates: the first runs the full path
   * when any row takes it, the second the adapter when any row skips, keeping each row's own result.
   * A single-token step is always all one way, so the path it does not take runs no kernel, and it
   * pays one `If` whose branch is a mere Identity.
   *
   * Each weight of the paths has exactly one consumer, a MatMul directly inside a branch of the main
   * graph, because that is the one case where ONNX Runtime pre-packs a weight used inside a branch
   * and then frees the original: a second consumer packs a second copy, and a consumer nested one
   * `If` deeper cannot pre-pack and keeps the original (both measured: docs/performance-history.md,
   * "2026-12-04: real model sizes — streaming build, each weight once (issue 27)"). So rows
   * that split between the paths (a prompt, a batched step) run both paths on every row, as the
   * weights are read once either way.
   *
   *   x ─ InNorm ─ z ─┬─ router ─ g ──┐
   *                   └─ K,V ─ present ┴─ If max g > threshold ─ then: full path on all rows ─ y_full
   *                                      │                       └─ else: x ─ y_full
   *                                      └─ If min g > threshold ─ then: y_full
   *                                                                └─ else: adapter on all rows ─ Where(g > threshold, y_full, ·)
   */
  private routedLayer(i: number, x: string): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const w = layerPrefix(i);
    // The router reads the norm in float32 (an fp16 graph's paths read it cast to float16).
    const z32 = this.rmsNormFloat(`${p}/input_layernorm`, this.toFloat(`${p}/input_layernorm`, x), `${w}.input_layernorm.weight`);
    const z = this.toAct(`${p}/input_layernorm`, z32);
    const gate = this.router(i, z32); // [B, S, 1] float32
    const gateAct = this.toAct(`${p}/router`, gate);
    const flat = g.op(`${p}/router/gates`, 'Reshape', [gate, g.int64s([0, -1])]); // [B, S]
    this.gates.push(flat);
    const route = this.route(i, flat);
    const keys = this.projections(i, z, false).cache;

    const full = g.subgraph(`${p}/full`, this.act, () => {
      const h = g.op(`${p}/attn/residual`, 'Add', [x, this.attention(i, this.queryHeads(i, this.queryProjection(i, z)), keys)]);
      const u = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${w}.post_attention_layernorm.weight`);
      return [g.op(`${p}/mlp/residual`, 'Add', [h, g.op(`${p}/mlp/scale`, 'Mul', [gateAct, this.mlp(i, u)])])];
    });
    const unchanged = (tag: string, t: string): ReturnType<typeof g.subgraph> =>
      g.subgraph(`${p}/${tag}`, this.act, () => [g.op(`${p}/route/${tag}`, 'Identity', [t])]);
    const any = g.op(`${p}/route/any_full`, 'Greater', [g.op(`${p}/route/max_gate`, 'ReduceMax', [route.score], { keepdims: 0 }), route.cut]);
    const yFull = g.op(`${p}/route/any_full`, 'If', [any], { then_branch: full, else_branch: unchanged('none_full', x) });

    const skip = g.subgraph(`${p}/skip`, this.act, () => {
      const u = this.rmsNorm(`${p}/adapter/post_attention_layernorm`, x, `${w}.post_attention_layernorm.weight`);
      const oneMinus = this.toAct(`${p}/adapter/one_minus_gate`, g.op(`${p}/adapter/one_minus_gate`, 'Sub', [g.float(1), gate]));
      const ySkip = g.op(`${p}/adapter/residual`, 'Add', [x, g.op(`${p}/adapter/scale`, 'Mul', [oneMinus, this.adapter(i, u)])]);
      const fullRows = g.op(`${p}/route/full_rows`, 'Unsqueeze', [g.op(`${p}/route/full_rows`, 'Greater', [route.score, route.cut]), g.int64s([2])]);
      return [g.op(`${p}/route/merge`, 'Where', [fullRows, yFull, ySkip])];
    });
    const all = g.op(`${p}/route/all_full`, 'Greater', [g.op(`${p}/route/min_gate`, 'ReduceMin', [route.score], { keepdims: 0 }), route.cut]);
    return g.op(`${p}/route/all_full`, 'If', [all], { then_branch: unchanged('all_full', yFull), else_branch: skip });
  }

  /**
   * What a routed layer's rows are routed by: a row takes the full path iff score > cut. FlexiDepth
   * compares its gates [B, S] with the threshold; `random` reads its decisions from route_full
   * (layer r of the routed layers) as 0/1 against 0.5.
   */
  private route(i: number, gates: string): Route {
    if (this.variant !== 'random') return { score: gates, cut: this.threshold };
    const { g } = this;
    const p = `/model/layers.${i}/route`;
    const r = this.cfg.routingLayers.indexOf(i);
    const drawn = g.op(`${p}/drawn`, 'Gather', [this.routeFull, g.int64s([r], true)], { axis: 0 }); // [B, S]
    return { score: g.op(`${p}/drawn`, 'Cast', [drawn], { to: 1 }), cut: g.float(0.5) };
  }

  /**
   * g = sigmoid(head(dec(tanh(RMSNorm_r(enc(z)))))), [B, S, 1], from float32 z. head and dec are
   * linear with nothing between them, so they are folded into one [r, 1] vector (computed in float64).
   */
  private router(i: number, z: string): string {
    const { g } = this;
    const p = `/model/layers.${i}/router`;
    const w = `${layerPrefix(i)}.router`;
    // The gates decide the routing: float32, or in a quantized graph 8 bits whatever the graph's, as
    // measured to keep the routing (docs/performance.md, "Precisions: fidelity"); the norm and the folded head stay float32.
    const encPrecision = isQuantized(this.precision) ? 'int8' : 'fp32';
    const enc = this.project(`${p}/router_enc`, z, `${w}.router_enc.weight`, [{ name: `${w}.router_enc.weight` }], encPrecision);
    const normed = this.rmsNormFloat(`${p}/router_norm`, enc, `${w}.router_norm.weight`);
    const [d, r] = this.shape(`${w}.router_dec.weight`) as [number, number];
    const fold = (): Float32Array => {
      const dec = this.read(`${w}.router_dec.weight`); // [d, r]
      const head = this.read(`${w}.router_head.weight`); // [1, d]
      const folded = new Float32Array(r);
      for (let k = 0; k < r; k++) {
        let sum = 0;
        for (let j = 0; j < d; j++) sum += dec[j * r + k]! * head[j]!;
        folded[k] = sum;
      }
      return folded;
    };
    const wHead = g.initializer(`${w}.router_head_dec`, [r, 1], fold);
    const logit = g.op(`${p}/router_head`, 'MatMul', [g.op(`${p}/tanh`, 'Tanh', [normed]), wHead]);
    return g.op(p, 'Sigmoid', [logit]);
  }

  /** The layer's SwiGLU MLP: down(silu(gate(u)) * up(u)). */
  private mlp(i: number, u: string): string {
    const w = `${layerPrefix(i)}.mlp`;
    return this.swiglu(`/model/layers.${i}/mlp`, u, { gate: `${w}.gate_proj`, up: `${w}.up_proj`, down: `${w}.down_proj` });
  }

  /**
   * The FlexiDepth adapter, a SwiGLU with the released checkpoint's swapped names:
   * up_proj(silu(gate_proj(u)) * down_proj(u)).
   */
  private adapter(i: number, u: string): string {
    const w = `${layerPrefix(i)}.router_proj`;
    return this.swiglu(`/model/layers.${i}/adapter`, u, { gate: `${w}.gate_proj`, up: `${w}.down_proj`, down: `${w}.up_proj` });
  }

  /** down(silu(gate(u)) * up(u)); node names follow the checkpoint's tensor names. */
  private swiglu(p: string, u: string, w: { gate: string; up: string; down: string }): string {
    const { g } = this;
    const node = (name: string): string => `${p}/${name.slice(name.lastIndexOf('.') + 1)}`;
    const project = (at: string, x: string, weight: string): string => this.project(node(at), x, `${weight}.weight`, [{ name: `${weight}.weight` }]);
    const gate = project(w.gate, u, w.gate);
    const up = project(w.up, u, w.up);
    const act = g.op(`${p}/act`, 'Mul', [gate, g.op(`${p}/act`, 'Sigmoid', [gate])]);
    return project(w.down, g.op(`${p}/gated`, 'Mul', [act, up]), w.down);
  }

  /** Rotates [B, heads, S, hd] at the positions [B, S] (Hugging Face rotate_half layout). */
  private rotary(path: string, x: string, positions: string, outputs?: string[]): string {
    return this.g.node(path, 'RotaryEmbedding', [x, positions, this.cosCache, this.sinCache], { interleaved: 0 }, 1, 'com.microsoft', outputs)[0]!;
  }

  /**
   * K and V of every row (and, for a plain layer, Q: one MatMul), split per head. K and V,
   * [B,kvH,S,hd], go to the graph output `present` (build): the caller appends them to its cache
   * buffers. The buffers come in as past.{i}.* [B,1,kvH,C,hd] and are read in place by attention;
   * nothing here copies the cache.
   *
   *   z ─ [q|]k|v MatMul ─ [B,S,heads,hd] ─ Transpose ─ Split ─ [q [B,H,S,hd]], k ─ rotary ─ present.key, present.value
   *
   * q_proj carries the 1/sqrt(hd) score scale (folded into its weights; RoPE is linear).
   */
  private projections(i: number, z: string, withQuery: boolean): { cache: Cache; q?: string } {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const w = `${layerPrefix(i)}.self_attn`;
    const kvH = cfg.numKvHeads;
    const H = cfg.numHeads;
    const hd = cfg.headDim;
    const parts = [
      ...(withQuery ? [{ name: `${w}.q_proj.weight`, scale: 1 / Math.sqrt(hd), rows: this.queryHeadOrder() }] : []),
      { name: `${w}.k_proj.weight` },
      { name: `${w}.v_proj.weight` },
    ];
    const tag = withQuery ? 'qkv_proj' : 'kv_proj';
    const heads = (withQuery ? H : 0) + 2 * kvH;
    const proj = this.project(`${p}/${tag}`, z, `${w}.${tag}.weight`, parts);
    const split = g.op(`${p}/${tag}`, 'Transpose', [g.op(`${p}/${tag}`, 'Reshape', [proj, g.int64s([0, -1, heads, hd])])], { perm: [0, 2, 1, 3] });
    const sizes = withQuery ? [H, kvH, kvH] : [kvH, kvH];
    const out = g.node(`${p}/${tag}`, 'Split', [split, g.int64s(sizes)], { axis: 1 }, sizes.length, '', [
      ...(withQuery ? [`${p}/${tag}/q`] : []),
      `${p}/${tag}/k`,
      `present.${i}.value`,
    ]);
    const kNew = this.rotary(`${p}/k_rotary`, out[out.length - 2]!, this.positionIds, [`present.${i}.key`]);
    this.presents.push(kNew, out[out.length - 1]!);
    // As the cache buffers are laid out: [B, 1, kvH, S, hd], so attention's products broadcast over the query groups.
    const grouped = (name: string, t: string): string => g.op(`${p}/${name}`, 'Unsqueeze', [t, g.int64s([1])]);
    return {
      cache: { k: `past.${i}.key`, v: `past.${i}.value`, kNew: grouped('k_new', kNew), vNew: grouped('v_new', out[out.length - 1]!) },
      ...(withQuery ? { q: out[0]! } : {}),
    };
  }

  /** The query projection of rows [.., d] (scaled by 1/sqrt(hd)): [.., H*hd]. */
  private queryProjection(i: number, z: string): string {
    const name = `${layerPrefix(i)}.self_attn.q_proj.weight`;
    return this.project(`/model/layers.${i}/attn/q_proj`, z, name, [{ name, scale: 1 / Math.sqrt(this.cfg.headDim), rows: this.queryHeadOrder() }]);
  }

  /** Projected queries [B, S, H*hd] as attention's heads [B, H, S, hd]. */
  private queryHeads(i: number, q: string): string {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn/q_heads`;
    return g.op(p, 'Transpose', [g.op(p, 'Reshape', [q, g.int64s([0, -1, cfg.numHeads, cfg.headDim])])], { perm: [0, 2, 1, 3] });
  }

  /**
   * Grouped-query attention of every row against the cache buffers' slots and the new rows, then
   * the output projection. Query heads come in (r, g) order (queryHeadOrder), so queries
   * [B, rep, kvH, S, hd] broadcast against keys and values [B, 1, kvH, T, hd]: the cache is read as
   * it is, with no repeat, transpose or concatenation, and every product has the S rows of one
   * query head (one row in a decode step: MLAS's single-row kernels, which do not pack the keys).
   * The scores of the two key sets are concatenated (rows x keys, small) and the probabilities split.
   *
   *   q [B,H,S,hd] ─ rotary ─ [B,rep,kvH,S,hd] ─┬─ qk (past K^T) ─┐
   *                                            └─ qk_new (K^T) ───┴─ Concat + bias [.., S, C+S] ─ Softmax ─ Split
   *   ─ pv (past V) + pv_new (new V) ─ Transpose ─ merged ─ o_proj (its inputs in the same head order)
   */
  private attention(i: number, qHeads: string, kv: Cache): string {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const w = `${layerPrefix(i)}.self_attn`;
    const H = cfg.numHeads;
    const kvH = cfg.numKvHeads;
    const hd = cfg.headDim;
    const qGroups = g.op(`${p}/q_groups`, 'Reshape', [this.rotary(`${p}/q_rotary`, qHeads, this.positionIds), g.int64s([0, H / kvH, kvH, -1, hd])]);
    const qk = (name: string, keys: string): string =>
      g.op(`${p}/${name}`, 'FusedMatMul', [qGroups, keys], { transB: 1, alpha: { float: 1 } }, 'com.microsoft');
    // The bias and softmax in float32: the bias's MASKED is past float16's range.
    const scores = this.toFloat(`${p}/scores`, g.op(`${p}/scores`, 'Concat', [qk('qk', kv.k), qk('qk_new', kv.kNew)], { axis: -1 }));
    const softmax = g.op(`${p}/softmax`, 'Softmax', [g.op(`${p}/bias`, 'Add', [scores, this.biasAll])], { axis: -1 });
    const probs = this.toAct(`${p}/softmax`, softmax); // [B, rep, kvH, S, C+S]
    const [pPast, pNew] = g.node(`${p}/probs`, 'Split', [probs, this.splitSizes], { axis: -1 }, 2);
    const pv = g.op(`${p}/pv`, 'Add', [g.op(`${p}/pv`, 'MatMul', [pPast!, kv.v]), g.op(`${p}/pv_new`, 'MatMul', [pNew!, kv.vNew])]); // [B, rep, kvH, S, hd]
    const merged = g.op(`${p}/merge`, 'Reshape', [g.op(`${p}/merge`, 'Transpose', [pv], { perm: [0, 3, 1, 2, 4] }), g.int64s([0, -1, H * hd])]);
    return this.project(`${p}/o_proj`, merged, `${w}.o_proj.weight`, [{ name: `${w}.o_proj.weight`, cols: this.queryHeadOrder() }]);
  }
}
