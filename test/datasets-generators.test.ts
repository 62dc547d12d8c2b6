/**
 * Seeded generators for the synthetic suites: the held-out rules of tasks/FORMATS.md hold for
 * every item, and a seed gives the same items everywhere (pinned by a digest of the items).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { additionItems, productItems } from '../datasets/generators/arithmetic.ts';
import { fnv1a32, isEvaluationPair, isEvaluationSequence } from '../datasets/generators/holdout.ts';
import { passageItems } from '../datasets/generators/passages.ts';
import { repetitionItems } from '../datasets/generators/repetition.ts';
import { loadText } from '../datasets/load.ts';
import { expandSuite } from '../tasks/suites/expand.ts';
import { listSuites, loadTaskSpec } from '../tasks/suites/spec.ts';
import { SeededRandom } from '../src/seeded-random.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const digest = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

describe('held-out rules', () => {
  it('fnv1a32 is FNV-1a over UTF-8 bytes', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('47,8')).toBe(3007250840);
    expect(fnv1a32('héllo')).toBe(1252296000);
    expect(isEvaluationPair(47, 8)).toBe(false);
  });

  it('about a third of the pairs are evaluation pairs', () => {
    let n = 0;
    for (let a = 10; a <= 99; a++) for (let b = 2; b <= 9; b++) if (isEvaluationPair(a, b)) n++;
    expect(n).toBe(246);
  });
});

describe('SeededRandom', () => {
  it('is pinned: the same seed gives the same stream on every machine', () => {
    const r = new SeededRandom(1);
    expect(Array.from({ length: 4 }, () => r.nextUint32())).toMatchInlineSnapshot(`
      [
        1828152527,
        3394835397,
        2967886022,
        2251045104,
      ]
    `);
    const counts = [0, 0, 0];
    const s = new SeededRandom(2);
    for (let i = 0; i < 30000; i++) {
      const k = s.int(0, 2);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
  });
});

describe('arithmetic', () => {
  it('addition draws distinct 3-digit evaluation pairs', () => {
    const items = additionItems({ digits: 3 }, 1000301, 500, 'test');
    expect(items).toHaveLength(500);
    expect(new Set(items.map((i) => `${i.a},${i.b}`)).size).toBe(500);
    for (const { a, b, answer } of items) {
      expect(Number(a)).toBeGreaterThanOrEqual(100);
      expect(Number(b)).toBeLessThanOrEqual(999);
      expect(isEvaluationPair(Number(a), Number(b))).toBe(true);
      expect(answer).toBe(String(Number(a) + Number(b)));
    }
    expect(digest(items)).toMatchInlineSnapshot(`"bf027f4ca3c5dc67"`);
    expect(additionItems({ digits: 3 }, 1000302, 5, 'test')).not.toEqual(items.slice(0, 5));
  });

  it('2-digit addition stays in 10..99', () => {
    for (const { a, b } of additionItems({ digits: 2 }, 1000000, 100, 'test')) {
      expect(a).toMatch(/^[1-9][0-9]$/);
      expect(b).toMatch(/^[1-9][0-9]$/);
    }
  });

  it('product uses every evaluation pair exactly once', () => {
    const items = productItems(1000401, undefined, 'test');
    expect(items).toHaveLength(246);
    expect(new Set(items.map((i) => `${i.a},${i.b}`)).size).toBe(246);
    for (const { a, b, answer } of items) {
      expect(isEvaluationPair(Number(a), Number(b))).toBe(true);
      expect(answer).toBe(String(Number(a) * Number(b)));
    }
    expect(digest(items)).toMatchInlineSnapshot(`"31370f639231f701"`);
    expect(() => productItems(1000401, 247, 'tasks/product.yaml: /source/count')).toThrow(
      'tasks/product.yaml: /source/count: count 247 exceeds the 246 evaluation pairs',
    );
  });
});

describe('repetition', () => {
  it('4 to 8 numbers of 1 to 3 digits, evaluation sequences only, no repeats', () => {
    const items = repetitionItems(1000201, 500);
    expect(new Set(items.map((i) => i.numbers)).size).toBe(500);
    const digitCounts = [0, 0, 0, 0];
    for (const { numbers, answer } of items) {
      expect(answer).toBe(numbers);
      const parts = numbers!.split(' ');
      expect(parts.length).toBeGreaterThanOrEqual(4);
      expect(parts.length).toBeLessThanOrEqual(8);
      for (const p of parts) {
        expect(p).toMatch(/^(0|[1-9][0-9]{0,2})$/);
        digitCounts[p.length] = (digitCounts[p.length] ?? 0) + 1;
      }
      expect(isEvaluationSequence(parts.map(Number))).toBe(true);
    }
    const total = digitCounts.reduce((a, b) => a + b, 0);
    for (const d of [1, 2, 3]) expect(Math.abs((digitCounts[d] ?? 0) / total - 1 / 3)).toBeLessThan(0.03);
    expect(digest(items)).toMatchInlineSnapshot(`"cb63bb484abff513"`);
  });
});

describe('passages', () => {
  const corpus = loadText('tinyshakespeare', 'text', dataDir);
  const cut = Math.floor(corpus.length * 0.9);
  const tail = corpus
    .slice(corpus.indexOf('\n', cut - 1) + 1)
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
  const head = corpus.slice(0, cut).split(/\s+/).filter(Boolean).join(' ');

  it('come from the start of a line in the last 10% of the corpus', () => {
    const items = passageItems(corpus, { continuation_words: 24 }, 1000501, 200, 'test');
    const lineStarts = new Set(
      corpus
        .slice(cut)
        .split('\n')
        .map((l) => l.split(/\s+/).filter(Boolean).join(' '))
        .filter(Boolean),
    );
    for (const item of items) {
      const passage = item.passage!;
      const continuation = item.continuation!;
      const words = passage.split(' ');
      expect(words.length).toBeGreaterThanOrEqual(8);
      expect(words.length).toBeLessThanOrEqual(24);
      expect(continuation.split(' ')).toHaveLength(24);
      expect(tail).toContain(`${passage} ${continuation}`);
      expect([...lineStarts].some((line) => passage.startsWith(line) || line.startsWith(passage))).toBe(true);
    }
    expect(new Set(items.map((i) => i.passage)).size).toBe(200);
    expect(digest(items)).toMatchInlineSnapshot(`"654f4f5f3975a11d"`);
  });

  it('most passages do not occur in the training part at all', () => {
    const items = passageItems(corpus, {}, 1000101, 200, 'test');
    const seen = items.filter((i) => head.includes(i.passage!)).length;
    expect(seen).toBeLessThan(10);
  });
});

describe('generated suites', () => {
  it('every synthetic suite expands deterministically', () => {
    for (const suite of listSuites()) {
      const spec = loadTaskSpec(suite);
      if (spec.source.kind !== 'generator') continue;
      const a = expandSuite(spec, { dataDir });
      const b = expandSuite(spec, { dataDir });
      expect(b).toEqual(a);
      expect(a.length).toBe(spec.source.count ?? 246);
    }
  });
});
