// The first proof that the engine is right: a real third-party model (karpathy's stories260K,
// llama2.c format), imported and run through the command line, reproduces llama2.c's documented
// greedy output (https://github.com/karpathy/llama2.c/blob/master/doc/stories260K.md, `./run stories260K.bin -z tok512.bin -t 0.0`).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLlama2cTokenizer } from '../src/model/llama2c.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibench } from './cli.ts';
import { DATA_DIR, STORIES260K as SHARED, hasStories260K } from './shared-paths.ts';

const DOCUMENTED = readFileSync(resolve(import.meta.dirname, 'fixtures/stories260K-greedy.txt'), 'utf8').trimEnd();
const work = mkdtempSync(join(tmpdir(), 'fb-stories-'));
const model = join(work, 'stories260K');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };

beforeAll(() => {
  const r = flexibench(['import-llama2c', '--bin', join(SHARED, 'stories260K.bin'), '--tokenizer', join(SHARED, 'tok512.bin'), '--out', model], env);
  expect(r.stderr).toContain('imported');
  expect(r.status).toBe(0);
});

describe.skipIf(!hasStories260K())('stories260K', () => {
  it('greedy generation from BOS reproduces llama2.c token for token', () => {
    const r = flexibench(['generate', '--model', model, '--variant', 'full', '--bos', '--max-new-tokens', '200', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; tokens: { id: number; phase: string; text: string }[] };
    const generated = out.tokens.filter((t) => t.phase === 'generated');
    expect(generated).toHaveLength(200);
    // Token for token: the documented text, re-encoded, starts with exactly our 200 ids.
    const tok = TextTokenizer.load(model);
    const documentedIds = tok.encode(DOCUMENTED, false);
    expect(generated.map((t) => t.id)).toEqual(documentedIds.slice(0, 200));
    expect(DOCUMENTED.startsWith(out.text)).toBe(true);
    expect(out.text.length).toBeGreaterThan(400); // 200 tokens of this 512-token vocabulary are ~460 characters
    // The per-token pieces concatenate to the text.
    expect(
      generated
        .map((t) => t.text)
        .join('')
        .replace(/^ /, ''),
    ).toBe(out.text);
  });

  it('the plain-text output matches the documented text', () => {
    const r = flexibench(['generate', '--model', model, '--variant', 'full', '--bos', '--max-new-tokens', '200'], env);
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout.replace(/\n$/, '');
    expect(DOCUMENTED.startsWith(text)).toBe(true);
    expect(text).toMatch(/^Once upon a time, there was a little girl named Lily\. She loved to play outside in the park\. One day, she saw a big, red ball\./);
  });

  it('refuses to import over a folder that holds anything, unless --force', () => {
    const args = ['import-llama2c', '--bin', join(SHARED, 'stories260K.bin'), '--tokenizer', join(SHARED, 'tok512.bin'), '--out'];
    const mine = join(work, 'my-checkpoint');
    mkdirSync(mine);
    writeFileSync(join(mine, 'config.json'), '{"mine": true}');
    const r = flexibench([...args, mine], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`flexibench: ${mine}: folder exists and is not empty (1 entry); choose another import-llama2c --out or pass --force to replace it\n`);
    expect(readFileSync(join(mine, 'config.json'), 'utf8')).toBe('{"mine": true}');
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const onFile = flexibench([...args, file], env);
    expect(onFile.stderr).toBe(`flexibench: ${file}: exists and is not a folder (import-llama2c --out)\n`);
    expect(readFileSync(file, 'utf8')).toBe('x');
    const forced = flexibench([...args, mine, '--force'], env);
    expect(forced.status, forced.stderr).toBe(0);
    expect(readdirSync(mine).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readdirSync(work).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it("the converted tokenizer encodes like llama2.c's own BPE encoder", () => {
    const { pieces, scores } = readLlama2cTokenizer(join(SHARED, 'tok512.bin'), 512);
    const tok = TextTokenizer.load(model);
    const corpus = readFileSync(join(DATA_DIR, 'corpora/tinyshakespeare.txt'), 'utf8');
    const lines = corpus
      .split('\n')
      .filter((l) => l.length > 0)
      .slice(0, 400);
    lines.push('Tom’s café — naïve 😀 €5', "It's 3:45pm, isn't it?");
    for (const line of lines) expect(tok.encode(line, false), line).toEqual(llama2cEncode(line, pieces, scores));
  });
});

/** llama2.c's `encode` (run.c), restated: dummy-prefix space, per-character lookup with byte fallback, best-score merges. */
function llama2cEncode(text: string, pieces: string[], scores: number[]): number[] {
  const index = new Map<string, number>();
  pieces.forEach((p, i) => {
    if (!index.has(p)) index.set(p, i);
  });
  const ids: number[] = [];
  for (const ch of ' ' + text) {
    const id = index.get(ch);
    if (id !== undefined) ids.push(id);
    else for (const b of Buffer.from(ch, 'utf8')) ids.push(b + 3);
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const id = index.get(pieces[ids[i]!]! + pieces[ids[i + 1]!]!);
      if (id !== undefined && scores[id]! > best) {
        best = scores[id]!;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx < 0) return ids;
    ids.splice(bestIdx, 2, bestId);
  }
}
