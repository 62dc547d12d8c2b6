/**
 * Prompt rendering of every suite, snapshot-tested (first two items, for the fixed seeds in the
 * configs), plus the structure of the 5-shot GSM8K prompt and its chat form, and --limit subsets.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/tokenizer/chat-template.ts';
import { expandSuite } from '../tasks/suites/expand.ts';
import { listSuites, loadTaskSpec } from '../tasks/suites/spec.ts';
import { selectSubset } from '../tasks/suites/subset.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

/** News articles are for research use only: snapshots show their length and hash, not their text. */
const ELIDED_FIELDS: Record<string, string> = { xsum: 'document', cnndm: 'article' };

function elide(text: string, field: string, value: string | undefined): string {
  if (value === undefined || value === '') return text;
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 16);
  return text.split(value).join(`<${field}: ${value.length} chars, sha256 ${digest}>`);
}

describe('prompt rendering', () => {
  it.each(listSuites())('%s', (suite) => {
    const docs = expandSuite(loadTaskSpec(suite), { dataDir }).slice(0, 2);
    const field = ELIDED_FIELDS[suite];
    const shown = docs.map(({ docId, prompt, reference, fewshotIds, fields }) => ({
      docId,
      prompt: field === undefined ? prompt : elide(prompt as string, field, fields[field]),
      reference,
      fewshotIds,
    }));
    if (field !== undefined) for (const doc of shown) expect(doc.prompt).toMatch(new RegExp(`^Article: <${field}: \\d+ chars, sha256 [0-9a-f]{16}>\\n`));
    expect(shown).toMatchSnapshot();
  });

  it('GSM8K: five train examples, lm-eval delimiters, the question last', () => {
    const [doc] = expandSuite(loadTaskSpec('gsm8k'), { dataDir, limit: 1, seed: 0 });
    expect(doc).toBeDefined();
    const prompt = doc?.prompt as string;
    expect(typeof prompt).toBe('string');
    const blocks = prompt.split('\n\n');
    const shots = blocks.slice(0, -1);
    expect(shots).toHaveLength(5);
    for (const shot of shots) expect(shot).toMatch(/^Question: [^]+\nAnswer: [^]+\n#### -?[0-9.,]+$/);
    expect(blocks.at(-1)).toBe(`Question: ${doc?.fields.question}\nAnswer:`);
    expect(doc?.reference).toBe(doc?.fields.answer);
    expect(doc?.generation.stop).toEqual(['Question:', '</s>', '<|im_end|>']);
  });

  it('GSM8K chat form: the same examples as user/assistant turns', () => {
    const plain = expandSuite(loadTaskSpec('gsm8k'), { dataDir, limit: 2, seed: 9 });
    const chat = expandSuite(loadTaskSpec('gsm8k-chat'), { dataDir, limit: 2, seed: 9 });
    expect(chat.map((d) => d.docId)).toEqual(plain.map((d) => d.docId));
    const messages = chat[0]?.prompt as ChatMessage[];
    expect(messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
    ]);
    const rebuilt = messages
      .slice(0, -1)
      .reduce<string[]>((acc, m) => (m.role === 'user' ? [...acc, m.content] : [...acc.slice(0, -1), `${acc.at(-1)} ${m.content}`]), []);
    expect(`${rebuilt.join('\n\n')}\n\n${messages.at(-1)?.content}`).toBe(plain[0]?.prompt);
  });

  it('synthetic suites follow tasks/FORMATS.md', () => {
    const formats: Record<string, RegExp> = {
      repetition: /^Repeat the numbers: [0-9]+( [0-9]+){3,7}\nAnswer:$/,
      copy: /^Copy the text: \S+( \S+){7,23}\nAnswer:$/,
      addition: /^Question: What is [1-9][0-9]{2} \+ [1-9][0-9]{2}\?\nAnswer:$/,
      product: /^Question: What is [1-9][0-9] \* [2-9]\?\nAnswer:$/,
      'continue-writing': /^Continue the text: \S+( \S+){7,23}\nAnswer:$/,
      // One XSum row (index 219) has an empty document in the source itself.
      xsum: /^Article: [^]*\nSummarize the article in one sentence\.\nSummary:$/,
      cnndm: /^Article: (?!Summarize: )[^]+\nSummarize the article\.\nSummary:$/,
    };
    for (const [suite, pattern] of Object.entries(formats)) {
      for (const doc of expandSuite(loadTaskSpec(suite), { dataDir })) expect(doc.prompt).toMatch(pattern);
    }
  });

  it('doc ids are unique and stable', () => {
    for (const suite of listSuites()) {
      const docs = expandSuite(loadTaskSpec(suite), { dataDir });
      expect(new Set(docs.map((d) => d.docId)).size).toBe(docs.length);
      expect(expandSuite(loadTaskSpec(suite), { dataDir }).map((d) => d.docId)).toEqual(docs.map((d) => d.docId));
    }
  });
});

describe('--limit: a seeded random subset', () => {
  it('is not the first N, is in item order, and is the same for the same seed', () => {
    const a = selectSubset(1319, 10, 1);
    expect(a).toHaveLength(10);
    expect(a).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(selectSubset(1319, 10, 1)).toEqual(a);
    expect(selectSubset(1319, 10, 2)).not.toEqual(a);
    expect(selectSubset(1319, 10, 1)).toEqual([61, 133, 184, 232, 233, 345, 787, 852, 884, 1269]);
  });

  it('a larger limit keeps the items of a smaller one', () => {
    const small = selectSubset(1000, 20, 3);
    const large = selectSubset(1000, 200, 3);
    for (const i of small) expect(large).toContain(i);
  });

  it('expandSuite applies it', () => {
    const docs = expandSuite(loadTaskSpec('xsum'), { dataDir, limit: 10, seed: 1 });
    expect(docs.map((d) => d.index)).toEqual(selectSubset(1000, 10, 1));
    expect(expandSuite(loadTaskSpec('product'), { dataDir, limit: 5000 })).toHaveLength(246);
  });
});
