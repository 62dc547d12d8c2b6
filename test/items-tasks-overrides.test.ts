// `items` and `tasks` take run's --num-fewshot and --max-new-tokens, so a user can see what
// `run --num-fewshot 3` would feed: the same option definitions (help, ranges, errors) and the same
// applyOverrides, through the runner's plan.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { flexibench } from './cli.ts';
import type { ItemLine } from '../harness/commands/items.ts';
import { planSuite } from '../harness/runner/plan.ts';
import { REFERENCE_MODEL } from '../harness/model-options.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const env = { FLEXIBENCH_DATA_DIR: dataDir };
const questions = (prompt: string): number => prompt.split('Question:').length - 1;

function item(args: string[]): ItemLine {
  const r = flexibench(['items', '--suite', 'gsm8k', '--limit', '1', ...args], env);
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as ItemLine;
}

/** The refusal's one line on stderr, after checking it is one line and exit status 1. */
function refusal(args: string[]): string {
  const r = flexibench(args, env);
  expect(r.status, r.stdout).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  return r.stderr.trimEnd();
}

describe('items --num-fewshot / --max-new-tokens', () => {
  it('draws that many examples into the prompt, as run would feed it', () => {
    const two = item(['--num-fewshot', '2']);
    const zero = item(['--num-fewshot', '0']);
    expect(two.doc_id).toBe(zero.doc_id);
    expect(two.fewshot_ids).toHaveLength(2);
    expect(questions(two.prompt)).toBe(3);
    expect(zero.fewshot_ids).toEqual([]);
    expect(questions(zero.prompt)).toBe(1);
    expect(two.prompt).not.toBe(zero.prompt);
    // What run's plan renders with the same override, token ids included.
    const planned = planSuite('gsm8k', TextTokenizer.load(REFERENCE_MODEL), {
      dataDir,
      limit: 1,
      seed: 0,
      // The reference model's context, which items fits prompts into without --max-length.
      maxLength: 2048,
      overrides: { numFewshot: 2 },
    }).docs[0]!;
    expect({ prompt: two.prompt, ids: two.prompt_ids }).toEqual({ prompt: planned.promptText, ids: planned.promptIds });
  });

  it("--max-new-tokens replaces the suite's own in the printed items", () => {
    expect(item([]).max_new_tokens).toBe(256);
    expect(item(['--max-new-tokens', '7']).max_new_tokens).toBe(7);
  });

  it('refuses a suite without examples, and values out of range, in one line as run does', () => {
    expect(refusal(['items', '--suite', 'addition', '--num-fewshot', '2'])).toBe(
      'flexibench: items: --num-fewshot 2: suite addition has no examples to draw from (its items are generated in tasks/addition.yaml)',
    );
    expect(refusal(['items', '--suite', 'gsm8k', '--num-fewshot', '257'])).toBe("flexibench: items: --num-fewshot must be an integer from 0 to 256, got '257'");
    expect(refusal(['items', '--suite', 'gsm8k', '--max-new-tokens', '0'])).toMatch(
      /^flexibench: items: --max-new-tokens must be an integer from 1 to \d+, got '0'$/,
    );
  });
});

describe('tasks NAME --num-fewshot / --max-new-tokens', () => {
  it('shows the config with the overrides applied, and the prompt with that many examples', () => {
    const r = flexibench(['tasks', 'gsm8k', '--num-fewshot', '1', '--max-new-tokens', '7'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('# tasks/gsm8k.yaml, as validated, with --num-fewshot 1 --max-new-tokens 7 applied as by `run`');
    const [config, first] = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
    expect(config).toMatchObject({ fewshot: { count: 1 }, generation: { max_new_tokens: 7 } });
    expect(questions((first as { prompt: string }).prompt)).toBe(2);
  });

  it('without overrides the header and config are the YAML as before', () => {
    const r = flexibench(['tasks', 'gsm8k'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('# tasks/gsm8k.yaml, as validated');
    expect(parseAllDocuments(r.stdout)[0]!.toJS()).toMatchObject({ fewshot: { count: 5 } });
  });

  it('refuses a suite without examples, and overrides without a suite, in one line', () => {
    expect(refusal(['tasks', 'addition', '--num-fewshot', '2'])).toBe(
      'flexibench: tasks: --num-fewshot 2: suite addition has no examples to draw from (its items are generated in tasks/addition.yaml)',
    );
    expect(refusal(['tasks', '--num-fewshot', '2'])).toBe('flexibench: tasks: --num-fewshot and --max-new-tokens need a suite NAME');
  });
});

describe('one definition of the options', () => {
  it('run, items and tasks describe --num-fewshot and --max-new-tokens alike', () => {
    const optionHelp = (command: string): string[] => {
      const r = flexibench([command, '--help'], env);
      expect(r.status, r.stderr).toBe(0);
      // An option's help may wrap: its words up to its default, the last thing help states.
      const text = r.stdout.replace(/\s+/g, ' ');
      return ['--num-fewshot', '--max-new-tokens'].map((flag) => new RegExp(`${flag} <N> .*?\\(default: [^)]*\\)`).exec(text)?.[0] ?? `${flag}: no help`);
    };
    const run = optionHelp('run');
    expect(run[0]).toContain('(an integer from 0 to 256)');
    expect(optionHelp('items')).toEqual(run);
    expect(optionHelp('tasks')).toEqual(run);
  });
});
