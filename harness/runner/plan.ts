/**
 * A study plan: suites expanded into docs, each prompt rendered and tokenized once, so every
 * variant sees the identical items and token ids.
 */
import { stableJsonHash } from '../../src/canonical-json.ts';
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import type { SamplingOptions } from '../../src/model/sampling.ts';
import { expandSuite, type Doc } from '../../tasks/suites/expand.ts';
import { loadTaskSpec, type TaskSpec } from '../../tasks/suites/spec.ts';
import type { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { itemsOfShard, type Shard } from './shard.ts';
import { applyOverrides, type SuiteOverrides } from './suite-overrides.ts';

/** A suite item ready to run: the item itself, plus its prompt as the model sees it. */
export interface PlannedDoc extends Doc {
  /** The prompt as the model sees it (chat prompts rendered through the model's template). */
  promptText: string;
  /** What the model is fed: the rendered prompt's ids, left-truncated when it does not fit. */
  promptIds: number[];
  /** Tokens cut from the prompt's start to fit the max length (0 when it fits). */
  truncatedTokens: number;
  /** Why the sample cannot run at all (a prompt that does not fit, with truncation 'none'); null when it can. */
  unfit: string | null;
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

/** A suite config's hash: part of every run's identity, so the one place it is computed. */
export const suiteConfigHash = (spec: TaskSpec): string => stableJsonHash(specContent(spec));

function samplingOf(spec: TaskSpec): SamplingOptions | null {
  const s = spec.generation.sampling;
  if (s.method === 'greedy') return null;
  return { temperature: s.temperature, topP: s.top_p ?? 1, seed: s.seed, ...(s.top_k !== undefined ? { topK: s.top_k } : {}) };
}

export interface PlanOptions {
  dataDir: string;
  limit: number | null;
  seed: number;
  /** Prompt plus generated tokens must fit in this many positions (the model's context unless --max-length). */
  maxLength: number;
  /** Folders of custom task YAMLs (--include-path), searched for suite names with tasks/; none when absent. */
  includePaths?: string[];
  /** --shard: only this shard's items (shard.ts), taken from the --limit subset; absent or null: every item. */
  shard?: Shard | null;
  /** --num-fewshot, --max-new-tokens: applied to every suite's config (suite-overrides.ts); none when absent. */
  overrides?: SuiteOverrides;
}

/**
 * Fits a prompt into `maxLength - max_new_tokens` positions as lm-evaluation-harness's HF model does
 * for generate_until: keep the last tokens (the question is at the end; a leading BOS is cut too).
 */
export function fitPrompt(ids: number[], spec: TaskSpec, maxLength: number): { promptIds: number[]; truncatedTokens: number; unfit: string | null } {
  const budget = maxLength - spec.generation.max_new_tokens;
  if (ids.length <= budget) return { promptIds: ids, truncatedTokens: 0, unfit: null };
  if (budget < 1)
    return {
      promptIds: ids,
      truncatedTokens: 0,
      unfit: `max_new_tokens ${spec.generation.max_new_tokens} (${spec.file}) leaves no room for a prompt in max length ${maxLength}`,
    };
  if (spec.generation.truncation === 'none') {
    return {
      promptIds: ids,
      truncatedTokens: 0,
      unfit: `the prompt has ${ids.length} tokens; with max_new_tokens ${spec.generation.max_new_tokens} at most ${budget} fit in max length ${maxLength} (${spec.file}: generation.truncation is 'none')`,
    };
  }
  return { promptIds: ids.slice(ids.length - budget), truncatedTokens: ids.length - budget, unfit: null };
}

export function planSuite(name: string, tok: TextTokenizer, opts: PlanOptions): PlannedSuite {
  const spec = applyOverrides(loadTaskSpec(name, opts.includePaths ?? []), opts.overrides ?? {});
  const expanded = expandSuite(spec, { dataDir: opts.dataDir, seed: opts.seed, ...(opts.limit !== null ? { limit: opts.limit } : {}) });
  const docs = opts.shard != null ? itemsOfShard(expanded, (d) => d.docId, opts.shard) : expanded;
  return {
    spec,
    configHash: suiteConfigHash(spec),
    sampling: samplingOf(spec),
    docs: docs.map((doc) => {
      const promptText = typeof doc.prompt === 'string' ? doc.prompt : tok.renderChat(doc.prompt);
      // A chat template writes its own BOS.
      const ids = tok.encode(promptText, typeof doc.prompt === 'string' ? tok.addBos : false);
      return { ...doc, promptText, ...fitPrompt(ids, spec, opts.maxLength) };
    }),
  };
}

/** EOS ids from config.json and the tokenizer, together. */
export function eosIds(ckpt: Checkpoint, tok: TextTokenizer): number[] {
  return [...new Set([...ckpt.config.eosTokenIds, ...(tok.eosId !== null ? [tok.eosId] : [])])];
}
