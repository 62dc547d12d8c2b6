/**
 * A Llama-shaped FlexiDepth checkpoint with seeded random weights, for speed measurements at sizes
 * no trained model of ours has (`bench --synthetic HIDDEN:LAYERS`). Written in the Hugging Face
 * layout and dtype checkpoints are shipped in (config.json, BF16 safetensors shards of up to
 * SHARD_BYTES named model-0000K-of-0000N, and model.safetensors.index.json), so the benchmark runs
 * the real loader, its dtype conversion and the graph builder. No tokenizer: the caller feeds
 * token ids.
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
import { SafetensorsFileWriter } from './safetensors.ts';

/** Dimensions a named shape fixes instead of deriving them from the hidden size. */
export interface SyntheticShape {
  headDim: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  vocabSize: number;
  ropeTheta: number;
}

/**
 * Real models' shapes, for `bench --synthetic NAME`: Llama-3-8B as the paper routes it (its
 * config.json: 32 layers of hidden 4096, 32 query and 8 key/value heads of 128, SwiGLU 14336,
 * vocabulary 128256, RoPE base 500000; routers on the second half, layers 16-31).
 */
export const NAMED_SHAPES: Record<string, { hiddenSize: number; numLayers: number; shape: SyntheticShape }> = {
  'llama-3-8b': {
    hiddenSize: 4096,
    numLayers: 32,
    shape: { headDim: 128, numHeads: 32, numKvHeads: 8, intermediateSize: 14336, vocabSize: 128256, ropeTheta: 500000 },
  },
};

export interface SyntheticCheckpointOptions {
  hiddenSize: number;
  numLayers: number;
  /** A named shape's fixed dimensions; else derived from the hidden size (the header's rules). */
  shape?: SyntheticShape;
  /** max_position_embeddings: the longest prompt plus generation the checkpoint allows. */
  maxPositions?: number;
  seed?: number;
  /** Standard deviation of router_head weights (times 1/sqrt(d)): larger spreads gates away from 0.5. */
  routerHeadScale?: number;
  /** Most bytes of tensor data per shard (SHARD_BYTES unless given). */
  shardBytes?: number;
}

/** Hugging Face's save_pretrained default (max_shard_size "5GB"), with which Llama-3-8B was shipped in four shards. */
export const SHARD_BYTES = 5e9;

/** Bytes per weight on disk: BF16, as the checkpoints this engine is meant for ship. */
const DISK_BYTES_PER_WEIGHT = 2;

export const SYNTHETIC_HEAD_DIM = 64;

