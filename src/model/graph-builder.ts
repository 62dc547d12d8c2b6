/**
 * Builds the decoder graph (with KV cache) of a Llama or FlexiDepth checkpoint, one method per
 * block, in the spirit of onnxruntime-genai's model builder.
 *
 * Graph contract (DESIGN.md):
 *   inputs   input_ids [1,S] int64, position_ids [1,S] int64, attention_mask [1,T] int64 (T = P+S),
 *            past.{i}.key / past.{i}.value [1,kvH,C,hd]: cache buffers of C >= P slots, the first P
 *            filled (the rest is never read: masked), and for `flexidepth` threshold [] float,
 *            for `random` route_full [R,1,S] bool (each routed layer's decision, drawn by the caller)
 *   outputs  logits [1,S,V], present.{i}.key / present.{i}.value [1,kvH,S,hd]: the new rows only,
 *            which the caller writes into its buffers at slots P..T-1 (DecoderSession.step),
 *            and for `flexidepth` and `random` gates [R,1,S] (R routed layers, in layer order);
 *            with `hiddenStates`, hidden.{i} [1,S,d]: the input of layer i, and hidden.{L} the last output
 *
 * Comparators (FLEXIDEPTH.md, "Comparators"): `static` is `full` without its `removedLayers` (no
 * past/present for them either: the layer is gone); `random` is `flexidepth` with each routed
 * layer's decision read from route_full instead of gate > threshold, so a skip takes the adapter
 * exactly as a FlexiDepth skip does.
 *
 * So a decode step neither concatenates nor copies out the cache: its cost grows with the cached
 * length only through attention's reads of the buffers.
 *
 * The batch size is 1: throughput comes from one session per worker, and per-token paths differ.
 * The S tokens are processed as rows. Attention is written out (MatMul/Softmax) with an additive
 * bias [S, C+S] rather than a fused causal kernel, because a routed layer runs attention for an
 * arbitrary subset of rows: the bias row of each token encodes its own causal limit and padding,
 * so gathering rows gathers their masks with them.
 */
import { ropeInverseFrequencies, type ModelConfig } from './config.ts';
import { layerPrefix, type Checkpoint } from './checkpoint.ts';
import { OnnxGraph } from './onnx-graph.ts';
import { UserError } from '../errors.ts';

export type Variant = 'full' | 'flexidepth' | 'static' | 'random';
export const VARIANTS: readonly Variant[] = ['full', 'flexidepth', 'static', 'random'];
/** The variants a checkpoint alone defines; `static` and `random` are matched to a study's FlexiDepth runs. */
export const MODEL_VARIANTS = ['full', 'flexidepth'] as const satisfies readonly Variant[];

/** What a graph is built as: a variant, the layers `static` removes, and whether the hidden states are outputs. */
export interface GraphSpec {
  variant: Variant;
  /** `static` only: the (routed) layers left out, ascending. */
  removedLayers?: readonly number[];
  /** Outputs hidden.{i} for Block Influence (comparators/block-influence.ts). */
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
export const GRAPH_BUILDER_VERSION = 11;

/** Additive attention bias for disallowed keys: large but finite, so softmax never sees -inf - -inf. */
const MASKED = -1e30;

/** A layer's keys and values: the cache buffers (graph inputs) and the new rows' [1,kvH,S,hd]. */
interface Cache {
  k: string;
  v: string;
  kNew: string;
  vNew: string;
}

/**
 * Rows of the current block: all N tokens as [1, N, ..], or a gathered subset as [M, ..] (the full
 * path of a routed layer). Their positions are [1, N] or [1, M].
 */
/** A row takes a routed layer's full path iff score [1, N] > cut []. */
interface Route {
  score: string;
  cut: string;
}

interface Rows {
  positions: string;
  /** The attention bias of these rows, [.., M, C+S] (broadcast over the query heads). */
  bias: string;
}

export class DecoderGraphBuilder {
  private readonly g = new OnnxGraph();
  private readonly cfg: ModelConfig;
  private readonly d: number;
  private readonly half: number;
  private inputIds = '';
  private shapeBS = '';
  private all!: Rows;
  private cosCache = '';
  private sinCache = '';
  private threshold = '';
  private routeFull = '';
  private readonly removed: ReadonlySet<number>;
  private readonly gates: string[] = [];
  /** The cache buffers' slot count C (past.*.key dim 2), and [C, S] for splitting attention's key axis. */
  private capacity = '';
  private splitSizes = '';
  /** The attention bias [1, N, C+S] and positions [1, N, 1] of all rows, for gathering routed rows. */
  private biasRows = '';
  private positionRows = '';

