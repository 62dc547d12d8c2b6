/** Messages between the runner and its generation workers. */
import type { ModelConfig } from '../../src/model/config.ts';
import type { Generation } from '../../src/model/generate.ts';
import { QUANT_BLOCK_SIZE, type GraphSpec } from '../../src/model/graph-builder.ts';
import type { Routing } from '../../src/model/routing.ts';
import type { SamplingOptions } from '../../src/model/sampling.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';

export interface WorkerInit {
  modelDir: string;
  config: ModelConfig;
  /** Built graphs by name (graphName), with what they were built as: the main thread builds them once, workers only open them. */
  graphs: Record<string, { path: string; spec: GraphSpec }>;
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  /** Sequences a worker decodes together (run --batch). */
  batch: number;
}

export interface GenerationJob {
  id: number;
  /** A name in WorkerInit.graphs. */
  graph: string;
  promptIds: number[];
  maxNewTokens: number;
  eosIds: number[];
  stopStrings: string[];
  routing: Routing;
  sampling: SamplingOptions | null;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; generation: Generation; runMs: number }
  | { type: 'error'; id: number | null; message: string };

/** A graph's weight precision as runs are labelled by it: empty for fp32, `int4`, or `int4/64` at another block size. */
export function precisionTag(spec: Pick<GraphSpec, 'precision' | 'blockSize'>): string {
  const precision = spec.precision ?? 'fp32';
  if (precision === 'fp32') return '';
  return spec.blockSize !== undefined && spec.blockSize !== QUANT_BLOCK_SIZE ? `${precision}/${spec.blockSize}` : precision;
}

/** The name a graph goes by between the runner and its workers: its variant, for `static` the layers it removes, and its precision. */
export function graphName(spec: GraphSpec): string {
  const base = spec.variant === 'static' ? `static-${(spec.removedLayers ?? []).join('_')}` : spec.variant;
  const tag = precisionTag(spec);
  return tag === '' ? base : `${base}-${tag}`;
}

/** What the jobs one batched step runs share: one graph at one threshold (generateBatch). */
export function batchKey(graph: string, routing: Routing): string {
  return `${graph}\0${routing.kind === 'threshold' ? routing.threshold : ''}`;
}
