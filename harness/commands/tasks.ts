/**
 * `flexibench tasks [NAME]`: without NAME, every suite (tasks/ and the --include-path folders) with
 * the file it comes from and its description; with NAME, that suite's config as validated (with
 * --num-fewshot and --max-new-tokens applied as `run` applies them) and the prompt of the item
 * `run --limit 1` evaluates, as two YAML documents. The prompt goes through the
 * runner's own plan (harness/runner/plan.ts), so it is the text and token count the model gets.
 * Names, paths and config text are printed with their control characters shown as escapes
 * (src/control-chars.ts): a task YAML or its file name cannot restyle the terminal.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { escapeControlChars, escapeControlCharsKeepingLines } from '../../src/control-chars.ts';
import { UserError, oneLineReason } from '../../src/errors.ts';
import { readModelConfig } from '../../src/model/config.ts';
import { listSuites, loadTaskSpec, suiteSource } from '../../tasks/suites/spec.ts';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { DATA_DIR, INCLUDE_PATH, defineCommand, text, type OptionValues } from '../args.ts';
import { REFERENCE_MODEL } from '../model-options.ts';
import { planSuite, specContent } from '../runner/plan.ts';
import { OVERRIDE_OPTIONS, hasOverrides, overridesOf, type SuiteOverrides } from '../runner/suite-overrides.ts';

const OPTIONS = {
  includePath: INCLUDE_PATH,
  model: text('DIR', 'the checkpoint whose tokenizer (and chat template) renders the prompt', { default: REFERENCE_MODEL, defaultText: 'the reference model' }),
  dataDir: DATA_DIR,
  // As `run` takes them, so the config and prompt shown are those of `run --num-fewshot N`.
  ...OVERRIDE_OPTIONS,
};

interface SuiteRow {
  name: string;
  file: string;
  /** The description, or why the config is refused. */
  about: string;
  valid: boolean;
}

function suiteRow(name: string, includePaths: string[]): SuiteRow {
  try {
    const spec = loadTaskSpec(name, includePaths);
    return { name, file: spec.file, about: spec.description.replace(/\s+/g, ' ').trim(), valid: true };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { name, file: suiteSource(name, includePaths), about: `invalid: ${oneLineReason(err)}`, valid: false };
  }
}

/** Columns padded to their widest entry; the last one runs free. */
function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(escapeControlChars));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

function listTasks(includePaths: string[]): void {
  const rows = listSuites(includePaths).map((name) => suiteRow(name, includePaths));
  process.stdout.write(table([['NAME', 'FILE', 'DESCRIPTION'], ...rows.map((r) => [r.name, r.file, r.about])]));
  const invalid = rows.filter((r) => !r.valid).map((r) => r.name);
  if (invalid.length > 0) throw new UserError(`tasks: ${invalid.length} suite config(s) refused: ${invalid.join(', ')} (reasons above)`);
}

/** The header's note of the overrides given: the config shown is no longer the file's alone. */
function overridesNote(o: SuiteOverrides): string {
  const given = [
    ...(o.numFewshot !== undefined ? [`--num-fewshot ${o.numFewshot}`] : []),
    ...(o.maxNewTokens !== undefined ? [`--max-new-tokens ${o.maxNewTokens}`] : []),
  ];
  return given.length === 0 ? '' : `, with ${given.join(' ')} applied as by \`run\``;
}

function showTask(name: string, o: OptionValues<typeof OPTIONS>): void {
  const tok = TextTokenizer.load(o.model);
  const maxLength = readModelConfig(join(o.model, 'config.json')).maxPositionEmbeddings;
  // One item: rendering and tokenizing a whole suite takes seconds to tens of seconds.
  const overrides = overridesOf('tasks', o);
  const suite = planSuite(name, tok, { dataDir: resolveDataDir(o.dataDir), limit: 1, seed: 0, maxLength, includePaths: o.includePath, overrides });
  // YAML writes C0 controls as escapes in double quotes, but C1 controls and bidi overrides as they are.
  const yaml = (value: unknown): string => escapeControlCharsKeepingLines(stringify(value, { lineWidth: 0 }));
  let out = `# ${escapeControlChars(suite.spec.file)}, as validated${overridesNote(overrides)}\n${yaml(specContent(suite.spec))}---\n`;
  const first = suite.docs[0];
  if (first === undefined) {
    out += '# the suite has no items\n';
  } else {
    out += `# the item \`run --limit 1\` evaluates, as the model gets it (tokenizer of ${escapeControlChars(o.model)})\n`;
    out += yaml({
      doc_id: first.docId,
      doc_index: first.index,
      prompt_tokens: first.promptIds.length,
      truncated_tokens: first.truncatedTokens,
      prompt: first.promptText,
      reference: first.reference,
    });
  }
  process.stdout.write(out);
}

export const command = defineCommand({
  name: 'tasks',
  description: "List the suites, or show one suite's config (as validated) and the prompt of its first item (as `run --limit 1` feeds it).",
  arguments: '[name]',
  options: OPTIONS,
  action: (o, [name]) => {
    // The list shows files, not configs: an override given there would silently change nothing.
    if (name === undefined && hasOverrides(overridesOf('tasks', o))) throw new UserError('tasks: --num-fewshot and --max-new-tokens need a suite NAME');
    return Promise.resolve(name === undefined ? listTasks(o.includePath) : showTask(name, o));
  },
});
