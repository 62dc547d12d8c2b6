/** Messages between the runner and its generation workers. */
import type { ModelConfig } from '../../src/model/config.ts';
import type { Generation } from '../../src/model/generate.ts';
import type { Variant } from '../../src/model/graph-builder.ts';
import type { SamplingOptions } from '../../src/model/sampling.ts';
import type { ExecutionProvider } from '../../src/model/session.ts';

export interface WorkerInit {
  modelDir: string;
  config: ModelConfig;
  /** Built graph per variant (the main thread builds them once, workers only open them). */
  graphs: Partial<Record<Variant, string>>;
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
}

export interface GenerationJob {
  id: number;
  variant: Variant;
  promptIds: number[];
  maxNewTokens: number;
  eosIds: number[];
  stopStrings: string[];
  threshold: number;
  sampling: SamplingOptions | null;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; generation: Generation; runMs: number }
  | { type: 'error'; id: number | null; message: string };
