/**
 * The model configuration the engine needs, read from a Hugging Face `config.json`.
 * `llama` is a plain Llama; `ddllama` is FlexiDepth (a Llama plus `routing_layers`).
 */
import { UserError } from '../errors.ts';
import { FILE_KINDS, readJsonObject } from '../user-file.ts';

export type ModelType = 'llama' | 'ddllama';

/** Llama-3 style frequency-dependent RoPE scaling (`rope_scaling.rope_type == "llama3"`). */
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  modelType: ModelType;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** 0-based indices of routed layers; empty for `llama`. */
  routingLayers: number[];
}

/** FlexiDepth's router and adapter shrink d and the FFN width by this factor (FLEXIDEPTH.md). */
export const FLEXIDEPTH_REDUCTION = 16;

type Json = Record<string, unknown>;

function field(json: Json, file: string, key: string, kind: 'int' | 'number', fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new UserError(`${file}: missing field '${key}'`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || (kind === 'int' && (!Number.isInteger(v) || v <= 0))) {
    throw new UserError(`${file}: field '${key}' must be a ${kind === 'int' ? 'positive integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function tokenIds(v: unknown, file: string, key: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new UserError(`${file}: field '${key}' must be a token id or a list of them`);
  }
  return list as number[];
}

function parseRopeScaling(json: Json, file: string): Llama3RopeScaling | null {
  const rs = json['rope_scaling'];
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object') throw new UserError(`${file}: field 'rope_scaling' must be an object`);
  const r = rs as Json;
  const type = r['rope_type'] ?? r['type'];
  if (type === 'default') return null;
  if (type !== 'llama3') throw new UserError(`${file}: rope_scaling type '${String(type)}' is not supported (supported: llama3)`);
  return {
    factor: field(r, file, 'factor', 'number'),
    lowFreqFactor: field(r, file, 'low_freq_factor', 'number'),
    highFreqFactor: field(r, file, 'high_freq_factor', 'number'),
    originalMaxPositionEmbeddings: field(r, file, 'original_max_position_embeddings', 'int'),
  };
}

/** Parses and validates a config.json object; `file` names it in errors. */
export function parseModelConfig(json: Json, file: string): ModelConfig {
  const modelType = json['model_type'];
  if (modelType !== 'llama' && modelType !== 'ddllama') {
    throw new UserError(`${file}: unknown model_type '${String(modelType)}' (supported: llama, ddllama)`);
  }
  const hiddenSize = field(json, file, 'hidden_size', 'int');
  const numHeads = field(json, file, 'num_attention_heads', 'int');
  const numKvHeads = field(json, file, 'num_key_value_heads', 'int', numHeads);
  const numLayers = field(json, file, 'num_hidden_layers', 'int');
  if (numHeads % numKvHeads !== 0) throw new UserError(`${file}: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  const headDim = field(json, file, 'head_dim', 'int', hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new UserError(`${file}: head_dim must be an even integer, got ${headDim}`);

  let routingLayers: number[] = [];
  if (modelType === 'ddllama') {
    const rl = json['routing_layers'];
    if (!Array.isArray(rl) || rl.length === 0) throw new UserError(`${file}: model_type ddllama needs a non-empty 'routing_layers' list`);
    for (const l of rl) {
      if (!Number.isInteger(l) || l < 0 || l >= numLayers) {
        throw new UserError(`${file}: routing layer ${JSON.stringify(l)} is out of range 0..${numLayers - 1}`);
      }
    }
    routingLayers = [...new Set(rl as number[])].sort((a, b) => a - b);
    if (hiddenSize % FLEXIDEPTH_REDUCTION !== 0)
      throw new UserError(`${file}: hidden_size must be a multiple of ${FLEXIDEPTH_REDUCTION} for FlexiDepth routers`);
  }

  return {
    modelType,
    hiddenSize,
    intermediateSize: field(json, file, 'intermediate_size', 'int'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: field(json, file, 'vocab_size', 'int'),
    rmsNormEps: field(json, file, 'rms_norm_eps', 'number', 1e-6),
    ropeTheta: field(json, file, 'rope_theta', 'number', 10000),
    ropeScaling: parseRopeScaling(json, file),
    maxPositionEmbeddings: field(json, file, 'max_position_embeddings', 'int', 2048),
    tieWordEmbeddings: json['tie_word_embeddings'] === true,
    bosTokenId: tokenIds(json['bos_token_id'], file, 'bos_token_id')[0] ?? null,
    eosTokenIds: tokenIds(json['eos_token_id'], file, 'eos_token_id'),
    routingLayers,
  };
}

export function readModelConfig(path: string): ModelConfig {
  return parseModelConfig(readJsonObject(path, FILE_KINDS.modelConfig), path);
}

/**
 * RoPE inverse frequencies (float64), including Llama-3's scaling: long wavelengths are divided by
 * `factor`, short ones kept, and the band between interpolated smoothly.
 */
export function ropeInverseFrequencies(cfg: ModelConfig): Float64Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(cfg.ropeTheta, (2 * i) / cfg.headDim);
  const rs = cfg.ropeScaling;
  if (rs === null) return inv;
  const lowWavelen = rs.originalMaxPositionEmbeddings / rs.lowFreqFactor;
  const highWavelen = rs.originalMaxPositionEmbeddings / rs.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i]!;
    if (wavelen > lowWavelen) {
      inv[i] = inv[i]! / rs.factor;
    } else if (wavelen >= highWavelen) {
      const smooth = (rs.originalMaxPositionEmbeddings / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i]! / rs.factor) + smooth * inv[i]!;
    }
  }
  return inv;
}
