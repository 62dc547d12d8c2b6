/**
 * `--num-fewshot N` and `--max-new-tokens N`: lm-evaluation-harness's per-run overrides of every
 * suite's config. They change the loaded spec itself, so they are part of each run's identity (its
 * suite config hash) and of the config stored with the run, as if the YAML said so. `run` takes
 * them, and `items` and `tasks` take the same options so they show what such a run would feed.
 */
import { UserError } from '../../src/errors.ts';
import type { TaskSpec } from '../../tasks/suites/spec.ts';
import { integer, type OptionValues } from '../args.ts';
import { FEWSHOT, POSITIONS } from '../option-ranges.ts';

export interface SuiteOverrides {
  numFewshot?: number;
  maxNewTokens?: number;
  /** The command whose options these are, as its errors name it; `run` when absent. */
  command?: string;
}

/** The options, defined once so that every command taking them has the same help, ranges and errors. */
export const OVERRIDE_OPTIONS = {
  numFewshot: integer(
    'N',
    "few-shot examples per prompt in every suite, drawn from the suite's own example split (lm-eval's --num_fewshot); part of each run's identity",
    {
      ...FEWSHOT,
      defaultText: "each suite's own",
    },
  ),
  maxNewTokens: integer('N', "tokens generated at most per sample in every suite (lm-eval's max_gen_toks); part of each run's identity", {
    min: 1,
    ...POSITIONS,
    defaultText: "each suite's own",
  }),
};

/** The overrides `command` was given: only the options given, so a suite keeps its own values otherwise. */
export function overridesOf(command: string, o: OptionValues<typeof OVERRIDE_OPTIONS>): SuiteOverrides {
  return {
    ...(o.numFewshot !== undefined ? { numFewshot: o.numFewshot } : {}),
    ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}),
    command,
  };
}

/** Whether any override is given (a command's own name is not one). */
export function hasOverrides(o: SuiteOverrides): boolean {
  return o.numFewshot !== undefined || o.maxNewTokens !== undefined;
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
        `${o.command ?? 'run'}: --num-fewshot ${o.numFewshot}: suite ${out.name} has no examples to draw from (${out.source.kind === 'generator' ? 'its items are generated' : `no ${field}`} in ${out.file})`,
      );
    }
    out = { ...out, fewshot: { seed: LM_EVAL_FEWSHOT_SEED, sampler: 'lm-eval', ...out.fewshot, count: o.numFewshot } };
  }
  return out;
}
