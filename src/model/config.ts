/**
 * The model configuration the engine needs, read from a Hugging Face `config.json`.
 * `llama` is a plain Llama; `ddllama` is FlexiDepth (a Llama plus `routing_layers`).
 */
import { UserError } from '../errors.ts';
import { quoteName, quoteValue } from '../quote-value.ts';
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

/** FlexiDepth's router and adapter shrink d and the FFN width by this factor (docs/method.md). */
export const FLEXIDEPTH_REDUCTION = 16;

type Json = Record<string, unknown>;

/**
 * Bounds on config.json's numbers. Each is far above any published model and low enough that
 * nothing sized by them before the weights are checked can exhaust memory: the layer count drives
 * a loop over expected tensors, and no other number allocates anything before loadCheckpoint has
 * matched it against the tensors' shapes.
 */
export const CONFIG_LIMITS = {
  layers: 1024,
  /** hidden_size, intermediate_size, head counts, head_dim. */
  dimension: 2 ** 20,
  vocabulary: 2 ** 24,
  /** Nothing is sized by it (rotary-tables.ts, kv-cache.ts): it bounds only the positions a run may reach. */
  positions: 2 ** 26,
  /** rms_norm_eps: real models use 1e-5 or 1e-6; a large epsilon flattens every norm. */
  normEpsilon: 0.1,
} as const;

interface IntRange {
  min?: number;
  max: number;
  fallback?: number;
}

function present(json: Json, file: string, key: string, fallback: number | undefined): unknown {
  const v = json[key];
  if (v !== undefined && v !== null) return v;
  if (fallback !== undefined) return fallback;
  throw new UserError(`${file}: missing field '${key}'`);
}

/** An integer field within [min (1 unless given), max]. */
function intField(json: Json, file: string, key: string, range: IntRange): number {
  const v = present(json, file, key, range.fallback);
  const min = range.min ?? 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > range.max) {
    throw new UserError(`${file}: field '${key}' must be an integer from ${min} to ${range.max}, got ${quoteValue(v)}`);
  }
  return v;
}

/**
 * A real field above `above` (exclusive: a zero epsilon or theta is what turns gates into NaN) and
 * at most `max` when given.
 */
function realField(json: Json, file: string, key: string, range: { above: number; max?: number; fallback?: number }): number {
  const v = present(json, file, key, range.fallback);
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= range.above || (range.max !== undefined && v > range.max)) {
    const bounds = range.max === undefined ? `above ${range.above}` : `above ${range.above} and at most ${range.max}`;
    throw new UserError(`${file}: field '${key}' must be a number ${bounds}, got ${quoteValue(v)}`);
  }
  return v;
}

function tokenIds(v: unknown, file: string, key: string, vocabSize: number): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) {
      throw new UserError(`${file}: field '${key}' must be a token id below vocab_size (${vocabSize}) or a list of them, got ${quoteValue(id)}`);
    }
  }
  return list as number[];
}

function parseRopeScaling(json: Json, file: string): Llama3RopeScaling | null {
  const rs = json['rope_scaling'];
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object' || Array.isArray(rs)) throw new UserError(`${file}: field 'rope_scaling' must be an object`);
  const r = rs as Json;
  const type = r['rope_type'] ?? r['type'];
  if (type === 'default') return null;
  if (type !== 'llama3') throw new UserError(`${file}: rope_scaling type ${quoteName(type)} is not supported (supported: llama3)`);
  const where = `${file}: rope_scaling`;
  const lowFreqFactor = realField(r, where, 'low_freq_factor', { above: 0 });
  const highFreqFactor = realField(r, where, 'high_freq_factor', { above: 0 });
  // The band between the two wavelengths is interpolated by dividing by their difference.
  if (highFreqFactor <= lowFreqFactor) {
    throw new UserError(`${where}: high_freq_factor (${highFreqFactor}) must be more than low_freq_factor (${lowFreqFactor})`);
  }
  return {
    factor: realField(r, where, 'factor', { above: 0 }),
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: intField(r, where, 'original_max_position_embeddings', { max: CONFIG_LIMITS.positions }),
  };
}

/**
 * Parses and validates a config.json object; `file` names it in errors. Every number is range
 * checked here (CONFIG_LIMITS); whether the numbers agree with the weights is loadCheckpoint's check.
 */
export function parseModelConfig(json: Json, file: string): ModelConfig {
  const modelType = json['model_type'];
  if (modelType !== 'llama' && modelType !== 'ddllama') {
    throw new UserError(`${file}: unknown model_type ${quoteName(modelType)} (supported: llama, ddllama)`);
  }
  const dimension = { max: CONFIG_LIMITS.dimension };
  const hiddenSize = intField(json, file, 'hidden_size', dimension);
  const numHeads = intField(json, file, 'num_attention_heads', dimension);
  const numKvHeads = intField(json, file, 'num_key_value_heads', { ...dimension, fallback: numHeads });
  const numLayers = intField(json, file, 'num_hidden_layers', { max: CONFIG_LIMITS.layers });
  if (numHeads % numKvHeads !== 0) throw new UserError(`${file}: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  if (json['head_dim'] == null && hiddenSize % numHeads !== 0) {
    throw new UserError(`${file}: hidden_size (${hiddenSize}) must be a multiple of num_attention_heads (${numHeads}), or give head_dim`);
  }
  const headDim = intField(json, file, 'head_dim', { ...dimension, fallback: hiddenSize / numHeads });
  if (headDim % 2 !== 0) throw new UserError(`${file}: head_dim must be an even integer, got ${headDim}`);
  const vocabSize = intField(json, file, 'vocab_size', { max: CONFIG_LIMITS.vocabulary });

  let routingLayers: number[] = [];
  if (modelType === 'ddllama') {
    const rl = json['routing_layers'];
    if (!Array.isArray(rl) || rl.length === 0) throw new UserError(`${file}: model_type ddllama needs a non-empty 'routing_layers' list`);
    for (const l of rl) {
      if (!Number.isInteger(l) || l < 0 || l >= numLayers) {
        throw new UserError(`${file}: routing layer ${quoteValue(l)} is out of range 0..${numLayers - 1}`);
      }
    }
    routingLayers = [...new Set(rl as number[])].sort((a, b) => a - b);
    if (hiddenSize % FLEXIDEPTH_REDUCTION !== 0)
      throw new UserError(`${file}: hidden_size must be a multiple of ${FLEXIDEPTH_REDUCTION} for FlexiDepth routers`);
  }

  return {
    modelType,
    hiddenSize,
    intermediateSize: intField(json, file, 'intermediate_size', dimension),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    rmsNormEps: realField(json, file, 'rms_norm_eps', { above: 0, max: CONFIG_LIMITS.normEpsilon, fallback: 1e-6 }),
    // Below 1 the inverse frequencies grow instead of shrinking; 0 makes them infinite (NaN angles).
    ropeTheta: realField(json, file, 'rope_theta', { above: 1, fallback: 10000 }),
    ropeScaling: parseRopeScaling(json, file),
    maxPositionEmbeddings: intField(json, file, 'max_position_embeddings', { max: CONFIG_LIMITS.positions, fallback: 2048 }),
    tieWordEmbeddings: json['tie_word_embeddings'] === true,
    bosTokenId: tokenIds(json['bos_token_id'], file, 'bos_token_id', vocabSize)[0] ?? null,
    eosTokenIds: tokenIds(json['eos_token_id'], file, 'eos_token_id', vocabSize),
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
