/**
 * Builds the decoder graph (with KV cache) of a Llama or FlexiDepth checkpoint, one method per
 * block, in the spirit of onnxruntime-genai's model builder.
 *
 * Graph contract (DESIGN.md):
 *   inputs   input_ids [1,S] int64, position_ids [1,S] int64, attention_mask [1,T] int64 (T = P+S),
 *            past.{i}.key / past.{i}.value [1,kvH,P,hd], and for `flexidepth` threshold [] float
 *   outputs  logits [1,S,V], present.{i}.key / present.{i}.value [1,kvH,T,hd],
 *            and for `flexidepth` gates [R,1,S] (R routed layers, in layer order)
 *
 * The batch size is 1: throughput comes from one session per worker, and per-token paths differ.
 * The S tokens are processed as rows. Attention is written out (MatMul/Softmax) with an additive
 * bias [S, T] rather than a fused causal kernel, because a routed layer runs attention for an
 * arbitrary subset of rows: the bias row of each token encodes its own causal limit and padding,
 * so gathering rows gathers their masks with them.
 */
import { ropeInverseFrequencies, type ModelConfig } from './config.ts';
import { layerPrefix, type Checkpoint } from './checkpoint.ts';
import { OnnxGraph } from './onnx-graph.ts';
import { UserError } from '../errors.ts';

export type Variant = 'full' | 'flexidepth';
export const VARIANTS: readonly Variant[] = ['full', 'flexidepth'];

/** Refuses, in one line naming the checkpoint, a variant this checkpoint cannot be built as. */
export function requireVariant(ckpt: Pick<Checkpoint, 'dir' | 'config'>, variant: Variant): void {
  if (variant === 'flexidepth' && ckpt.config.routingLayers.length === 0) {
    throw new UserError(
      `${ckpt.dir}: variant flexidepth needs a FlexiDepth checkpoint (model_type ddllama with routing_layers); this one is a plain ${ckpt.config.modelType}`,
    );
  }
}

/** Bumped whenever the emitted graph changes, so cached graphs are rebuilt. */
export const GRAPH_BUILDER_VERSION = 4;

/** Additive attention bias for disallowed keys: large but finite, so softmax never sees -inf - -inf. */
const MASKED = -1e30;

