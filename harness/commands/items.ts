/**
 * `flexibench items --suite NAME`: prints a suite's items exactly as `flexibench run` feeds them,
 * one JSON object per line: the same seeded --limit subset and the same rendering (template, few-shot examples, the model's chat
 * template when the suite uses one), because both go through the runner's plan (harness/runner/plan.ts),
 * with run's --num-fewshot and --max-new-tokens applied the same way (harness/runner/suite-overrides.ts).
 * Other tools (training/layer_need.py) take their items from here instead of generating their own.
 */
import { join } from 'node:path';
import { escapeControlCharsInJson } from '../../src/control-chars.ts';
import { readModelConfig } from '../../src/model/config.ts';
import { renderTarget } from '../../tasks/suites/render.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { DATA_DIR, INCLUDE_PATH, defineCommand, integer, integerOutOfRange, required, text, type OptionValues } from '../args.ts';
import { REFERENCE_MODEL } from '../model-options.ts';
import { ITEM_LIMIT, POSITIONS, SEED } from '../option-ranges.ts';
import { planSuite, type PlannedDoc, type PlannedSuite } from '../runner/plan.ts';
import { OVERRIDE_OPTIONS, overridesOf } from '../runner/suite-overrides.ts';
import { counted } from '../../src/plural.ts';

const OPTIONS = {
  suite: required(text('NAME', 'a suite name, or a FILE.yaml')),
  includePath: INCLUDE_PATH,
  limit: integer('N', 'the seeded random subset of N items that `run --limit N` takes', { ...ITEM_LIMIT, defaultText: 'every item' }),
  seed: integer('S', "the subset's seed, as `run --seed`", { ...SEED, default: 0 }),
  dataDir: DATA_DIR,
  model: text('DIR', 'the checkpoint whose tokenizer renders chat prompts and gives prompt_ids', {
    default: REFERENCE_MODEL,
    defaultText: 'the reference model',
  }),
  maxLength: integer('N', 'prompt + max_new_tokens must fit in N positions, as `run --max-length`', {
    min: 2,
    ...POSITIONS,
    defaultText: "the model's context",
  }),
  // As `run` takes them, so the items show what `run --num-fewshot N` feeds.
  ...OVERRIDE_OPTIONS,
};

const EPILOG = `Prints JSONL on stdout, one line per item: suite, doc_id, doc_index, prompt (the text given to the
tokenizer), prompt_ids (what the model sees, BOS included, left-truncated to fit), truncated_tokens,
reference, target (the training answer), max_new_tokens, stop, fields, fewshot_ids.`;

/** One line of output. */
export interface ItemLine {
  suite: string;
  doc_id: string;
  doc_index: number;
  prompt: string;
  prompt_ids: number[];
  truncated_tokens: number;
  reference: string;
  target: string;
  max_new_tokens: number;
  stop: string[];
  fields: Readonly<Record<string, string>>;
  fewshot_ids: string[];
}

function itemLine(suite: PlannedSuite, d: PlannedDoc): ItemLine {
  return {
    suite: suite.spec.name,
    doc_id: d.docId,
    doc_index: d.index,
    prompt: d.promptText,
    prompt_ids: d.promptIds,
    truncated_tokens: d.truncatedTokens,
    reference: d.reference,
    target: renderTarget(suite.spec, { id: d.docId, fields: d.fields }),
    max_new_tokens: suite.spec.generation.max_new_tokens,
    stop: suite.spec.generation.stop,
    fields: d.fields,
    fewshot_ids: d.fewshotIds,
  };
}

async function printItems(o: OptionValues<typeof OPTIONS>): Promise<void> {
  const config = readModelConfig(join(o.model, 'config.json'));
  const tok = TextTokenizer.load(o.model).requireModelVocab(config.vocabSize);
  const positions = config.maxPositionEmbeddings;
  if (o.maxLength !== undefined && o.maxLength > positions) throw integerOutOfRange('items', 'max-length', o.maxLength, { min: 2, max: positions });
  const suite = planSuite(o.suite, tok, {
    maxLength: o.maxLength ?? positions,
    dataDir: resolveDataDir(o.dataDir),
    limit: o.limit ?? null,
    seed: o.seed,
    includePaths: o.includePath,
    overrides: overridesOf('items', o),
  });
  const lines = suite.docs.map((d) => escapeControlCharsInJson(JSON.stringify(itemLine(suite, d))));
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  process.stderr.write(`items: ${suite.spec.name}: ${counted(lines.length, 'item')}\n`);
  return Promise.resolve();
}

export const command = defineCommand({
  name: 'items',
  description: "Print a suite's items exactly as `run` feeds them, one JSON object per line.",
  options: OPTIONS,
  epilog: EPILOG,
  action: printItems,
});
