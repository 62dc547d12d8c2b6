/**
 * An independent float64 forward pass of a Llama / FlexiDepth checkpoint, written as plain loops
 * straight from docs/method.md, with no ONNX and no KV cache: every position is recomputed from the
 * whole sequence. Tests compare the ONNX engine against it.
 */
import type { ModelConfig } from '../../src/model/config.ts';
import type { Tensor } from '../../src/model/safetensors.ts';

type Vec = Float64Array;

export interface ReferenceOutput {
  /** logits[t] over the vocabulary, per position. */
  logits: Vec[];
  /** gates[t][r] per position and routed layer (empty when not routing). */
  gates: number[][];
  /** hidden[i][t]: the input of layer i at position t; hidden[L] the last layer's output. */
  hidden: Vec[][];
}

function matvec(w: Float32Array, out: number, inp: number, x: Vec): Vec {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let k = 0; k < inp; k++) s += w[o * inp + k]! * x[k]!;
    y[o] = s;
  }
  return y;
}

function rmsnorm(x: Vec, w: Float32Array, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * scale * w[i]!);
}

const silu = (v: number): number => v / (1 + Math.exp(-v));
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const add = (a: Vec, b: Vec, scale = 1): Vec => a.map((v, i) => v + scale * b[i]!);

/** Hugging Face rotate_half RoPE on each head of `x`, in place. */
function rope(x: Vec, heads: number, hd: number, pos: number, invFreq: Float64Array): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const a = pos * invFreq[j]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      const x1 = x[h * hd + j]!;
      const x2 = x[h * hd + half + j]!;
      x[h * hd + j] = x1 * c - x2 * s;
      x[h * hd + half + j] = x2 * c + x1 * s;
    }
  }
}

export function referenceForward(
  cfg: ModelConfig,
  weights: Map<string, Tensor>,
  ids: number[],
  opts: {
    routed: boolean;
    threshold?: number;
    /** Layers left out entirely (the static comparator). */
    removed?: readonly number[];
    /** Overrides gate > threshold: whether routed layer r (its index among the routed layers) runs its full path at position t. */
    decide?: (t: number, r: number) => boolean;
  },
): ReferenceOutput {
  const W = (name: string): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t.data;
  };
  const d = cfg.hiddenSize;
  const H = cfg.numHeads;
  const kvH = cfg.numKvHeads;
  const hd = cfg.headDim;
  const I = cfg.intermediateSize;
  const n = ids.length;
  const thr = opts.threshold ?? 0.5;
  const invFreq = new Float64Array(hd / 2).map((_, j) => 1 / Math.pow(cfg.ropeTheta, (2 * j) / hd));
  const emb = W('model.embed_tokens.weight');
  let x: Vec[] = ids.map((id) => Float64Array.from(emb.subarray(id * d, (id + 1) * d)));
  const gates: number[][] = ids.map(() => []);
  const hidden: Vec[][] = [];

  for (let l = 0; l < cfg.numLayers; l++) {
    hidden.push(x);
    if (opts.removed?.includes(l)) continue;
    const p = `model.layers.${l}`;
    const routed = opts.routed && cfg.routingLayers.includes(l);
    const z = x.map((xt) => rmsnorm(xt, W(`${p}.input_layernorm.weight`), cfg.rmsNormEps));
    const keys = z.map((zt, t) => {
      const k = matvec(W(`${p}.self_attn.k_proj.weight`), kvH * hd, d, zt);
      rope(k, kvH, hd, t, invFreq);
      return k;
    });
    const values = z.map((zt) => matvec(W(`${p}.self_attn.v_proj.weight`), kvH * hd, d, zt));
    const mlp = (u: Vec): Vec => {
      const gate = matvec(W(`${p}.mlp.gate_proj.weight`), I, d, u);
      const up = matvec(W(`${p}.mlp.up_proj.weight`), I, d, u);
      return matvec(
        W(`${p}.mlp.down_proj.weight`),
        d,
        I,
        gate.map((gv, i) => silu(gv) * up[i]!),
      );
    };
    const next: Vec[] = [];
    for (let t = 0; t < n; t++) {
      let g = 1;
      if (routed) {
        const r = d / 16;
        const e = matvec(W(`${p}.router.router_enc.weight`), r, d, z[t]!);
        const en = rmsnorm(e, W(`${p}.router.router_norm.weight`), cfg.rmsNormEps).map(Math.tanh);
        const dec = matvec(W(`${p}.router.router_dec.weight`), d, r, en);
        g = sigmoid(matvec(W(`${p}.router.router_head.weight`), 1, d, dec)[0]!);
        gates[t]!.push(g);
        const full = opts.decide ? opts.decide(t, cfg.routingLayers.indexOf(l)) : g > thr;
        if (!full) {
          // Skip path: y = x + (1 - g) * Adapter(PostNorm(x)), Adapter(u) = up(silu(gate(u)) * down(u)).
          const u = rmsnorm(x[t]!, W(`${p}.post_attention_layernorm.weight`), cfg.rmsNormEps);
          const m = weights.get(`${p}.router_proj.gate_proj.weight`)!.shape[0]!;
          const ga = matvec(W(`${p}.router_proj.gate_proj.weight`), m, d, u);
          const dn = matvec(W(`${p}.router_proj.down_proj.weight`), m, d, u);
          const a = matvec(
            W(`${p}.router_proj.up_proj.weight`),
            d,
            m,
            ga.map((v, i) => silu(v) * dn[i]!),
          );
          next.push(add(x[t]!, a, 1 - g));
          continue;
        }
      }
      const q = matvec(W(`${p}.self_attn.q_proj.weight`), H * hd, d, z[t]!);
      rope(q, H, hd, t, invFreq);
      const attn = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / (H / kvH));
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += q[h * hd + j]! * keys[s]![kh * hd + j]!;
          scores[s] = dot / Math.sqrt(hd);
          max = Math.max(max, scores[s]!);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += scores[s] = Math.exp(scores[s]! - max);
        for (let s = 0; s <= t; s++) for (let j = 0; j < hd; j++) attn[h * hd + j]! += (scores[s]! / sum) * values[s]![kh * hd + j]!;
      }
      const h = add(x[t]!, matvec(W(`${p}.self_attn.o_proj.weight`), d, H * hd, attn));
      next.push(add(h, mlp(rmsnorm(h, W(`${p}.post_attention_layernorm.weight`), cfg.rmsNormEps)), g));
    }
    x = next;
  }
  hidden.push(x);
  const head = cfg.tieWordEmbeddings ? emb : W('lm_head.weight');
  const logits = x.map((xt) => matvec(head, cfg.vocabSize, d, rmsnorm(xt, W('model.norm.weight'), cfg.rmsNormEps)));
  return { logits, gates, hidden };
}

/** Relative L2 error of the engine's float32 values `a` against the reference's `b`. */
export function relError(a: Float32Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