/** The config.json of a synthetic checkpoint; refuses a size that is not Llama-shaped. */
export function syntheticConfig(o: SyntheticCheckpointOptions): Record<string, unknown> {
  const d = o.hiddenSize;
  const L = o.numLayers;
  if (!Number.isInteger(d) || d < SYNTHETIC_HEAD_DIM || d % SYNTHETIC_HEAD_DIM !== 0) {
    throw new Error(`synthetic checkpoint: hidden size must be a positive multiple of ${SYNTHETIC_HEAD_DIM}, got ${d}`);
  }
  if (!Number.isInteger(L) || L < 2) throw new Error(`synthetic checkpoint: needs at least 2 layers, got ${L}`);
  const heads = o.shape?.numHeads ?? d / SYNTHETIC_HEAD_DIM;
  const group = [4, 2, 1].find((g) => heads % g === 0)!;
  const intermediate = o.shape?.intermediateSize ?? 256 * Math.ceil((8 * d) / 3 / 256);
  const first = Math.floor(L / 2);
  return {
    architectures: ['DDLlamaForCausalLM'],
    model_type: 'ddllama',
    hidden_size: d,
    intermediate_size: intermediate,
    num_hidden_layers: L,
    num_attention_heads: heads,
    num_key_value_heads: o.shape?.numKvHeads ?? heads / group,
    head_dim: o.shape?.headDim ?? SYNTHETIC_HEAD_DIM,
    vocab_size: o.shape?.vocabSize ?? 8 * d,
    rms_norm_eps: 1e-5,
    rope_theta: o.shape?.ropeTheta ?? 10000,
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

/** The checkpoint's tensors in the order they are drawn and written: the embedding first, the LM head last, as a real checkpoint lists them. */
function syntheticTensors(cfg: Record<string, unknown>, routerHeadScale = 4): RandomTensor[] {
  const d = cfg['hidden_size'] as number;
  const I = cfg['intermediate_size'] as number;
  const H = cfg['num_attention_heads'] as number;
  const kvH = cfg['num_key_value_heads'] as number;
  const V = cfg['vocab_size'] as number;
  const L = cfg['num_hidden_layers'] as number;
  const routing = new Set(cfg['routing_layers'] as number[]);
  const hd = cfg['head_dim'] as number;
  const r = d / FLEXIDEPTH_REDUCTION;
  const m = I / FLEXIDEPTH_REDUCTION;
  const t = (name: string, shape: number[], std: number, mean = 0): RandomTensor => ({ name, shape, std, mean });
  const tensors: RandomTensor[] = [t('model.embed_tokens.weight', [V, d], 1)];
  for (let i = 0; i < L; i++) {
    const p = layerPrefix(i);
    tensors.push(
      t(`${p}.input_layernorm.weight`, [d], 0.1, 1),
      t(`${p}.post_attention_layernorm.weight`, [d], 0.1, 1),
      t(`${p}.self_attn.q_proj.weight`, [H * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.k_proj.weight`, [kvH * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.v_proj.weight`, [kvH * hd, d], 1 / Math.sqrt(d)),
      t(`${p}.self_attn.o_proj.weight`, [d, H * hd], 0.5 / Math.sqrt(H * hd)),
      t(`${p}.mlp.gate_proj.weight`, [I, d], 1 / Math.sqrt(d)),
      t(`${p}.mlp.up_proj.weight`, [I, d], 1 / Math.sqrt(d)),
      t(`${p}.mlp.down_proj.weight`, [d, I], 0.5 / Math.sqrt(I)),
    );
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
  }
  tensors.push(t('model.norm.weight', [d], 0.1, 1), t('lm_head.weight', [V, d], 1 / Math.sqrt(d)));
  return tensors;
}

/** The tensors in shards of at most `shardBytes` on disk (a larger tensor alone in its shard), named as Hugging Face names them. */
function syntheticShards(tensors: readonly RandomTensor[], shardBytes: number): Shard[] {
  const groups: RandomTensor[][] = [];
  let bytes = Infinity;
  for (const tensor of tensors) {
    const size = DISK_BYTES_PER_WEIGHT * elements(tensor.shape);
    if (bytes + size > shardBytes) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(tensor);
    bytes += size;
  }
  const n = String(groups.length).padStart(5, '0');
  return groups.map((group, k) => ({ file: `model-${String(k + 1).padStart(5, '0')}-of-${n}.safetensors`, tensors: group }));
}

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The float32 weights of a synthetic checkpoint of this size, in bytes: what the engine holds (on disk, BF16, half that). */
export function syntheticWeightBytes(o: SyntheticCheckpointOptions): number {
  return syntheticTensors(syntheticConfig(o)).reduce((sum, t) => sum + 4 * elements(t.shape), 0);
}

/** What the checkpoint's files hold on disk, less their small headers: the weights in BF16. */
export const syntheticCheckpointBytes = (o: SyntheticCheckpointOptions): number => (DISK_BYTES_PER_WEIGHT / 4) * syntheticWeightBytes(o);

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
  const fill = ({ shape, std, mean }: RandomTensor): Float32Array => {
    const n = elements(shape);
    const data = new Float32Array(n);
    const half = std * Math.sqrt(3);
    for (let k = 0; k < n; k++) data[k] = mean + half * (2 * (rng.nextUint32() / 4294967296) - 1);
    return data;
  };

  mkdirSync(dir, { recursive: true });
  const weightMap: Record<string, string> = {};
  for (const shard of syntheticShards(syntheticTensors(cfg, o.routerHeadScale), o.shardBytes ?? SHARD_BYTES)) {
    // One tensor in memory at a time: drawn, converted to BF16 and written, then dropped.
    const writer = SafetensorsFileWriter.open(join(dir, shard.file), shard.tensors, 'BF16', { format: 'pt' });
    try {
      for (const spec of shard.tensors) {
        writer.write(spec.name, fill(spec));
        weightMap[spec.name] = shard.file;
        await setImmediate();
      }
    } catch (err) {
      writer.abort();
      throw err;
    }
    writer.close();
  }
  const totalSize = syntheticCheckpointBytes(o);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return cfg;
}
