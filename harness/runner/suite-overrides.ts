/**
 * `run --num-fewshot N` and `--max-new-tokens N`: lm-evaluation-harness's per-run overrides of every
 * suite's config. They change the loaded spec itself, so they are part of each run's identity (its
 * suite config hash) and of the config stored with the run, as if the YAML said so.
 */
import { UserError } from '../../src/errors.ts';
import type { TaskSpec } from '../../src/suites/spec.ts';

export interface SuiteOverrides {
  numFewshot?: number;
  maxNewTokens?: number;
}

/** lm-evaluation-harness's default few-shot seed, for a suite that draws no examples of its own. */
const LM_EVAL_FEWSHOT_SEED = 1234;

export function applyOverrides(spec: TaskSpec, o: SuiteOverrides): TaskSpec {
  let out = spec;
  if (o.maxNewTokens !== undefined) out = { ...out, generation: { ...out.generation, max_new_tokens: o.maxNewTokens } };
  if (o.numFewshot !== undefined && o.numFewshot !== out.fewshot.count) {
    const pool = out.source.kind === 'dataset' ? out.fewshot.split : out.source.kind === 'file' ? out.fewshot.path : undefined;
    if (o.numFewshot > 0 && pool === undefined) {
      const field = out.source.kind === 'file' ? 'fewshot.path' : 'fewshot.split';
      throw new UserError(
        `run: --num-fewshot ${o.numFewshot}: suite ${out.name} has no examples to draw from (${out.source.kind === 'generator' ? 'its items are generated' : `no ${field}`} in ${out.file})`,
      );
    }
    out = { ...out, fewshot: { seed: LM_EVAL_FEWSHOT_SEED, sampler: 'lm-eval', ...out.fewshot, count: o.numFewshot } };
  }
  return out;
}
