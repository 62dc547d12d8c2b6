/**
 * How many generation workers a run can use. More workers than cores only queue on the CPU, and each
 * worker holds its own sessions, so too many exhaust memory before producing anything (1000 workers
 * asked for 200 jobs took 8 GB in 70 s). The request is capped and the cap is said.
 */

import type { ModelConfig } from '../../src/model/config.ts';
import { UserError } from '../../src/errors.ts';
import { integerOutOfRange } from '../args.ts';

/** A worker's fixed cost (Node thread, ONNX Runtime arena, tokenizer), measured ~60 MB on the reference model. */
const WORKER_BASE_BYTES = 64 * 2 ** 20;
/** ONNX Runtime holds each weight of a graph once, pre-packed; twice the graph's bytes leaves room for its arena and activations. */
const GRAPH_RESIDENT_FACTOR = 2;
/** Leave room for the main thread, DuckDB and the OS. */
const MEMORY_SHARE = 0.8;

export interface WorkerBudget {
  requested: number;
  jobs: number;
  cores: number;
  intraOpThreads: number;
  availableBytes: number;
  /** Sizes of the graph files each worker opens a session on. */
  graphBytes: number[];
  /** The KV caches of a worker's batch at the longest the study's sequences can get (0: not counted). */
  cacheBytes?: number;
}

export function bytesPerWorker(graphBytes: readonly number[], cacheBytes = 0): number {
  return WORKER_BASE_BYTES + GRAPH_RESIDENT_FACTOR * graphBytes.reduce((s, b) => s + b, 0) + cacheBytes;
}

/** The number of workers to start, and why it is fewer than requested (null when it is not). */
export function capWorkers(b: WorkerBudget): { workers: number; note: string | null } {
  const perWorker = bytesPerWorker(b.graphBytes, b.cacheBytes);
  const byCores = Math.max(1, Math.floor(b.cores / b.intraOpThreads));
  const byMemory = Math.max(1, Math.floor((MEMORY_SHARE * b.availableBytes) / perWorker));
  const workers = Math.max(1, Math.min(b.requested, b.jobs, byCores, byMemory));
  if (workers === b.requested || workers === b.jobs) return { workers, note: null };
  const reason =
    workers === byCores
      ? `${b.cores} cores, --threads ${b.intraOpThreads} per worker`
      : `~${Math.round(perWorker / 2 ** 20)} MB per worker, ${Math.round(b.availableBytes / 2 ** 20)} MB available`;
  return { workers, note: `--workers ${b.requested} capped to ${workers} (${reason})` };
}

/** Float32 K and V of every layer: the bytes one sequence's KV cache takes per position. */
export function kvBytesPerPosition(c: Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim'>): number {
  return 2 * 4 * c.numLayers * c.numKvHeads * c.headDim;
}

/** A batch's KV caches are copied whole into larger ones as the longest sequence grows, the old ones held until copied. */
const BATCH_CACHE_COPIES = 2;

export interface BatchBudget {
  batch: number;
  config: Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim'>;
  /** The longest prompt plus generation of the study's sequences, in positions. */
  longest: number;
  availableBytes: number;
}

/**
 * Refuses a --batch whose KV caches cannot fit in memory, before anything is stored: a worker's
 * batch cache sizes every row to the longest sequence in it, so `batch` rows of the study's
 * longest sequence must fit in one worker's share of the memory free (run caps the workers to
 * what then fits). One sequence at a time is always allowed: it is the least a run can do.
 */
export function batchMemoryProblem(b: BatchBudget): UserError | null {
  const perRow = BATCH_CACHE_COPIES * kvBytesPerPosition(b.config) * b.longest;
  const usable = MEMORY_SHARE * b.availableBytes - WORKER_BASE_BYTES;
  const fits = Math.max(1, Math.floor(usable / perRow));
  if (b.batch <= fits) return null;
  const mb = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MB`;
  return integerOutOfRange(
    'run',
    'batch',
    b.batch,
    { min: 1, max: fits },
    `here: the KV caches of ${b.batch} sequences of up to ${b.longest} positions take ~${mb(b.batch * perRow)} in one worker, and ${mb(b.availableBytes)} of memory is free`,
  );
}
