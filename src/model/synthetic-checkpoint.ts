/**
 * A Llama-shaped FlexiDepth checkpoint with seeded random weights, for speed measurements at sizes
 * no trained model of ours has (`bench --synthetic HIDDEN:LAYERS`). Written in the Hugging Face
 * layout the engine reads (config.json, one safetensors shard per layer and an index), so the
 * benchmark runs the real loader and graph builder. No tokenizer: the caller feeds token ids.
 *
 * Shape, after Llama-2/3: head dim 64; grouped-query attention with 4 query heads per key head
 * (fewer when the head count does not allow it); SwiGLU width 8d/3 rounded up to a multiple of
 * 256; vocabulary 8d (Llama-2-7B's 32000 / 4096), so the LM head weighs against the layers as it
 * does in a real model; FlexiDepth routers and adapters (width d/16 and I/16) on the second half
 * of the layers, as the paper routes Llama-3-8B.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '../seeded-random.ts';
import { FLEXIDEPTH_REDUCTION } from './config.ts';
import { layerPrefix } from './checkpoint.ts';
import { writeSafetensorsFile, type Tensor } from './safetensors.ts';

export interface SyntheticCheckpointOptions {
  hiddenSize: number;
  numLayers: number;
  /** max_position_embeddings: the longest prompt plus generation the checkpoint allows. */
  maxPositions?: number;
  seed?: number;
  /** Standard deviation of router_head weights (times 1/sqrt(d)): larger spreads gates away from 0.5. */
  routerHeadScale?: number;
}

export const SYNTHETIC_HEAD_DIM = 64;

/** The config.json of a synthetic checkpoint; refuses a size that is not Llama-shaped. */
export function syntheticConfig(o: SyntheticCheckpointOptions): Record<string, unknown> {
  const d = o.hiddenSize;
  const L = o.numLayers;
  if (!Number.isInteger(d) || d < SYNTHETIC_HEAD_DIM || d % SYNTHETIC_HEAD_DIM !== 0) {
    throw new Error(`synthetic checkpoint: hidden size must be a positive multiple of ${SYNTHETIC_HEAD_DIM}, got ${d}`);
  }
  if (!Number.isInteger(L) || L < 2) throw new Error(`synthetic checkpoint: needs at least 2 layers, got ${L}`);
  const heads = d / SYNTHETIC_HEAD_DIM;
  const group = [4, 2, 1].find((g) => heads % g === 0)!;
  const intermediate = 256 * Math.ceil((8 * d) / 3 / 256);
  const first = Math.floor(L / 2);
  return {
    architectures: ['DDLlamaForCausalLM'],
    model_type: 'ddllama',
    hidden_size: d,
    intermediate_size: intermediate,
    num_hidden_layers: L,
    num_attention_heads: heads,
    num_key_value_heads: heads / group,
    head_dim: SYNTHETIC_HEAD_DIM,
    vocab_size: 8 * d,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: o.maxPositions ?? 2048,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    routing_layers: Array.from({ length: L - first }, (_, k) => first + k),
  };
}

/** Writes the checkpoint into `dir` (created if needed) and returns its config.json object. */
export function writeSyntheticCheckpoint(dir: string, o: SyntheticCheckpointOptions): Record<string, unknown> {
  const cfg = syntheticConfig(o);
  const d = cfg['hidden_size'] as number;
  const I = cfg['intermediate_size'] as number;
  const H = cfg['num_attention_heads'] as number;
  const kvH = cfg['num_key_value_heads'] as number;
  const V = cfg['vocab_size'] as number;
  const routing = new Set(cfg['routing_layers'] as number[]);
  const hd = SYNTHETIC_HEAD_DIM;
  const r = d / FLEXIDEPTH_REDUCTION;
  const m = I / FLEXIDEPTH_REDUCTION;
  const rng = new SeededRandom(o.seed ?? 1);
  // Uniform with the wanted mean and standard deviation: cheaper than normals, and the shape of the
  // distribution does not matter to speed.
  const fill = (shape: number[], std: number, mean = 0): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const half = std * Math.sqrt(3);
    for (let k = 0; k < n; k++) data[k] = mean + half * (2 * (rng.nextUint32() / 4294967296) - 1);
    return { shape, data };
  };

  mkdirSync(dir, { recursive: true });
  const weightMap: Record<string, string> = {};
  const shard = (file: string, tensors: Map<string, Tensor>): void => {
    writeSafetensorsFile(join(dir, file), tensors);
    for (const name of tensors.keys()) weightMap[name] = file;
  };
  shard(
    'model-embed.safetensors',
    new Map([
      ['model.embed_tokens.weight', fill([V, d], 1)],
      ['model.norm.weight', fill([d], 0.1, 1)],
      ['lm_head.weight', fill([V, d], 1 / Math.sqrt(d))],
    ]),
  );
  for (let i = 0; i < o.numLayers; i++) {
    const p = layerPrefix(i);
    const t = new Map<string, Tensor>([
      [`${p}.input_layernorm.weight`, fill([d], 0.1, 1)],
      [`${p}.post_attention_layernorm.weight`, fill([d], 0.1, 1)],
      [`${p}.self_attn.q_proj.weight`, fill([H * hd, d], 1 / Math.sqrt(d))],
      [`${p}.self_attn.k_proj.weight`, fill([kvH * hd, d], 1 / Math.sqrt(d))],
      [`${p}.self_attn.v_proj.weight`, fill([kvH * hd, d], 1 / Math.sqrt(d))],
      [`${p}.self_attn.o_proj.weight`, fill([d, H * hd], 0.5 / Math.sqrt(H * hd))],
      [`${p}.mlp.gate_proj.weight`, fill([I, d], 1 / Math.sqrt(d))],
      [`${p}.mlp.up_proj.weight`, fill([I, d], 1 / Math.sqrt(d))],
      [`${p}.mlp.down_proj.weight`, fill([d, I], 0.5 / Math.sqrt(I))],
    ]);
    if (routing.has(i)) {
      t.set(`${p}.router.router_enc.weight`, fill([r, d], 1 / Math.sqrt(d)));
      t.set(`${p}.router.router_norm.weight`, fill([r], 0.1, 1));
      t.set(`${p}.router.router_dec.weight`, fill([d, r], 1 / Math.sqrt(r)));
      t.set(`${p}.router.router_head.weight`, fill([1, d], (o.routerHeadScale ?? 4) / Math.sqrt(d)));
      t.set(`${p}.router_proj.gate_proj.weight`, fill([m, d], 1 / Math.sqrt(d)));
      t.set(`${p}.router_proj.down_proj.weight`, fill([m, d], 1 / Math.sqrt(d)));
      t.set(`${p}.router_proj.up_proj.weight`, fill([d, m], 1 / Math.sqrt(m)));
    }
    shard(`model-layer-${String(i).padStart(3, '0')}.safetensors`, t);
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return cfg;
}
