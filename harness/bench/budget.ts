/**
 * Whether a benchmark fits this machine, checked before anything is written or built: the
 * synthetic checkpoint and the two graphs built from it on the temporary folder's disk, and the
 * weights, sessions, KV caches and prompt attention in memory. A size that does not fit is refused
 * in one line giving the sizes, instead of filling the disk or ending in V8's out-of-memory abort.
 * The estimates are deliberately rough (a factor of the weights, the largest buffers): they keep
 * out what cannot fit, not what only might.
 */
import type { ModelConfig } from '../../src/model/config.ts';
import { BATCHED_PROMPT_TOKENS } from '../../src/model/generate.ts';
import { PREFILL_CHUNK, PREFILL_ONE_PASS } from '../../src/model/session.ts';
import { kvBytesPerPosition } from '../runner/worker-budget.ts';
import { isQuantized, type WeightPrecision } from '../../src/model/graph-builder.ts';

/**
 * The weights a session holds, as a multiple of its graph's weights (measured: docs/performance.md):
 * float32 each once, pre-packed, with a little padding; int8/int4 more, as MatMulNBits packs each
 * block with a float32 scale and block sum while ONNX Runtime keeps the graph's scales too. The
 * checkpoint and the graph build hold one tensor at a time, which the margin covers.
 */
export function sessionWeightCopies(precision: WeightPrecision): number {
  return isQuantized(precision) ? 1.4 : 1.1;
}

/**
 * How bench lays out its sessions: four in ABBA order when they fit in the free memory (each
 * variant one early and one late session), else one per variant.
 */
export const SESSION_ORDERS = { abba: ['full', 'flexidepth', 'flexidepth', 'full'], 'one per variant': ['full', 'flexidepth'] } as const;
export type SessionLayout = keyof typeof SESSION_ORDERS;
/** The temporary folder holds the checkpoint (BF16) and the two float32 graphs built from it (full and flexidepth), each about the float32 weights' size. */
const GRAPH_COPIES = 2;
/** A growing KV cache, or attention's scores and their softmax, are held twice while the next is made. */
const TRANSIENT_COPIES = 2;
/** Node, ONNX Runtime and the tokenizer before any model. */
const BASE_BYTES = 256 * 2 ** 20;

export interface BenchShape {
  config: Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim' | 'numHeads'>;
  /** The weights a session's graph holds, in bytes, at the benchmark's precision. */
  weightBytes: number;
  /** fp32 when absent. */
  precision?: WeightPrecision;
  batch: number;
  promptTokens: number;
  decodeTokens: number;
}

/** Attention scores of the largest prefill pass, as the session prefills: one prompt's chunk against its keys, or a batch of short prompts together. */
function prefillAttentionBytes(s: BenchShape): number {
  const S = s.promptTokens;
  const alone = s.config.numHeads * (S > PREFILL_ONE_PASS ? PREFILL_CHUNK : S) * S;
  const batched = s.batch > 1 && S <= BATCHED_PROMPT_TOKENS ? s.batch * s.config.numHeads * S * S : 0;
  return TRANSIENT_COPIES * 4 * Math.max(alone, batched);
}

export interface BenchMemory {
  total: number;
  weights: number;
  kvCache: number;
}

export function benchMemoryBytes(s: BenchShape, layout: SessionLayout): BenchMemory {
  const weights = SESSION_ORDERS[layout].length * sessionWeightCopies(s.precision ?? 'fp32') * s.weightBytes;
  const kvCache = TRANSIENT_COPIES * s.batch * kvBytesPerPosition(s.config) * (s.promptTokens + s.decodeTokens);
  return { total: BASE_BYTES + weights + kvCache + prefillAttentionBytes(s), weights, kvCache };
}

/** The bytes a synthetic checkpoint takes in the temporary folder with its graphs, from its files' bytes and its float32 weights. */
export const syntheticDiskBytes = (checkpointBytes: number, weightBytes: number): number => checkpointBytes + GRAPH_COPIES * weightBytes;

export const gigabytes = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;

/**
 * Why the benchmark cannot fit in this machine's `totalBytes` of memory even with one session per
 * variant, as the end of a sentence whose start names the option at fault; null when it can.
 * Measured against the whole memory, not what is free now: the estimate is rough, and refusing what
 * might fit would block the very measurements that make it less so (the caller warns when it
 * exceeds the free memory).
 */
export function memoryShortfall(s: BenchShape, totalBytes: number): string | null {
  const need = benchMemoryBytes(s, 'one per variant');
  if (need.total <= totalBytes) return null;
  return (
    `needs ~${gigabytes(need.total)} of memory (two sessions, each holding ${gigabytes(s.weightBytes)} of weights, ` +
    `${gigabytes(need.kvCache)} of KV cache for --batch ${s.batch} x ${s.promptTokens + s.decodeTokens} positions), but this machine has ${gigabytes(totalBytes)}`
  );
}

/** Four sessions when they fit in `availableBytes`, else one per variant. */
export const sessionLayout = (s: BenchShape, availableBytes: number): SessionLayout =>
  benchMemoryBytes(s, 'abba').total <= availableBytes ? 'abba' : 'one per variant';
