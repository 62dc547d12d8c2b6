/**
 * Task configs: every config in tasks/ validates, and broken ones fail with one line naming the
 * file and the field path.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { UserError } from '../src/errors.ts';
import { listSuites, loadTaskSpec } from '../tasks/suites/spec.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flexibench-spec-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Config = Record<string, unknown> & {
  source: Record<string, unknown>;
  prompt: Record<string, unknown>;
  fewshot: Record<string, unknown>;
  generation: Record<string, unknown>;
  scorer: Record<string, unknown>;
};

function config(suite: string): Config {
  return parse(readFileSync(path.join(repoRoot, 'tasks', `${suite}.yaml`), 'utf8')) as Config;
}

/** Writes `value` as tmp/<name>.yaml and returns the error loadTaskSpec throws. */
function errorFor(name: string, value: unknown, text?: string): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, text ?? stringify(value));
  try {
    loadTaskSpec(file);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${file}: `) || message.startsWith(`${file}:`)).toBe(true);
    return message.slice(file.length);
  }
  throw new Error(`${name}: expected a validation error`);
}

describe('task configs in tasks/', () => {
  it('lists the issue suites and the chat form of GSM8K', () => {
    expect(listSuites()).toEqual(['addition', 'cnndm', 'continue-writing', 'copy', 'gsm8k', 'gsm8k-chat', 'product', 'repetition', 'xsum']);
  });

  it.each(listSuites())('%s validates', (suite) => {
    const spec = loadTaskSpec(suite);
    expect(spec.name).toBe(suite);
    expect(spec.file).toBe(`tasks/${suite}.yaml`);
  });

  it('GSM8K carries lm-eval gsm8k settings', () => {
    const spec = loadTaskSpec('gsm8k');
    expect(spec.prompt.template).toBe('Question: {question}\nAnswer:');
    expect(spec.fewshot).toEqual({ count: 5, split: 'train', seed: 1234, sampler: 'lm-eval', delimiter: '\n\n' });
    expect(spec.generation).toEqual({ max_new_tokens: 256, stop: ['Question:', '</s>', '<|im_end|>'], sampling: { method: 'greedy' } });
    expect(spec.chat_template).toBe(false);
    expect(loadTaskSpec('gsm8k-chat').chat_template).toBe(true);
  });

  it('accepts a path as well as a name', () => {
    expect(loadTaskSpec(path.join(repoRoot, 'tasks', 'xsum.yaml')).name).toBe('xsum');
  });

  it('rejects an unknown suite name with the known ones', () => {
    expect(() => loadTaskSpec('gsm9k')).toThrow(/^unknown suite 'gsm9k' \(known: addition, .*xsum\)$/);
  });
});

describe('broken configs name the file and the field', () => {
  it('wrong type', () => {
    const c = config('gsm8k');
    c.generation.max_new_tokens = 'many';
    expect(errorFor('gsm8k', c)).toBe(': /generation/max_new_tokens must be integer');
  });

  it('wrong type deep in a list', () => {
    const c = config('gsm8k');
    c.generation.stop = ['Question:', 7];
    expect(errorFor('gsm8k', c)).toBe(': /generation/stop/1 must be string');
  });

  it('unknown scorer', () => {
    const c = config('xsum');
    c.scorer = { name: 'bleu' };
    expect(errorFor('xsum', c)).toBe(": /scorer/name must be one of 'gsm8k', 'rouge', 'copy', 'number' (got 'bleu')");
  });

  it('bad scorer option', () => {
    const c = config('xsum');
    c.scorer = { name: 'rouge', options: { types: ['rouge3'], stemming: true } };
    expect(errorFor('xsum', c)).toBe(": /scorer/options/types/0 must be one of 'rouge1', 'rouge2', 'rougeL', 'rougeLsum' (got 'rouge3')");
  });

  it('missing field', () => {
    const c = config('gsm8k');
    delete c.generation.stop;
    expect(errorFor('gsm8k', c)).toBe(': /generation/stop is missing');
  });

  it('missing top-level field', () => {
    const { scorer: _dropped, ...c } = config('addition');
    expect(errorFor('addition', c)).toBe(': /scorer is missing');
  });

  it('unknown field', () => {
    const c = config('gsm8k');
    c.generation.max_tokens = 5;
    expect(errorFor('gsm8k', c)).toBe(': /generation/max_tokens is not a known field');
  });

  it('few-shot without its seed', () => {
    const c = config('gsm8k');
    delete c.fewshot.seed;
    expect(errorFor('gsm8k', c)).toBe(': /fewshot/seed is missing');
  });

  it('unknown source kind', () => {
    const c = config('gsm8k');
    c.source = { kind: 'url', dataset: 'gsm8k' };
    expect(errorFor('gsm8k', c)).toBe(": /source/kind must be one of 'dataset', 'generator', 'file' (got 'url')");
  });

  it('sampling without temperature', () => {
    const c = config('gsm8k');
    c.generation.sampling = { method: 'sample', seed: 1 };
    expect(errorFor('gsm8k', c)).toBe(': /generation/sampling/temperature is missing');
  });

  it('a generator seed in the training range', () => {
    const c = config('repetition');
    c.source.seed = 42;
    expect(errorFor('repetition', c)).toBe(': /source/seed must be >= 1000000');
  });

  it('an option the generator does not have', () => {
    const c = config('addition');
    c.source.options = { digits: 4 };
    expect(errorFor('addition', c)).toBe(': /source/options/digits must be one of 2, 3 (got 4)');
  });

  it('unknown dataset', () => {
    const c = config('gsm8k');
    c.source.dataset = 'gsm8k-v2';
    expect(errorFor('gsm8k', c)).toMatch(/^: \/source\/dataset names an unknown dataset 'gsm8k-v2' \(known: cnndm, gsm8k, /);
  });

  it('unknown split', () => {
    const c = config('gsm8k');
    c.source.split = 'validation';
    expect(errorFor('gsm8k', c)).toBe(": /source/split 'validation' is not a split of gsm8k (has: test, train)");
  });

  it('few-shot from the evaluated split', () => {
    const c = config('gsm8k');
    c.fewshot.split = 'test';
    expect(errorFor('gsm8k', c)).toBe(': /fewshot/split must differ from /source/split: examples would overlap the items');
  });

  it('template field the items lack', () => {
    const c = config('gsm8k');
    c.prompt.template = 'Q: {query}\nA:';
    expect(errorFor('gsm8k', c)).toBe(': /prompt/template uses {query}, not a field of the items (fields: question, answer)');
  });

  it('template with a lone brace', () => {
    const c = config('addition');
    c.prompt.template = 'What is {a} + {b?';
    expect(errorFor('addition', c)).toMatch(/^: \/prompt\/template has a lone '\{' at character 14/);
  });

  it('generator without a count', () => {
    const c = config('copy');
    delete c.source.count;
    expect(errorFor('copy', c)).toBe(": /source/count is missing (generator 'passages' needs it)");
  });

  it('name that is not the file name', () => {
    expect(errorFor('renamed', config('xsum'))).toBe(": /name must be 'renamed' (the file name), got 'xsum'");
  });

  it('YAML syntax error, with its line', () => {
    expect(errorFor('gsm8k', null, 'name: gsm8k\nversion: [1\nsource: {}\n')).toMatch(/^:3: YAML /);
  });
});
