/**
 * A checkpoint directory in Hugging Face layout: config.json, safetensors weights, tokenizer files.
 * Loading validates every tensor the graph needs (name and shape) up front, and reading refuses
 * NaN and Inf weights (safetensors.ts), so a bad checkpoint fails with the tensor named instead of
 * deep inside graph building or inference, or as silently wrong scores.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { FLEXIDEPTH_REDUCTION, readModelConfig, type ModelConfig } from './config.ts';
import { readCheckpointWeights, type Tensor } from './safetensors.ts';

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  weights: Map<string, Tensor>;
  /** Adapter width m (FlexiDepth); 0 for plain Llama. */
  adapterSize: number;
  /** sha256 over config.json and the weight files: identifies the model in caches and runs. */
  contentHash: string;
}

export const layerPrefix = (i: number): string => `model.layers.${i}`;

/** Names and shapes of every tensor the engine reads from a checkpoint with this config. */
export function expectedTensors(cfg: ModelConfig, adapterSize: number): Map<string, number[]> {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const I = cfg.intermediateSize;
  const r = d / FLEXIDEPTH_REDUCTION;
  const want = new Map<string, number[]>();
  want.set('model.embed_tokens.weight', [cfg.vocabSize, d]);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = layerPrefix(i);
    want.set(`${p}.input_layernorm.weight`, [d]);
    want.set(`${p}.self_attn.q_proj.weight`, [qDim, d]);
    want.set(`${p}.self_attn.k_proj.weight`, [kvDim, d]);
    want.set(`${p}.self_attn.v_proj.weight`, [kvDim, d]);
    want.set(`${p}.self_attn.o_proj.weight`, [d, qDim]);
    want.set(`${p}.post_attention_layernorm.weight`, [d]);
    want.set(`${p}.mlp.gate_proj.weight`, [I, d]);
    want.set(`${p}.mlp.up_proj.weight`, [I, d]);
    want.set(`${p}.mlp.down_proj.weight`, [d, I]);
    if (cfg.routingLayers.includes(i)) {
      want.set(`${p}.router.router_enc.weight`, [r, d]);
      want.set(`${p}.router.router_norm.weight`, [r]);
      want.set(`${p}.router.router_dec.weight`, [d, r]);
      want.set(`${p}.router.router_head.weight`, [1, d]);
      want.set(`${p}.router_proj.gate_proj.weight`, [adapterSize, d]);
      want.set(`${p}.router_proj.down_proj.weight`, [adapterSize, d]);
      want.set(`${p}.router_proj.up_proj.weight`, [d, adapterSize]);
    }
  }
  want.set('model.norm.weight', [d]);
  if (!cfg.tieWordEmbeddings) want.set('lm_head.weight', [cfg.vocabSize, d]);
  return want;
}

function hashCheckpointFiles(dir: string): string {
  const h = createHash('sha256');
  const files = readdirSync(dir)
    .filter((f) => f === 'config.json' || f.endsWith('.safetensors') || f === 'model.safetensors.index.json')
    .sort();
  for (const f of files) {
    h.update(`${f}\0${statSync(join(dir, f)).size}\0`);
    h.update(readFileSync(join(dir, f)));
  }
  return h.digest('hex');
}

export function loadCheckpoint(dir: string): Checkpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: model directory not found`);
  const config = readModelConfig(join(dir, 'config.json'));
  const weights = readCheckpointWeights(dir);
  const files = `${dir}/*.safetensors`;

  let adapterSize = 0;
  if (config.routingLayers.length > 0) {
    const name = `${layerPrefix(config.routingLayers[0]!)}.router_proj.gate_proj.weight`;
    const t = weights.get(name);
    if (t === undefined) throw new UserError(`${files}: tensor '${name}' is missing`);
    adapterSize = t.shape[0]!;
  }
  for (const [name, shape] of expectedTensors(config, adapterSize)) {
    const t = weights.get(name);
    if (t === undefined) {
      const hint = name === 'lm_head.weight' ? ' (or set tie_word_embeddings: true in config.json)' : '';
      throw new UserError(`${files}: tensor '${name}' is missing${hint}`);
    }
    if (t.shape.length !== shape.length || t.shape.some((v, k) => v !== shape[k])) {
      throw new UserError(`${files}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  return { dir, config, weights, adapterSize, contentHash: hashCheckpointFiles(dir) };
}
