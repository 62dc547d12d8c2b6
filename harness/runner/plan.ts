/**
 * A study plan: suites expanded into docs, each prompt rendered and tokenized once, so every
 * variant sees the identical items and token ids.
 */
import { createHash } from 'node:crypto';
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import type { SamplingOptions } from '../../src/model/sampling.ts';
import { expandSuite, loadTaskSpec, type Doc, type TaskSpec } from '../../src/suites/index.ts';
import type { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';

export interface PlannedDoc {
  doc: Doc;
  /** The prompt as the model sees it (chat prompts rendered through the model's template). */
  promptText: string;
  promptIds: number[];
}

export interface PlannedSuite {
  spec: TaskSpec;
  /** sha256 of the suite's config: a changed config makes a different run. */
  configHash: string;
  docs: PlannedDoc[];
  sampling: SamplingOptions | null;
}

/** The config as data, without where it was read from. */
export function specContent(spec: TaskSpec): Omit<TaskSpec, 'file'> {
  const { file: _file, ...content } = spec;
  return content;
}

export function hashJson(value: unknown): string {
  const stable = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(stable) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, stable((v as Record<string, unknown>)[k])])) : v;
  return createHash('sha256').update(JSON.stringify(stable(value))).digest('hex');
}

function samplingOf(spec: TaskSpec): SamplingOptions | null {
  const s = spec.generation.sampling;
  if (s.method === 'greedy') return null;
  return { temperature: s.temperature, topP: s.top_p ?? 1, seed: s.seed, ...(s.top_k !== undefined ? { topK: s.top_k } : {}) };
}

export function planSuite(name: string, tok: TextTokenizer, opts: { dataDir: string; limit: number | null; seed: number }): PlannedSuite {
  const spec = loadTaskSpec(name);
  const docs = expandSuite(spec, { dataDir: opts.dataDir, seed: opts.seed, ...(opts.limit !== null ? { limit: opts.limit } : {}) });
  return {
    spec,
    configHash: hashJson(specContent(spec)),
    sampling: samplingOf(spec),
    docs: docs.map((doc) => {
      const promptText = typeof doc.prompt === 'string' ? doc.prompt : tok.renderChat(doc.prompt);
      // A chat template writes its own BOS.
      const promptIds = tok.encode(promptText, typeof doc.prompt === 'string' ? tok.addBos : false);
      return { doc, promptText, promptIds };
    }),
  };
}

/** EOS ids from config.json and the tokenizer, together. */
export function eosIds(ckpt: Checkpoint, tok: TextTokenizer): number[] {
  return [...new Set([...ckpt.config.eosTokenIds, ...(tok.eosId !== null ? [tok.eosId] : [])])];
}