  private readonly variant: Variant;

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly spec: GraphSpec,
  ) {
    this.cfg = ckpt.config;
    this.d = this.cfg.hiddenSize;
    this.half = this.cfg.headDim / 2;
    this.variant = spec.variant;
    requireVariant(ckpt, spec.variant);
    this.removed = new Set(spec.variant === 'static' ? (spec.removedLayers ?? []) : []);
    for (const i of this.removed) {
      if (!this.cfg.routingLayers.includes(i)) throw new Error(`static: layer ${i} is not a routed layer of ${ckpt.dir}`);
    }
  }

  build(): OnnxGraph {
    const { cfg, g } = this;
    this.inputIds = g.input('input_ids', 'int64', [1, 'seq']);
    const positionIds = g.input('position_ids', 'int64', [1, 'seq']);
    const attentionMask = g.input('attention_mask', 'int64', [1, 'total']);
    const routers = hasRouters(this.variant);
    if (this.variant === 'flexidepth') this.threshold = g.input('threshold', 'float', []);
    if (this.variant === 'random') this.routeFull = g.input('route_full', 'bool', [cfg.routingLayers.length, 1, 'seq']);
    this.shapeBS = g.op('/model/shape_bs', 'Shape', [this.inputIds]);
    const kept = Array.from({ length: cfg.numLayers }, (_, i) => i).filter((i) => !this.removed.has(i));
    for (const i of kept) {
      for (const kind of ['key', 'value']) g.input(`past.${i}.${kind}`, 'float', [1, cfg.numKvHeads, 'capacity', cfg.headDim]);
    }
    const firstCache = `past.${kept[0]!}.key`;
    this.capacity = g.op('/model/capacity', 'Gather', [g.op('/model/capacity', 'Shape', [firstCache]), g.int64s([2], true)], { axis: 0 });

    let x = this.embed();
    const rotary = this.rotaryTables(positionIds);
    this.cosCache = rotary.cos;
    this.sinCache = rotary.sin;
    const bias = this.attentionBias(attentionMask); // [1, N, C+S]
    this.biasRows = bias;
    if (routers) this.positionRows = g.op('/model/position_rows', 'Unsqueeze', [positionIds, g.int64s([2])]); // [1, N, 1]
    this.all = { positions: rotary.positions, bias };
    for (let i = 0; i < cfg.numLayers; i++) {
      if (this.spec.hiddenStates === true) g.node(`/model/hidden.${i}`, 'Identity', [x], {}, 1, '', [g.output(`hidden.${i}`, 'float', [1, 'seq', this.d])]);
      if (this.removed.has(i)) continue;
      const routed = routers && cfg.routingLayers.includes(i);
      x = routed ? this.routedLayer(i, x) : this.layer(i, x);
    }
    if (this.spec.hiddenStates === true)
      g.node(`/model/hidden.${cfg.numLayers}`, 'Identity', [x], {}, 1, '', [g.output(`hidden.${cfg.numLayers}`, 'float', [1, 'seq', this.d])]);
    this.lmHead(x);
    if (routers) {
      const all = g.op('/model/gates', 'Concat', this.gates, { axis: 0 }); // [R, N]
      g.node('/model/gates', 'Unsqueeze', [all, g.int64s([1])], {}, 1, '', [g.output('gates', 'float', [this.gates.length, 1, 'seq'])]);
    }
    return g;
  }

  // ---- weights -------------------------------------------------------------------------------

