/**
 * `flexibench items --suite NAME [--limit N] [--seed S] [--data-dir DIR] [--model DIR] [--max-length N]`
 *
 * Prints a suite's items exactly as `flexibench run` feeds them, one JSON object per line: the same
 * seeded --limit subset and the same rendering (template, few-shot examples, the model's chat
 * template when the suite uses one), because both go through the runner's plan (harness/runner/plan.ts).
 * Other tools (training/layer_need.py) take their items from here instead of generating their own.
 */
import { join } from 'node:path';
import { UserError } from '../../src/errors.ts';
import { readModelConfig } from '../../src/model/config.ts';
import { renderTarget } from '../../src/suites/render.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { numberOption, parseOptions } from '../args.ts';
import { REFERENCE_MODEL } from '../model-options.ts';
import { planSuite, type PlannedDoc, type PlannedSuite } from '../runner/plan.ts';

const USAGE = `usage: flexibench items --suite NAME [--limit N] [--seed S] [--data-dir DIR] [--model DIR] [--max-length N]
  --suite NAME      a suite in tasks/ (or a FILE.yaml)
  --limit N         the seeded random subset of N items that \`run --limit N\` takes (default: every item)
  --seed S          the subset's seed, as \`run --seed\` (default 0)
  --data-dir DIR    dataset directory (default $FLEXIBENCH_DATA_DIR, else ~/.cache/flexibench/datasets)
  --model DIR       the checkpoint whose tokenizer renders chat prompts and gives prompt_ids (default the reference model)
  --max-length N    prompt + max_new_tokens must fit in N positions, as \`run --max-length\` (default: the model's context)
Prints JSONL on stdout, one line per item: suite, doc_id, doc_index, prompt (the text given to the
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
    doc_id: d.doc.docId,
    doc_index: d.doc.index,
    prompt: d.promptText,
    prompt_ids: d.promptIds,
    truncated_tokens: d.truncatedTokens,
    reference: d.doc.reference,
    target: renderTarget(suite.spec, { id: d.doc.docId, fields: d.doc.fields }),
    max_new_tokens: suite.spec.generation.max_new_tokens,
    stop: suite.spec.generation.stop,
    fields: d.doc.fields,
    fewshot_ids: d.doc.fewshotIds,
  };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions('items', argv, {
    suite: { type: 'string' },
    limit: { type: 'string' },
    seed: { type: 'string' },
    'data-dir': { type: 'string' },
    model: { type: 'string' },
    'max-length': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (o.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (o.suite === undefined || o.suite === '') throw new UserError('items: missing required option --suite');
  const modelDir = o.model ?? REFERENCE_MODEL;
  const tok = TextTokenizer.load(modelDir);
  const positions = readModelConfig(join(modelDir, 'config.json')).maxPositionEmbeddings;
  const suite = planSuite(o.suite, tok, {
    maxLength: numberOption('items', o['max-length'], 'max-length', positions, { integer: true, min: 2, max: positions }),
    dataDir: resolveDataDir(o['data-dir']),
    limit: o.limit === undefined ? null : numberOption('items', o.limit, 'limit', 0, { integer: true, min: 1 }),
    seed: numberOption('items', o.seed, 'seed', 0, { integer: true, min: 0 }),
  });
  const lines = suite.docs.map((d) => JSON.stringify(itemLine(suite, d)));
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  process.stderr.write(`items: ${suite.spec.name}: ${lines.length} items\n`);
}
