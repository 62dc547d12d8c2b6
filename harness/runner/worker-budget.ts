/**
 * How many generation workers a run can use. More workers than cores only queue on the CPU, and each
 * worker holds its own sessions, so too many exhaust memory before producing anything (1000 workers
 * asked for 200 jobs took 8 GB in 70 s). The request is capped and the cap is said.
 */

/** A worker's fixed cost (Node thread, ONNX Runtime arena, tokenizer), measured ~60 MB on the reference model. */
const WORKER_BASE_BYTES = 64 * 2 ** 20;
/** ONNX Runtime holds a graph's initializers plus optimized copies: ~1.5x the file on the reference model, 2x to be safe. */
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
