/**
 * A checkpoint directory in Hugging Face layout: config.json, safetensors weights, tokenizer files.
 * Loading validates every tensor the graph needs (name and shape) against the headers up front,
 * and holds no weight data: the graph builder reads one tensor at a time (readWeight), so building
 * an 8B model's graph never holds the model in JavaScript memory. Reading refuses NaN and Inf
 * weights (safetensors.ts), so a bad checkpoint fails with the tensor named instead of as silently
 * wrong scores.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { FILE_KINDS, openUserFile, type FileKind } from '../user-file.ts';
import { FLEXIDEPTH_REDUCTION, readModelConfig, type ModelConfig } from './config.ts';
import { readCheckpointHeaders, readTensors, tensorLabel, type SafetensorsHeader, type Tensor } from './safetensors.ts';

/** Where a tensor the engine reads lies: its shape, and the validated header of the shard holding it. */
export interface TensorSource {
  shape: number[];
  header: SafetensorsHeader;
}

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  /** Every tensor the graph reads, by name; the data stays on disk until readWeight. */
  tensors: Map<string, TensorSource>;
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

const HASH_CHUNK_BYTES = 16 * 1024 * 1024;

/** The kind each hashed file is checked as before it is read (regular file, size limit). */
function hashedKind(file: string): FileKind | null {
  if (file === 'config.json') return FILE_KINDS.modelConfig;
  if (file === 'model.safetensors.index.json') return FILE_KINDS.safetensorsIndex;
  return file.endsWith('.safetensors') ? FILE_KINDS.safetensors : null;
}

