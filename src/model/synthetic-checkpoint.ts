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
import { setImmediate } from 'node:timers/promises';
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

/** One tensor of random weights: uniform with this mean and standard deviation. */
interface RandomTensor {
  name: string;
  shape: number[];
  std: number;
  mean: number;
}

/** One safetensors file of the checkpoint and the tensors it holds, in the order they are drawn. */
interface Shard {
  file: string;
  tensors: RandomTensor[];
}

/**
 * The files of a synthetic checkpoint. The embedding and the LM head go to files of their own: a
 * file is written from one buffer, which Node caps at 4 GiB, and at d = 8192 each is 2 GiB.
 */
function syntheticShards(cfg: Record<string, unknown>, routerHeadScale = 4): Shard[] {
  const d = cfg['hidden_size'] as number;
  const I = cfg['intermediate_size'] as number;
  const H = cfg['num_attention_heads'] as number;
  const kvH = cfg['num_key_value_heads'] as number;
  const V = cfg['vocab_size'] as number;
  const L = cfg['num_hidden_layers'] as number;
  const routing = new Set(cfg['routing_layers'] as number[]);
  const hd = SYNTHETIC_HEAD_DIM;
  const r = d / FLEXIDEPTH_REDUCTION;
  const m = I / FLEXIDEPTH_REDUCTION;
  const t = (name: string, shape: number[], std: number, mean = 0): RandomTensor => ({ name, shape, std, mean });
  const shards: Shard[] = [
    { file: 'model-embed.safetensors', tensors: [t('model.embed_tokens.weight', [V, d], 1), t('model.norm.weight', [d], 0.1, 1)] },
    { file: 'model-lm-head.safetensors', tensors: [t('lm_head.weight', [V, d], 1 / Math.sqrt(d))] },
  ];
  for (let i = 0; i < L; i++) {
    const p = layerPrefix(i);
    const tensors = [
      t(`${p}.input_layernorm.weight`, [d], 0.1, 1),
      t(`${p}.post_attention_layernorm.weight`, [d], 0.1, 1),
      t(`${p}.self_attn.q_proj.weight`, [H * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.k_proj.weight`, [kvH * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.v_proj.weight`, [kvH * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.o_proj.weight`, [d, H * hd], 0.5 / Math.sqrt(H * hd)),
      t(`${p}.mlp.gate_proj.weight`, [I, d], 1 / Math.sqrt(d)),
      t(`${p}.mlp.up_proj.weight`, [I, d], 1 / Math.sqrt(d)),
      t(`${p}.mlp.down_proj.weight`, [d, I], 0.5 / Math.sqrt(I)),
    ];
    if (routing.has(i)) {
      tensors.push(
        t(`${p}.router.router_enc.weight`, [r, d], 1 / Math.sqrt(d)),
        t(`${p}.router.router_norm.weight`, [r], 0.1, 1),
        t(`${p}.router.router_dec.weight`, [d, r], 1 / Math.sqrt(r)),
        t(`${p}.router.router_head.weight`, [1, d], routerHeadScale / Math.sqrt(d)),
        t(`${p}.router_proj.gate_proj.weight`, [m, d], 1 / Math.sqrt(d)),
        t(`${p}.router_proj.down_proj.weight`, [m, d], 1 / Math.sqrt(d)),
        t(`${p}.router_proj.up_proj.weight`, [d, m], 1 / Math.sqrt(m)),
      );
    }
    shards.push({ file: `model-layer-${String(i).padStart(3, '0')}.safetensors`, tensors });
  }
  return shards;
}

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The float32 weights of a synthetic checkpoint of this size, in bytes: what it takes on disk, less the files' small headers. */
export function syntheticWeightBytes(o: SyntheticCheckpointOptions): number {
  return syntheticShards(syntheticConfig(o))
    .flatMap((s) => s.tensors)
    .reduce((sum, t) => sum + 4 * elements(t.shape), 0);
}

/**
 * Writes the checkpoint into `dir` (created if needed) and returns its config.json object. Yields
 * to the event loop after each tensor, so a signal handler (an interrupt that removes the folder)
 * runs within one tensor's time rather than after the whole checkpoint.
 */
export async function writeSyntheticCheckpoint(dir: string, o: SyntheticCheckpointOptions): Promise<Record<string, unknown>> {
  const cfg = syntheticConfig(o);
  const rng = new SeededRandom(o.seed ?? 1);
  // Uniform with the wanted mean and standard deviation: cheaper than normals, and the shape of the
  // distribution does not matter to speed.
  const fill = ({ shape, std, mean }: RandomTensor): Tensor => {
    const n = elements(shape);
    const data = new Float32Array(n);
    const half = std * Math.sqrt(3);
    for (let k = 0; k < n; k++) data[k] = mean + half * (2 * (rng.nextUint32() / 4294967296) - 1);
    return { shape, data };
  };

  mkdirSync(dir, { recursive: true });
  const weightMap: Record<string, string> = {};
  for (const shard of syntheticShards(cfg, o.routerHeadScale)) {
    const tensors = new Map<string, Tensor>();
    for (const spec of shard.tensors) {
      tensors.set(spec.name, fill(spec));
      await setImmediate();
    }
    writeSafetensorsFile(join(dir, shard.file), tensors);
    for (const name of tensors.keys()) weightMap[name] = shard.file;
    await setImmediate();
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return cfg;
}