  private weight(name: string): Float32Array {
    const t = this.ckpt.weights.get(name);
    if (t === undefined) throw new Error(`checkpoint tensor ${name} missing (loadCheckpoint validates this)`);
    return t.data;
  }

  /** A torch Linear weight [out, in] as a MatMul initializer [in, out], optionally scaled. */
  private linear(name: string, scale = 1, order: { out?: number[]; in?: number[] } = {}): string {
    if (this.g.hasInitializer(name)) return name;
    const t = this.ckpt.weights.get(name)!;
    const [out, inp] = t.shape as [number, number];
    const w = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) {
      const src = (order.out?.[o] ?? o) * inp;
      for (let k = 0; k < inp; k++) w[k * out + o] = t.data[src + (order.in?.[k] ?? k)]! * scale;
    }
    return this.g.initializer(name, [inp, out], w);
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
    const t = this.ckpt.weights.get(name)!;
    return this.g.initializer(name, t.shape, t.data);
  }

  // ---- model-level blocks ----------------------------------------------------------------------

  private embed(): string {
    const { g } = this;
    const table = g.initializer('model.embed_tokens.weight', [this.cfg.vocabSize, this.d], this.weight('model.embed_tokens.weight'));
    return g.op('/model/embed_tokens', 'Gather', [table, this.inputIds], { axis: 0 }); // [1, S, d]
  }

  /**
   * The rotary cos/sin caches [max_position_embeddings, hd/2] for ORT's RotaryEmbedding, computed in
   * float64 from the (possibly Llama-3-scaled) inverse frequencies, and the tokens' positions [1, S].
   */
  private rotaryTables(positionIds: string): { cos: string; sin: string; positions: string } {
    const maxPos = this.cfg.maxPositionEmbeddings;
    const inv = ropeInverseFrequencies(this.cfg);
    const cos = new Float32Array(maxPos * this.half);
    const sin = new Float32Array(maxPos * this.half);
    for (let pos = 0; pos < maxPos; pos++) {
      for (let j = 0; j < this.half; j++) {
        cos[pos * this.half + j] = Math.cos(pos * inv[j]!);
        sin[pos * this.half + j] = Math.sin(pos * inv[j]!);
      }
    }
    return {
      cos: this.g.initializer('/model/rotary/cos_cache', [maxPos, this.half], cos),
      sin: this.g.initializer('/model/rotary/sin_cache', [maxPos, this.half], sin),
      positions: positionIds,
    };
  }

  /**
   * The additive attention bias [S, C+S] over the key slots attention reads: the C slots of the
   * cache buffer (positions 0..C-1, of which the first P = T - S are filled) followed by the S new
   * rows (positions P..T-1). Query s (position P + s) may see cache slot j iff j < P and
   * attention_mask[j] = 1, and new row s' iff s' <= s and attention_mask[P + s'] = 1.
   *
   *   slot j [C] < P ─ And mask[min(j,T-1)] ─ Expand [S,C] ─┐
   *   s' [1,S] <= s [S,1] ─ And mask[P..T-1] ───────────────┴─ Concat ─ Where(0, MASKED)
   */
  private attentionBias(attentionMask: string): string {
    const { g } = this;
    const p = '/model/attn_bias';
    const zero = g.int64s([0], true);
    const one = g.int64s([1], true);
    const T = g.op(`${p}/total`, 'Gather', [g.op(`${p}/mask_shape`, 'Shape', [attentionMask]), one], { axis: 0 });
    const S = g.op(`${p}/seq`, 'Gather', [this.shapeBS, one], { axis: 0 });
    const P = g.op(`${p}/past`, 'Sub', [T, S]);
    const C = this.capacity;
    const mask = g.op(`${p}/mask`, 'Cast', [g.op(`${p}/mask`, 'Reshape', [attentionMask, g.int64s([-1])])], { to: 9 }); // [T] bool
    // Cache slots: filled and not padding; the same for every query row.
    const slot = g.op(`${p}/slot`, 'Range', [zero, C, one]);
    const slotMask = g.op(`${p}/slot_mask`, 'Gather', [mask, g.op(`${p}/slot_clamp`, 'Min', [slot, g.op(`${p}/last`, 'Sub', [T, one])])], { axis: 0 });
    const cached = g.op(`${p}/cached`, 'And', [g.op(`${p}/filled`, 'Less', [slot, P]), slotMask]);
    const s1 = g.op(`${p}/s_1d`, 'Unsqueeze', [S, g.int64s([0])]);
    const c1 = g.op(`${p}/c_1d`, 'Unsqueeze', [C, g.int64s([0])]);
    const cachedRows = g.op(`${p}/cached_rows`, 'Expand', [cached, g.op(`${p}/s_c`, 'Concat', [s1, c1], { axis: 0 })]); // [S, C]
    // New rows: causal among themselves.
    const q = g.op(`${p}/query`, 'Range', [zero, S, one]);
    const causal = g.op(`${p}/causal`, 'LessOrEqual', [g.op(`${p}/key`, 'Unsqueeze', [q, g.int64s([0])]), g.op(`${p}/query`, 'Unsqueeze', [q, g.int64s([1])])]);
    const newMask = g.op(`${p}/new_mask`, 'Slice', [
      mask,
      g.op(`${p}/past_1d`, 'Unsqueeze', [P, g.int64s([0])]),
      g.op(`${p}/total_1d`, 'Unsqueeze', [T, g.int64s([0])]),
    ]);
    const fresh = g.op(`${p}/fresh`, 'And', [causal, newMask]); // [S, S]
    const allowed = g.op(`${p}/allowed`, 'Concat', [cachedRows, fresh], { axis: 1 });
    this.splitSizes = g.op(`${p}/split_sizes`, 'Concat', [c1, s1], { axis: 0 });
    return g.op(`${p}/bias`, 'Where', [g.op(`${p}/allowed`, 'Unsqueeze', [allowed, g.int64s([0])]), g.float(0), g.float(MASKED)]);
  }

  private lmHead(x: string): void {
    const { g, cfg } = this;
    const normed = this.rmsNorm('/model/norm', x, 'model.norm.weight');
    let w: string;
    if (cfg.tieWordEmbeddings) {
      const emb = this.weight('model.embed_tokens.weight');
      const V = cfg.vocabSize;
      const t = new Float32Array(V * this.d);
      for (let v = 0; v < V; v++) for (let k = 0; k < this.d; k++) t[k * V + v] = emb[v * this.d + k]!;
      w = g.initializer('lm_head.weight', [this.d, V], t);
    } else {
      w = this.linear('lm_head.weight');
    }
    g.node('/lm_head', 'MatMul', [normed, w], {}, 1, '', [g.output('logits', 'float', [1, 'seq', cfg.vocabSize])]);
  }

  // ---- layer blocks --------------------------------------------------------------------------

  private rmsNorm(path: string, x: string, weightName: string): string {
    return this.g.op(path, 'SimplifiedLayerNormalization', [x, this.vector(weightName)], { axis: -1, epsilon: { float: this.cfg.rmsNormEps }, stash_type: 1 });
  }

  /** A plain Llama layer over all rows: h = x + Attn(InNorm(x)); y = h + FFN(PostNorm(h)). */
  private layer(i: number, x: string): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const z = this.rmsNorm(`${p}/input_layernorm`, x, `${layerPrefix(i)}.input_layernorm.weight`);
    const { cache, q } = this.projections(i, z, true);
    const h = g.op(`${p}/attn/residual`, 'Add', [x, this.attention(i, q!, this.all, cache)]);
    const u = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${layerPrefix(i)}.post_attention_layernorm.weight`);
    return g.op(`${p}/mlp/residual`, 'Add', [h, this.mlp(i, u)]);
  }

  /**
   * A FlexiDepth routed layer (FLEXIDEPTH.md, "One routed layer, exactly"). The input norm, the
   * router and K/V run for every token. Then `If`s on the gates pick one of three bodies: every row
   * takes the full path (all rows, no gather or scatter), no row does (the adapter on all rows), or
   * the rows split (gather/scatter, routedRows, node names suffixed `@p`). A single-token step is
   * always one of the first two, so the path it does not take runs no kernel, and it pays one `If`
   * when taking the full path and two when skipping. Each `If` costs a subgraph run on top of its
   * kernels, so the conditions are not nested deeper: testing S = 1 first (If S = 1, then If g >
   * threshold) measured no faster than gather/scatter at threshold 0.5 and 4% slower at 0.
   *
   *   x ─ InNorm ─ z ─┬─ router ─ g ──┐
   *                   └─ K,V ─ present ┴─ If min g > threshold ─ then: full path on all rows ─ y
   *                                      └─ else: If max g <= threshold ─ then: adapter on all rows ─ y
   *                                                                     └─ else: gather/scatter ─ y
   */
  private routedLayer(i: number, x: string): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const w = layerPrefix(i);
    const z = this.rmsNorm(`${p}/input_layernorm`, x, `${w}.input_layernorm.weight`);
    const gate = this.router(i, z); // [1, N, 1]
    const flat = g.op(`${p}/router/gates`, 'Reshape', [gate, g.int64s([1, -1])]); // [1, N]
    this.gates.push(flat);
    const route = this.route(i, flat);
    const keys = this.projections(i, z, false).cache;

    const full = g.subgraph(`${p}/full`, undefined, () => {
      const zRows = g.op(`${p}/attn/z_rows`, 'Reshape', [z, g.int64s([-1, this.d])]); // [N, d]
      const h = g.op(`${p}/attn/residual`, 'Add', [x, this.attention(i, this.queryProjection(i, zRows), this.all, keys)]);
      const u = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${w}.post_attention_layernorm.weight`);
      return [g.op(`${p}/mlp/residual`, 'Add', [h, g.op(`${p}/mlp/scale`, 'Mul', [gate, this.mlp(i, u)])])];
    });
    const skip = g.subgraph(`${p}/skip`, undefined, () => {
      const u = this.rmsNorm(`${p}/adapter/post_attention_layernorm`, x, `${w}.post_attention_layernorm.weight`);
      const oneMinus = g.op(`${p}/adapter/one_minus_gate`, 'Sub', [g.float(1), gate]);
      return [g.op(`${p}/adapter/residual`, 'Add', [x, g.op(`${p}/adapter/scale`, 'Mul', [oneMinus, this.adapter(i, u)])])];
    });
    const split = g.subgraph(`${p}/split`, '@p', () => [this.routedRows(i, x, z, gate, route, keys)]);
    const rest = g.subgraph(`${p}/rest`, undefined, () => {
      const none = g.op(`${p}/route/none_full`, 'LessOrEqual', [g.op(`${p}/route/max_gate`, 'ReduceMax', [route.score], { keepdims: 0 }), route.cut]);
      return [g.op(`${p}/route/none_full`, 'If', [none], { then_branch: skip, else_branch: split })];
    });
    const all = g.op(`${p}/route/all_full`, 'Greater', [g.op(`${p}/route/min_gate`, 'ReduceMin', [route.score], { keepdims: 0 }), route.cut]);
    return g.op(`${p}/route/all_full`, 'If', [all], { then_branch: full, else_branch: rest });
  }

  /**
   * What a routed layer's rows are routed by: a row takes the full path iff score > cut. FlexiDepth
   * compares its gates [1, N] with the threshold; `random` reads its decisions from route_full
   * (layer r of the routed layers) as 0/1 against 0.5.
   */
  private route(i: number, gates: string): Route {
    if (this.variant !== 'random') return { score: gates, cut: this.threshold };
    const { g } = this;
    const p = `/model/layers.${i}/route`;
    const r = this.cfg.routingLayers.indexOf(i);
    const drawn = g.op(`${p}/drawn`, 'Gather', [this.routeFull, g.int64s([r], true)], { axis: 0 }); // [1, N]
    return { score: g.op(`${p}/drawn`, 'Cast', [drawn], { to: 1 }), cut: g.float(0.5) };
  }

  /**
   * A routed layer whose rows split between the paths (a prefill). Only the full-path rows
   * reach the query projection, attention and FFN; only the skip-path rows reach the adapter. One
   * index set per path ([M, 2] pairs (0, row)) serves every gather and the scatter of that path.
   *
   *   x ─ InNorm ─ z ─┬─ router ─ g ─ g > threshold ─ NonZero ─ full rows / skip rows
   *                   └─ K,V for all rows ─ present
   *   full rows: h = x + Attn(z);  y = h + g * FFN(PostNorm(h))
   *   skip rows: y = x + (1 - g) * Adapter(PostNorm(x))
   *   y = ScatterND(ScatterND(x, full rows, y_full), skip rows, y_skip)
   */
  private routedRows(i: number, x: string, z: string, gate: string, route: Route, keys: Cache): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const w = layerPrefix(i);
    const rowsWhere = (tag: string, op: string): string =>
      g.op(`${p}/route/${tag}_idx`, 'Transpose', [g.op(`${p}/route/${tag}_idx`, 'NonZero', [g.op(`${p}/route/${tag}`, op, [route.score, route.cut])])], {
        perm: [1, 0],
      });
    const fullIdx = rowsWhere('full', 'Greater');
    const skipIdx = rowsWhere('skip', 'LessOrEqual');
    const pick = (what: string, t: string, idx: string, tag: string): string => g.op(`${p}/route/${tag}_${what}`, 'GatherND', [t, idx]);

    // Full path on the gathered rows.
    const positions = g.op(`${p}/route/full_positions`, 'Transpose', [pick('positions', this.positionRows, fullIdx, 'full')], { perm: [1, 0] }); // [1, M]
    const rows: Rows = { positions, bias: pick('bias', this.biasRows, fullIdx, 'full') }; // bias [M, C+S]
    const xFull = pick('x', x, fullIdx, 'full');
    const h = g.op(`${p}/attn/residual`, 'Add', [xFull, this.attention(i, this.queryProjection(i, pick('z', z, fullIdx, 'full')), rows, keys)]);
    const uFull = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${w}.post_attention_layernorm.weight`);
    const ffn = g.op(`${p}/mlp/scale`, 'Mul', [pick('gate', gate, fullIdx, 'full'), this.mlp(i, uFull)]);
    const yFull = g.op(`${p}/mlp/residual`, 'Add', [h, ffn]);

    // Skip path: the same frozen PostNorm, then the adapter scaled by (1 - g).
    const xSkip = pick('x', x, skipIdx, 'skip');
    const uSkip = this.rmsNorm(`${p}/adapter/post_attention_layernorm`, xSkip, `${w}.post_attention_layernorm.weight`);
    const oneMinus = g.op(`${p}/adapter/one_minus_gate`, 'Sub', [g.float(1), pick('gate', gate, skipIdx, 'skip')]);
    const adapted = g.op(`${p}/adapter/scale`, 'Mul', [oneMinus, this.adapter(i, uSkip)]);
    const ySkip = g.op(`${p}/adapter/residual`, 'Add', [xSkip, adapted]);

    const merged = g.op(`${p}/route/scatter_full`, 'ScatterND', [x, fullIdx, yFull]);
    return g.op(`${p}/route/scatter_skip`, 'ScatterND', [merged, skipIdx, ySkip]);
  }

  /**
   * g = sigmoid(head(dec(tanh(RMSNorm_r(enc(z)))))), [1, N, 1]. head and dec are linear with nothing
   * between them, so they are folded into one [r, 1] vector (computed in float64).
   */
  private router(i: number, z: string): string {
    const { g } = this;
    const p = `/model/layers.${i}/router`;
    const w = `${layerPrefix(i)}.router`;
    const enc = g.op(`${p}/router_enc`, 'MatMul', [z, this.linear(`${w}.router_enc.weight`)]);
    const normed = this.rmsNorm(`${p}/router_norm`, enc, `${w}.router_norm.weight`);
    const dec = this.ckpt.weights.get(`${w}.router_dec.weight`)!; // [d, r]
    const head = this.weight(`${w}.router_head.weight`); // [1, d]
    const [d, r] = dec.shape as [number, number];
    const folded = new Float32Array(r);
    for (let k = 0; k < r; k++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += dec.data[j * r + k]! * head[j]!;
      folded[k] = sum;
    }
    const wHead = g.initializer(`${w}.router_head_dec`, [r, 1], folded);
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
    const gate = g.op(node(w.gate), 'MatMul', [u, this.linear(`${w.gate}.weight`)]);
    const up = g.op(node(w.up), 'MatMul', [u, this.linear(`${w.up}.weight`)]);
    const act = g.op(`${p}/act`, 'Mul', [gate, g.op(`${p}/act`, 'Sigmoid', [gate])]);
    return g.op(node(w.down), 'MatMul', [g.op(`${p}/gated`, 'Mul', [act, up]), this.linear(`${w.down}.weight`)]);
  }

  /** torch Linear weights [out_k, in] side by side as one MatMul initializer [in, sum out_k], each scaled. */
  private linearConcat(name: string, parts: { name: string; scale: number; order?: number[] }[]): string {
    const ts = parts.map((part) => ({ ...part, t: this.ckpt.weights.get(part.name)! }));
    const inp = ts[0]!.t.shape[1]!;
    const total = ts.reduce((n, part) => n + part.t.shape[0]!, 0);
    const w = new Float32Array(inp * total);
    let col = 0;
    for (const { t, scale, order } of ts) {
      const out = t.shape[0]!;
      for (let o = 0; o < out; o++) {
        const src = (order?.[o] ?? o) * inp;
        for (let k = 0; k < inp; k++) w[k * total + col + o] = t.data[src + k]! * scale;
      }
      col += out;
    }
    return this.g.initializer(name, [inp, total], w);
  }

  /** Rotates [1, heads, M, hd] at the rows' positions [1, M] (Hugging Face rotate_half layout). */
  private rotary(path: string, x: string, rows: Rows, outputs?: string[]): string {
    return this.g.node(path, 'RotaryEmbedding', [x, rows.positions, this.cosCache, this.sinCache], { interleaved: 0 }, 1, 'com.microsoft', outputs)[0]!;
  }

  /**
   * K and V of every row (and, for a plain layer, Q: one MatMul), split per head. K and V,
   * [1,kvH,S,hd], are written straight to the graph outputs present.{i}.key/value: the caller
   * appends them to its cache buffers. The buffers come in as past.{i}.* [1,kvH,C,hd] and are read
   * in place by attention; nothing here copies the cache.
   *
   *   z ─ [q|]k|v MatMul ─ [1,S,heads,hd] ─ Transpose ─ Split ─ [q [1,H,S,hd]], k ─ rotary ─ present.key, present.value
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
      ...(withQuery ? [{ name: `${w}.q_proj.weight`, scale: 1 / Math.sqrt(hd), order: this.queryHeadOrder() }] : []),
      { name: `${w}.k_proj.weight`, scale: 1 },
      { name: `${w}.v_proj.weight`, scale: 1 },
    ];
    const tag = withQuery ? 'qkv_proj' : 'kv_proj';
    const heads = (withQuery ? H : 0) + 2 * kvH;
    const proj = g.op(`${p}/${tag}`, 'MatMul', [z, this.linearConcat(`${w}.${tag}.weight`, parts)]);
    const split = g.op(`${p}/${tag}`, 'Transpose', [g.op(`${p}/${tag}`, 'Reshape', [proj, g.int64s([1, -1, heads, hd])])], { perm: [0, 2, 1, 3] });
    const sizes = withQuery ? [H, kvH, kvH] : [kvH, kvH];
    const out = g.node(`${p}/${tag}`, 'Split', [split, g.int64s(sizes)], { axis: 1 }, sizes.length, '', [
      ...(withQuery ? [`${p}/${tag}/q`] : []),
      `${p}/${tag}/k`,
      g.output(`present.${i}.value`, 'float', [1, kvH, 'seq', hd]),
    ]);
    const kNew = this.rotary(`${p}/k_rotary`, out[out.length - 2]!, this.all, [g.output(`present.${i}.key`, 'float', [1, kvH, 'seq', hd])]);
    return { cache: { k: `past.${i}.key`, v: `past.${i}.value`, kNew, vNew: out[out.length - 1]! }, ...(withQuery ? { q: out[0]! } : {}) };
  }

  /** The query projection of gathered rows [M, d] as [1, H, M, hd] (scaled by 1/sqrt(hd)). */
  private queryProjection(i: number, z: string): string {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const q = g.op(`${p}/q_proj`, 'MatMul', [
      z,
      this.linear(`${layerPrefix(i)}.self_attn.q_proj.weight`, 1 / Math.sqrt(cfg.headDim), { out: this.queryHeadOrder() }),
    ]);
    return g.op(`${p}/q_heads`, 'Transpose', [g.op(`${p}/q_heads`, 'Reshape', [q, g.int64s([1, -1, cfg.numHeads, cfg.headDim])])], { perm: [0, 2, 1, 3] });
  }

  /**
   * Grouped-query attention of the given rows against the cache buffer's slots and the new rows,
   * then the output projection. Query heads come in (r, g) order (queryHeadOrder), so queries
   * [rep, kvH, M, hd] broadcast against keys and values [1, kvH, T, hd]: the cache is read as it is,
   * with no repeat, transpose or concatenation, and every product has the M rows of one query head
   * (one row in a decode step: MLAS's single-row kernels, which do not pack the keys). The scores of
   * the two key sets are concatenated (rows x keys, small) and the probabilities split.
   *
   *   q [1,H,M,hd] ─ rotary ─ [rep,kvH,M,hd] ─┬─ qk (past K^T) ─┐
   *                                           └─ qk_new (K^T) ───┴─ Concat + bias [M,C+S] ─ Softmax ─ Split
   *   ─ pv (past V) + pv_new (new V) ─ Transpose ─ [M, rep*kvH*hd] ─ o_proj (its inputs in the same head order)
   */
  private attention(i: number, qHeads: string, rows: Rows, kv: Cache): string {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const w = `${layerPrefix(i)}.self_attn`;
    const H = cfg.numHeads;
    const kvH = cfg.numKvHeads;
    const hd = cfg.headDim;
    const qGroups = g.op(`${p}/q_groups`, 'Reshape', [this.rotary(`${p}/q_rotary`, qHeads, rows), g.int64s([H / kvH, kvH, -1, hd])]);
    const qk = (name: string, keys: string): string =>
      g.op(`${p}/${name}`, 'FusedMatMul', [qGroups, keys], { transB: 1, alpha: { float: 1 } }, 'com.microsoft');
    const scores = g.op(`${p}/scores`, 'Concat', [qk('qk', kv.k), qk('qk_new', kv.kNew)], { axis: -1 });
    const probs = g.op(`${p}/softmax`, 'Softmax', [g.op(`${p}/bias`, 'Add', [scores, rows.bias])], { axis: -1 }); // [rep, kvH, M, C+S]
    const [pPast, pNew] = g.node(`${p}/probs`, 'Split', [probs, this.splitSizes], { axis: -1 }, 2);
    const pv = g.op(`${p}/pv`, 'Add', [g.op(`${p}/pv`, 'MatMul', [pPast!, kv.v]), g.op(`${p}/pv_new`, 'MatMul', [pNew!, kv.vNew])]); // [rep, kvH, M, hd]
    const merged = g.op(`${p}/merge`, 'Reshape', [g.op(`${p}/merge`, 'Transpose', [pv], { perm: [2, 0, 1, 3] }), g.int64s([-1, H * hd])]);
    return g.op(`${p}/o_proj`, 'MatMul', [merged, this.linear(`${w}.o_proj.weight`, 1, { in: this.queryHeadOrder() })]);
  }
}