/** Hashes the files in chunks: a shard is many gigabytes, and is hashed without being held whole. */
function hashCheckpointFiles(dir: string): string {
  const h = createHash('sha256');
  const chunk = Buffer.alloc(HASH_CHUNK_BYTES);
  for (const f of readdirSync(dir).sort()) {
    const kind = hashedKind(f);
    if (kind === null) continue;
    const { fd, size } = openUserFile(join(dir, f), kind);
    try {
      h.update(`${f}\0${size}\0`);
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) h.update(chunk.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

const LAYER_TENSOR = /^model\.layers\.(\d+)\./;
/** Buffers some exporters saved per layer; the engine computes RoPE from config.json instead. */
const IGNORED_LAYER_TENSOR = /\.rotary_emb\.inv_freq$/;

/** The layer count the weights hold: one past the highest model.layers.{i} tensor. */
function layersHeld(where: Map<string, SafetensorsHeader>): number {
  let held = 0;
  for (const name of where.keys()) {
    const layer = LAYER_TENSOR.exec(name);
    if (layer !== null) held = Math.max(held, Number(layer[1]) + 1);
  }
  return held;
}

/**
 * Refuses layer tensors the config does not account for: routers in layers routing_layers does
 * not list, and anything else a layer holds that the graph would not use (a bias, say), which
 * would otherwise be ignored and give wrong numbers without a word.
 */
function refuseUnexpectedLayerTensors(cfg: ModelConfig, configFile: string, want: Map<string, number[]>, where: Map<string, SafetensorsHeader>): void {
  for (const [name, h] of where) {
    const layer = LAYER_TENSOR.exec(name);
    if (layer === null || want.has(name) || IGNORED_LAYER_TENSOR.test(name)) continue;
    if (/\.router(_proj)?\./.test(name)) {
      throw new UserError(
        `${h.file}: tensor '${tensorLabel(name)}' is a router weight of layer ${layer[1]}, which routing_layers in ${configFile} does not list`,
      );
    }
    throw new UserError(
      `${h.file}: tensor '${tensorLabel(name)}' is not part of a ${cfg.modelType} layer; flexibench would ignore it (a config.json mismatch, or an architecture it does not run)`,
    );
  }
}

/** FlexiDepth's adapter width m, read from the first routed layer's adapter. */
function adapterWidth(cfg: ModelConfig, files: string, where: Map<string, SafetensorsHeader>): number {
  if (cfg.routingLayers.length === 0) return 0;
  const name = `${layerPrefix(cfg.routingLayers[0]!)}.router_proj.gate_proj.weight`;
  const h = where.get(name);
  const shape = h?.tensors.get(name)?.shape;
  if (h === undefined || shape === undefined) throw new UserError(`${files}: tensor '${name}' is missing`);
  if (shape.length !== 2 || shape[0] === 0)
    throw new UserError(`${h.file}: tensor '${name}' has shape [${shape.join(', ')}], expected [m, ${cfg.hiddenSize}] with m > 0`);
  return shape[0]!;
}

/**
 * Checks config.json against the weight files' headers, before any tensor data is read or anything
 * is sized by the config: every tensor the graph needs is there with its shape, and no layer tensor
 * is left over. Returns where each needed tensor is, and the adapter width.
 */
function matchConfigToHeaders(dir: string, cfg: ModelConfig, where: Map<string, SafetensorsHeader>): { want: Map<string, number[]>; adapterSize: number } {
  const files = `${dir}/*.safetensors`;
  const configFile = join(dir, 'config.json');
  const held = layersHeld(where);
  if (held !== cfg.numLayers) {
    throw new UserError(`${configFile}: num_hidden_layers is ${cfg.numLayers}, but ${files} hold ${held} layers; set it to the checkpoint's layer count`);
  }
  const adapterSize = adapterWidth(cfg, files, where);
  const want = expectedTensors(cfg, adapterSize);
  for (const [name, shape] of want) {
    const h = where.get(name);
    if (h === undefined) {
      const hint = name === 'lm_head.weight' ? ' (or set tie_word_embeddings: true in config.json)' : '';
      throw new UserError(`${files}: tensor '${name}' is missing${hint}`);
    }
    const got = h.tensors.get(name)!.shape;
    if (got.length !== shape.length || got.some((v, k) => v !== shape[k])) {
      throw new UserError(`${h.file}: tensor '${name}' has shape [${got.join(', ')}], expected [${shape.join(', ')}] from ${configFile}`);
    }
  }
  refuseUnexpectedLayerTensors(cfg, configFile, want, where);
  return { want, adapterSize };
}

/**
 * Loads a checkpoint: config.json (each number range checked), then the weight files' headers
 * (validated), then their agreement. No tensor data is read here: a config that claims 10^8 layers
 * or a header that lies is refused before anything is allocated for it, and the weights are read
 * one tensor at a time by whoever needs them (readWeight).
 */
export function loadCheckpoint(dir: string): Checkpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: model directory not found`);
  const config = readModelConfig(join(dir, 'config.json'));
  const { where } = readCheckpointHeaders(dir);
  const { want, adapterSize } = matchConfigToHeaders(dir, config, where);
  const tensors = new Map<string, TensorSource>([...want].map(([name, shape]) => [name, { shape, header: where.get(name)! }]));
  return { dir, config, tensors, adapterSize, contentHash: hashCheckpointFiles(dir) };
}

/** One tensor's data as float32, read from its shard now (NaN and Inf refused, naming the file). */
export function readWeight(ckpt: Pick<Checkpoint, 'tensors'>, name: string): Tensor {
  const source = ckpt.tensors.get(name);
  if (source === undefined) throw new Error(`checkpoint tensor ${name} is not one the engine reads (expectedTensors)`);
  return readTensors(source.header, [name]).get(name)!;
}

/** Every tensor the engine reads, in memory at once: for tests and small models, never on the build path. */
export function readWeights(ckpt: Pick<Checkpoint, 'tensors'>): Map<string, Tensor> {
  return new Map([...ckpt.tensors.keys()].map((name) => [name, readWeight(ckpt, name)]));
}

/** The float32 bytes of every tensor the engine reads: what the graphs hold once built. */
export function weightBytes(ckpt: Pick<Checkpoint, 'tensors'>): number {
  let n = 0;
  for (const { shape } of ckpt.tensors.values()) n += 4 * shape.reduce((a, b) => a * b, 1);
  return n;
}