/** Rows of the current block: all N tokens, or a gathered subset (the full path of a routed layer). */
interface Rows {
  positions: string; // [1, M] int64
  bias: string; // [M, T]
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
  private readonly gates: string[] = [];

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly variant: Variant,
  ) {
    this.cfg = ckpt.config;
    this.d = this.cfg.hiddenSize;
    this.half = this.cfg.headDim / 2;
    requireVariant(ckpt, variant);
  }

  build(): OnnxGraph {
    const { cfg, g } = this;
    this.inputIds = g.input('input_ids', 'int64', [1, 'seq']);
    const positionIds = g.input('position_ids', 'int64', [1, 'seq']);
    const attentionMask = g.input('attention_mask', 'int64', [1, 'total']);
    if (this.variant === 'flexidepth') this.threshold = g.input('threshold', 'float', []);
    this.shapeBS = g.op('/model/shape_bs', 'Shape', [this.inputIds]);

    let x = this.embed();
    const rotary = this.rotaryTables(positionIds);
    this.cosCache = rotary.cos;
    this.sinCache = rotary.sin;
    this.all = { positions: rotary.positions, bias: this.attentionBias(attentionMask) };
    for (let i = 0; i < cfg.numLayers; i++) {
      const routed = this.variant === 'flexidepth' && cfg.routingLayers.includes(i);
      x = routed ? this.routedLayer(i, x) : this.layer(i, x);
    }
    this.lmHead(x);
    if (this.variant === 'flexidepth') {
      g.node('/model/gates', 'Concat', this.gates, { axis: 0 }, 1, '', [g.output('gates', 'float', [this.gates.length, 1, 'seq'])]);
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
  private linear(name: string, scale = 1): string {
    if (this.g.hasInitializer(name)) return name;
    const t = this.ckpt.weights.get(name)!;
    const [out, inp] = t.shape as [number, number];
    const w = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) for (let k = 0; k < inp; k++) w[k * out + o] = t.data[o * inp + k]! * scale;
    return this.g.initializer(name, [inp, out], w);
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
    const ids = g.op('/model/embed_tokens/flatten', 'Reshape', [this.inputIds, g.int64s([-1])]);
    return g.op('/model/embed_tokens', 'Gather', [table, ids], { axis: 0 });
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
   * The additive attention bias [S, T]: query s (cache index P + s) may see key k iff k <= P + s and
   * attention_mask[k] = 1.
   *
   *   key_idx [1,T] <= query_idx [S,1] ─┐
   *   attention_mask [1,T] ─────────────┴─ And ─ Where(0, MASKED)
   */
  private attentionBias(attentionMask: string): string {
    const { g } = this;
    const p = '/model/attn_bias';
    const zero = g.int64s([0], true);
    const one = g.int64s([1], true);
    const T = g.op(`${p}/total`, 'Gather', [g.op(`${p}/mask_shape`, 'Shape', [attentionMask]), one], { axis: 0 });
    const S = g.op(`${p}/seq`, 'Gather', [this.shapeBS, one], { axis: 0 });
    const keyIdx = g.op(`${p}/key_idx`, 'Unsqueeze', [g.op(`${p}/key_idx`, 'Range', [zero, T, one]), g.int64s([0])]);
    const queryIdx = g.op(`${p}/query_idx`, 'Add', [g.op(`${p}/query_from`, 'Range', [zero, S, one]), g.op(`${p}/past`, 'Sub', [T, S])]);
    const causal = g.op(`${p}/causal`, 'LessOrEqual', [keyIdx, g.op(`${p}/query_idx`, 'Unsqueeze', [queryIdx, g.int64s([1])])]);
    const allowed = g.op(`${p}/allowed`, 'And', [causal, g.op(`${p}/padding`, 'Cast', [attentionMask], { to: 9 })]);
    return g.op(`${p}/bias`, 'Where', [allowed, g.float(0), g.float(MASKED)]);
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
    const flat = g.op('/lm_head', 'MatMul', [normed, w]);
    const shape = g.op('/lm_head/shape', 'Concat', [this.shapeBS, g.int64s([-1])], { axis: 0 });
    g.node('/lm_head', 'Reshape', [flat, shape], {}, 1, '', [g.output('logits', 'float', [1, 'seq', cfg.vocabSize])]);
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
    const keys = this.keyValueCache(i, z);
    const h = g.op(`${p}/attn/residual`, 'Add', [x, this.attention(i, z, this.all, keys)]);
    const u = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${layerPrefix(i)}.post_attention_layernorm.weight`);
    return g.op(`${p}/mlp/residual`, 'Add', [h, this.mlp(i, u)]);
  }

  /**
   * A FlexiDepth routed layer (FLEXIDEPTH.md, "One routed layer, exactly"). Only the full-path rows
   * reach the query projection, attention and FFN; only the skip-path rows reach the adapter.
   *
   *   x ─ InNorm ─ z ─┬─ router ─ g ─ g > threshold ─ NonZero ─ full rows / skip rows
   *                   └─ K,V for all rows ─ present
   *   full rows: h = x + Attn(z);  y = h + g * FFN(PostNorm(h))
   *   skip rows: y = x + (1 - g) * Adapter(PostNorm(x))
   *   y = ScatterND(ScatterND(x, full rows, y_full), skip rows, y_skip)
   */
  private routedLayer(i: number, x: string): string {
    const { g } = this;
    const p = `/model/layers.${i}`;
    const w = layerPrefix(i);
    const z = this.rmsNorm(`${p}/input_layernorm`, x, `${w}.input_layernorm.weight`);
    const gate = this.router(i, z); // [N, 1]
    this.gates.push(g.op(`${p}/router/gates`, 'Reshape', [gate, g.op(`${p}/router/gates_shape`, 'Concat', [g.int64s([1]), this.shapeBS], { axis: 0 })]));
    const keys = this.keyValueCache(i, z);

    const full = g.op(`${p}/route/full`, 'Greater', [g.op(`${p}/route/flat`, 'Reshape', [gate, g.int64s([-1])]), this.threshold]);
    const fullIdx = g.op(`${p}/route/full_idx`, 'Transpose', [g.op(`${p}/route/full_idx`, 'NonZero', [full])], { perm: [1, 0] }); // [M,1]
    const skipIdx = g.op(`${p}/route/skip_idx`, 'Transpose', [g.op(`${p}/route/skip_idx`, 'NonZero', [g.op(`${p}/route/skip`, 'Not', [full])])], {
      perm: [1, 0],
    });
    const fullRows = g.op(`${p}/route/full_rows`, 'Reshape', [fullIdx, g.int64s([-1])]);
    const skipRows = g.op(`${p}/route/skip_rows`, 'Reshape', [skipIdx, g.int64s([-1])]);
    const pick = (what: string, t: string, rows: string, tag: string, axis = 0): string => g.op(`${p}/route/${tag}_${what}`, 'Gather', [t, rows], { axis });

    // Full path on the gathered rows.
    const rows: Rows = { positions: pick('positions', this.all.positions, fullRows, 'full', 1), bias: pick('bias', this.all.bias, fullRows, 'full') };
    const xFull = pick('x', x, fullRows, 'full');
    const h = g.op(`${p}/attn/residual`, 'Add', [xFull, this.attention(i, pick('z', z, fullRows, 'full'), rows, keys)]);
    const uFull = this.rmsNorm(`${p}/post_attention_layernorm`, h, `${w}.post_attention_layernorm.weight`);
    const ffn = g.op(`${p}/mlp/scale`, 'Mul', [pick('gate', gate, fullRows, 'full'), this.mlp(i, uFull)]);
    const yFull = g.op(`${p}/mlp/residual`, 'Add', [h, ffn]);

    // Skip path: the same frozen PostNorm, then the adapter scaled by (1 - g).
    const xSkip = pick('x', x, skipRows, 'skip');
    const uSkip = this.rmsNorm(`${p}/adapter/post_attention_layernorm`, xSkip, `${w}.post_attention_layernorm.weight`);
    const oneMinus = g.op(`${p}/adapter/one_minus_gate`, 'Sub', [g.float(1), pick('gate', gate, skipRows, 'skip')]);
    const adapted = g.op(`${p}/adapter/scale`, 'Mul', [oneMinus, this.adapter(i, uSkip)]);
    const ySkip = g.op(`${p}/adapter/residual`, 'Add', [xSkip, adapted]);

    const merged = g.op(`${p}/route/scatter_full`, 'ScatterND', [x, fullIdx, yFull]);
    return g.op(`${p}/route/scatter_skip`, 'ScatterND', [merged, skipIdx, ySkip]);
  }

  /** g = sigmoid(head(dec(tanh(RMSNorm_r(enc(z)))))), [N, 1]. */
  private router(i: number, z: string): string {
    const { g } = this;
    const p = `/model/layers.${i}/router`;
    const w = `${layerPrefix(i)}.router`;
    const enc = g.op(`${p}/router_enc`, 'MatMul', [z, this.linear(`${w}.router_enc.weight`)]);
    const normed = this.rmsNorm(`${p}/router_norm`, enc, `${w}.router_norm.weight`);
    const dec = g.op(`${p}/router_dec`, 'MatMul', [g.op(`${p}/tanh`, 'Tanh', [normed]), this.linear(`${w}.router_dec.weight`)]);
    const logit = g.op(`${p}/router_head`, 'MatMul', [dec, this.linear(`${w}.router_head.weight`)]);
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

  /** Rotates rows [M, heads*hd] at their positions (Hugging Face rotate_half layout); returns [1, M, heads*hd]. */
  private rotary(path: string, x: string, rows: Rows, heads: number): string {
    const { g } = this;
    const batched = g.op(path, 'Unsqueeze', [x, g.int64s([0])]);
    return g.op(path, 'RotaryEmbedding', [batched, rows.positions, this.cosCache, this.sinCache], { interleaved: 0, num_heads: heads }, 'com.microsoft');
  }

  /**
   * K and V of every row, appended to the cache: present = Concat(past, new) [1,kvH,T,hd], written
   * straight to the graph outputs. Returns them as [kvH, T, hd] for attention (a reshape, no copy).
   */
  private keyValueCache(i: number, z: string): { k: string; v: string } {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const w = `${layerPrefix(i)}.self_attn`;
    const kvH = cfg.numKvHeads;
    const hd = cfg.headDim;
    const k = this.rotary(`${p}/k_rotary`, g.op(`${p}/k_proj`, 'MatMul', [z, this.linear(`${w}.k_proj.weight`)]), this.all, kvH);
    const v = g.op(`${p}/v_proj`, 'MatMul', [z, this.linear(`${w}.v_proj.weight`)]);
    const out: string[] = [];
    for (const [kind, rows] of [
      ['key', k],
      ['value', v],
    ] as const) {
      const past = g.input(`past.${i}.${kind}`, 'float', [1, kvH, 'past', hd]);
      // [.., S, kvH*hd] -> [1, S, kvH, hd] -> [1, kvH, S, hd]
      const fresh = g.op(`${p}/${kind}_new`, 'Transpose', [g.op(`${p}/${kind}_new`, 'Reshape', [rows, g.int64s([1, -1, kvH, hd])])], { perm: [0, 2, 1, 3] });
      const [present] = g.node(`${p}/${kind}_cache`, 'Concat', [past, fresh], { axis: 2 }, 1, '', [
        g.output(`present.${i}.${kind}`, 'float', [1, kvH, 'total', hd]),
      ]);
      out.push(g.op(`${p}/${kind}_heads`, 'Reshape', [present!, g.int64s([kvH, -1, hd])]));
    }
    return { k: out[0]!, v: out[1]! };
  }

  /**
   * Grouped-query attention of the given rows against every cached key, then the output
   * projection. Query heads are grouped by their key head ([kvH, rep*M, hd]), so the cache is used
   * as it is, with no repeat or transpose of keys and values.
   *
   *   z_rows ─ q_proj (scaled) ─ rotary ─ [M,H,hd] ─ Transpose ─ [kvH, rep*M, hd] ─┐
   *   keys [kvH,T,hd] ─────────────────────────────────────── MatMul(.., K^T) ─ [kvH,rep*M,T] + bias ─ Softmax
   *   ─ MatMul values [kvH,T,hd] ─ [H,M,hd] ─ Transpose ─ [M, H*hd] ─ o_proj
   */
  private attention(i: number, z: string, rows: Rows, kv: { k: string; v: string }): string {
    const { g, cfg } = this;
    const p = `/model/layers.${i}/attn`;
    const w = `${layerPrefix(i)}.self_attn`;
    const H = cfg.numHeads;
    const kvH = cfg.numKvHeads;
    const rep = H / kvH;
    const hd = cfg.headDim;
    // q_proj carries the 1/sqrt(hd) score scale (folded into its weights; RoPE is linear).
    const q = g.op(`${p}/q_proj`, 'MatMul', [z, this.linear(`${w}.q_proj.weight`, 1 / Math.sqrt(hd))]);
    const qRot = g.op(`${p}/q_rotary`, 'Reshape', [this.rotary(`${p}/q_rotary`, q, rows, H), g.int64s([-1, H, hd])]);
    const qGroups = g.op(`${p}/q_groups`, 'Reshape', [g.op(`${p}/q_heads`, 'Transpose', [qRot], { perm: [1, 0, 2] }), g.int64s([kvH, -1, hd])]);
    const scores = g.op(`${p}/qk`, 'MatMul', [qGroups, g.op(`${p}/k_t`, 'Transpose', [kv.k], { perm: [0, 2, 1] })]);
    // Rows of a group are ordered (query head in group, token): the bias repeats once per head.
    const bias = rep > 1 ? g.op(`${p}/bias`, 'Tile', [rows.bias, g.int64s([rep, 1])]) : rows.bias;
    const probs = g.op(`${p}/softmax`, 'Softmax', [g.op(`${p}/bias`, 'Add', [scores, bias])], { axis: -1 }); // [kvH, rep*M, T]
    const ctx = g.op(`${p}/pv`, 'Reshape', [g.op(`${p}/pv`, 'MatMul', [probs, kv.v]), g.int64s([H, -1, hd])]); // [H, M, hd]
    const merged = g.op(`${p}/merge`, 'Reshape', [g.op(`${p}/merge`, 'Transpose', [ctx], { perm: [1, 0, 2] }), g.int64s([-1, H * hd])]);
    return g.op(`${p}/o_proj`, 'MatMul', [merged, this.linear(`${w}.o_proj.weight`)]);
  }
}
