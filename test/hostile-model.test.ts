// Hostile model folders and llama2.c files (issue 26): absurd config numbers, safetensors headers
// that lie, and llama2.c inputs that are devices, pipes, or far larger than their data. Each is
// refused in one line naming the file and the field or tensor, before anything is allocated for
// it, and leaves the folder and the graph cache as they were; a large but valid context length
// runs, with a graph no larger than the model's own.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { CONFIG_LIMITS, parseModelConfig, readModelConfig, ropeInverseFrequencies } from '../src/model/config.ts';
import { vocabularyMerges } from '../src/model/llama2c-merges.ts';
import { RotaryTables } from '../src/model/rotary-tables.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { readSafetensorsFile, readSafetensorsHeader, writeSafetensorsFile, type Tensor } from '../src/model/safetensors.ts';
import { flexibenchMeasured, type MeasuredCliResult } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const REFERENCE = resolve(import.meta.dirname, '../models/flexidepth-ref');
const work = mkdtempSync(join(tmpdir(), 'fb-hostile-model-'));
const cache = join(work, 'cache');
const env = { FLEXIBENCH_CACHE_DIR: cache };

afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const snapshot = (dir: string): Record<string, string> => Object.fromEntries(readdirSync(dir).map((f) => [f, sha(join(dir, f))]));
const graphsIn = (root: string): string[] => (existsSync(join(root, 'graphs')) ? readdirSync(join(root, 'graphs')) : []);
const folderBytes = (dir: string): number => readdirSync(dir, { recursive: true }).reduce((n, f) => n + statSync(join(dir, String(f))).size, 0);

/** A refusal as the issue defines it: exit 1, exactly one line naming the fault, bounded memory, no hang. */
function expectRefused(r: MeasuredCliResult, message: string | RegExp): void {
  expect(r.timedOut).toBe(false);
  expect(r.stderr).toMatch(/^flexibench: [^\n]*\n$/);
  if (typeof message === 'string') expect(r.stderr).toBe(`flexibench: ${message}\n`);
  else expect(r.stderr).toMatch(message);
  expect(r.status).toBe(1);
  expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
}

const referenceConfig = (): Record<string, unknown> => JSON.parse(readFileSync(join(REFERENCE, 'config.json'), 'utf8')) as Record<string, unknown>;

/** The reference model's safetensors with its header edited (the data section as it was). */
function editedWeights(edit: (header: Record<string, Record<string, unknown> | null>) => void): Buffer {
  const bytes = readFileSync(join(REFERENCE, 'model.safetensors'));
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, Record<string, unknown> | null>;
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, bytes.subarray(8 + length)]);
}

/**
 * A copy of the reference model in a folder of its own: config.json edited, the weights given or
 * linked to the committed ones, the tokenizer files linked.
 */
function modelFolder(name: string, config: Record<string, unknown> = {}, weights?: Buffer): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...referenceConfig(), ...config }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) symlinkSync(join(REFERENCE, f), join(dir, f));
  if (weights === undefined) symlinkSync(join(REFERENCE, 'model.safetensors'), join(dir, 'model.safetensors'));
  else writeFileSync(join(dir, 'model.safetensors'), weights);
  return dir;
}

const generate = (dir: string, more: Record<string, string> = {}): MeasuredCliResult =>
  flexibenchMeasured(['generate', '--model', dir, '--bos', '--max-new-tokens', '2'], { env: { ...env, ...more } });

describe('config.json numbers out of range, or at odds with the weights', () => {
  const layer0 = 'model.layers.0.input_layernorm.weight';
  it.each<[string, Record<string, unknown>, (dir: string) => string | RegExp]>([
    [
      'num_hidden_layers 1e8',
      { num_hidden_layers: 1e8 },
      (d) => `${d}/config.json: field 'num_hidden_layers' must be an integer from 1 to 1024, got 100000000`,
    ],
    [
      'max_position_embeddings 1e12',
      { max_position_embeddings: 1e12 },
      (d) => `${d}/config.json: field 'max_position_embeddings' must be an integer from 1 to 67108864, got 1000000000000`,
    ],
    [
      'max_position_embeddings 1e8',
      { max_position_embeddings: 1e8 },
      (d) => `${d}/config.json: field 'max_position_embeddings' must be an integer from 1 to 67108864, got 100000000`,
    ],
    ['rms_norm_eps -1', { rms_norm_eps: -1 }, (d) => `${d}/config.json: field 'rms_norm_eps' must be a number above 0 and at most 0.1, got -1`],
    ['rope_theta 0', { rope_theta: 0 }, (d) => `${d}/config.json: field 'rope_theta' must be a number above 1, got 0`],
    [
      'num_hidden_layers more than the weights hold',
      { num_hidden_layers: 24 },
      (d) => `${d}/config.json: num_hidden_layers is 24, but ${d}/*.safetensors hold 12 layers; set it to the checkpoint's layer count`,
    ],
    [
      'routers in layers the config does not route',
      { model_type: 'llama' },
      (d) =>
        new RegExp(
          `^flexibench: ${d}/model\\.safetensors: tensor 'model\\.layers\\.\\d+\\.router[^']*' is a router weight of layer \\d+, which routing_layers in ${d}/config\\.json does not list\\n$`,
        ),
    ],
  ])('%s: refused from config.json alone, nothing built', (name, config, message) => {
    const dir = modelFolder(`config ${name}`, config);
    const before = snapshot(dir);
    expectRefused(generate(dir), message(dir));
    expect(snapshot(dir)).toEqual(before);
    expect(graphsIn(cache)).toEqual([]);
  });

  it.each<[string, (h: Record<string, Record<string, unknown> | null>) => void, (file: string) => string | RegExp]>([
    [
      'overlapping data_offsets',
      (h) => (h[layer0]!['data_offsets'] = h['model.layers.0.post_attention_layernorm.weight']!['data_offsets']),
      (f) =>
        new RegExp(
          `^flexibench: ${f}: tensor 'model\\.layers\\.0\\.\\w+_layernorm\\.weight' overlaps tensor 'model\\.layers\\.0\\.\\w+_layernorm\\.weight' \\(data_offsets \\[`,
        ),
    ],
    [
      'negative data_offsets',
      (h) => (h[layer0]!['data_offsets'] = [-768, 0]),
      (f) => `${f}: tensor '${layer0}': data_offsets must be two integers [begin, end] with 0 <= begin <= end, got [-768,0]`,
    ],
    [
      'fractional data_offsets',
      (h) => (h[layer0]!['data_offsets'] = [0.5, 768.5]),
      (f) => `${f}: tensor '${layer0}': data_offsets must be two integers [begin, end] with 0 <= begin <= end, got [0.5,768.5]`,
    ],
    [
      'a null entry',
      (h) => (h[layer0] = null),
      (f) => `${f}: tensor '${layer0}': its header entry must be an object with dtype, shape and data_offsets, got null`,
    ],
    [
      'an entry without shape',
      (h) => delete h[layer0]!['shape'],
      (f) => `${f}: tensor '${layer0}': shape must be a list of non-negative integers, got undefined`,
    ],
  ])('safetensors header with %s: refused naming the file and tensor', (name, edit, message) => {
    const dir = modelFolder(`weights ${name}`, {}, editedWeights(edit));
    const before = snapshot(dir);
    expectRefused(generate(dir), message(join(dir, 'model.safetensors')));
    expect(snapshot(dir)).toEqual(before);
    expect(graphsIn(cache)).toEqual([]);
  });

  it('max_position_embeddings 2e7 (valid, large) runs, and its graph is no larger than at 2,048', () => {
    const small = join(work, 'cache-2048');
    const large = join(work, 'cache-2e7');
    const ok = (r: MeasuredCliResult): void => {
      expect(r.timedOut).toBe(false);
      expect(r.status, r.stderr).toBe(0);
      expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
    };
    ok(generate(REFERENCE, { FLEXIBENCH_CACHE_DIR: small }));
    ok(generate(modelFolder('positions 2e7', { max_position_embeddings: 2e7 }), { FLEXIBENCH_CACHE_DIR: large }));
    // The rotary tables are fed by the session, sized by the positions it runs: the graph holds the weights only.
    expect(folderBytes(large)).toBe(folderBytes(small));
    expect(folderBytes(large)).toBeLessThan(100e6);
  });
});

describe('config.json bounds, in process', () => {
  const base = referenceConfig();
  const parse = (edit: Record<string, unknown>): unknown => parseModelConfig({ ...base, ...edit }, 'config.json');
  it.each<[Record<string, unknown>, string]>([
    [{ hidden_size: 1e300 }, "config.json: field 'hidden_size' must be an integer from 1 to 1048576, got 1e+300"],
    [{ vocab_size: 2 ** 25 }, "config.json: field 'vocab_size' must be an integer from 1 to 16777216, got 33554432"],
    [{ rms_norm_eps: 0 }, "config.json: field 'rms_norm_eps' must be a number above 0 and at most 0.1, got 0"],
    [{ rms_norm_eps: '1e-5' }, 'config.json: field \'rms_norm_eps\' must be a number above 0 and at most 0.1, got "1e-5"'],
    [{ head_dim: 33 }, 'config.json: head_dim must be an even integer, got 33'],
    [
      { head_dim: null, num_attention_heads: 5, num_key_value_heads: 5 },
      'config.json: hidden_size (192) must be a multiple of num_attention_heads (5), or give head_dim',
    ],
    [{ eos_token_id: 2048 }, "config.json: field 'eos_token_id' must be a token id below vocab_size (2048) or a list of them, got 2048"],
    [
      { rope_scaling: { rope_type: 'llama3', factor: 0, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      "config.json: rope_scaling: field 'factor' must be a number above 0, got 0",
    ],
    [
      { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      'config.json: rope_scaling: high_freq_factor (4) must be more than low_freq_factor (4)',
    ],
  ])('%j is refused', (edit, message) => {
    expect(() => parse(edit)).toThrow(new UserError(message));
  });

  it('a value nested too deeply to quote is refused in one line', () => {
    // Written by hand: JSON.stringify itself overflows at this depth, as quoting it in a message would.
    const file = join(work, 'deep-config.json');
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    writeFileSync(file, JSON.stringify({ ...base, hidden_size: 0 }).replace('"hidden_size":0', `"hidden_size":${deep}`));
    expect(() => readModelConfig(file)).toThrow(
      new UserError(`${file}: field 'hidden_size' must be an integer from 1 to ${CONFIG_LIMITS.dimension}, got a deeply nested array`),
    );
  });

  it('the limits hold the published extremes', () => {
    // Llama-3.1's context, a 10M-position config, Llama-3.1-405B's depth and width, Gemma's vocabulary.
    expect(CONFIG_LIMITS.positions).toBeGreaterThanOrEqual(10_485_760);
    expect(CONFIG_LIMITS.layers).toBeGreaterThanOrEqual(126);
    expect(CONFIG_LIMITS.dimension).toBeGreaterThanOrEqual(53_248);
    expect(CONFIG_LIMITS.vocabulary).toBeGreaterThanOrEqual(262_144);
  });
});

describe('safetensors headers, in process', () => {
  const write = (name: string, header: unknown, dataBytes: number, declaredLength?: number): string => {
    const file = join(work, `${name}.safetensors`);
    const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(declaredLength ?? json.length));
    writeFileSync(file, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
    return file;
  };
  const entry = (begin: number, end: number, shape = [(end - begin) / 4]): unknown => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  it.each<[string, unknown, number, number | undefined, (f: string) => string]>([
    [
      'a header length past the file',
      { a: entry(0, 8) },
      8,
      200e6,
      (f) => `${f}: not a safetensors file (bad header length 200000000: the file has ${statSync(f).size} bytes, the format allows 100000000)`,
    ],
    ['a header that is a list', [1, 2], 0, undefined, (f) => `${f}: not a safetensors file (header is not a JSON object)`],
    [
      'an unknown dtype',
      { a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      8,
      undefined,
      (f) => `${f}: tensor 'a' has unsupported dtype I64 (supported: F32, F16, BF16)`,
    ],
    [
      'data past the end',
      { a: entry(0, 16) },
      8,
      undefined,
      (f) => `${f}: tensor 'a' data does not match its shape [4]: its data ends at byte 16, past the file's 8 (file truncated or corrupt)`,
    ],
    [
      'offsets that do not match the shape',
      { a: entry(0, 8, [3]) },
      8,
      undefined,
      (f) => `${f}: tensor 'a' data does not match its shape [3]: its data_offsets hold 8 bytes, the shape needs 12 (file truncated or corrupt)`,
    ],
    ['an overlap', { a: entry(0, 8), b: entry(4, 12) }, 12, undefined, (f) => `${f}: tensor 'b' overlaps tensor 'a' (data_offsets [4, 12] and [0, 8])`],
    [
      'an entry without data_offsets',
      { a: { dtype: 'F32', shape: [2] } },
      8,
      undefined,
      (f) => `${f}: tensor 'a': data_offsets must be two integers [begin, end] with 0 <= begin <= end, got undefined`,
    ],
    ['a fractional shape', { a: entry(0, 8, [1.5]) }, 8, undefined, (f) => `${f}: tensor 'a': shape must be a list of non-negative integers, got [1.5]`],
    [
      'a shape nested too deeply to quote',
      `{"a":{"dtype":"F32","shape":${'['.repeat(100_000)}${']'.repeat(100_000)},"data_offsets":[0,0]}}`,
      0,
      undefined,
      (f) => `${f}: tensor 'a': shape must be a list of non-negative integers, got a deeply nested array`,
    ],
  ])('%s is refused', (name, header, dataBytes, declared, message) => {
    const file = write(name.replaceAll(' ', '-'), header, dataBytes, declared);
    expect(() => readSafetensorsHeader(file)).toThrow(new UserError(message(file)));
  });

  it('empty tensors and back-to-back tensors are fine', () => {
    const file = write('fine', { __metadata__: { format: 'pt' }, a: entry(0, 8), e: entry(8, 8, [0, 3]), b: entry(8, 16) }, 16);
    expect([...readSafetensorsHeader(file).tensors.keys()]).toEqual(['a', 'e', 'b']);
  });
});

describe('checkpoint folders, in process', () => {
  /** A small random Llama whose weights are rewritten by `edit`, as one file or as the shards `split` names. */
  function checkpoint(name: string, edit: (t: Map<string, Tensor>) => void = () => {}, split?: (name: string) => string[]): string {
    const dir = join(work, `ckpt ${name}`);
    writeRandomCheckpoint(dir, { numLayers: 2 });
    const tensors = readSafetensorsFile(join(dir, 'model.safetensors'));
    edit(tensors);
    if (split === undefined) {
      writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
      return dir;
    }
    rmSync(join(dir, 'model.safetensors'));
    const shards = new Map<string, Map<string, Tensor>>();
    const weightMap: Record<string, string> = {};
    for (const [n, t] of tensors) {
      for (const shard of split(n)) {
        if (!shards.has(shard)) shards.set(shard, new Map());
        shards.get(shard)!.set(n, t);
        weightMap[n] = shard;
      }
    }
    for (const [shard, part] of shards) if (!shard.includes('/')) writeSafetensorsFile(join(dir, shard), part);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    return dir;
  }
  const bias = 'model.layers.1.self_attn.q_proj.bias';

  it('a layer tensor the graph would not use is refused; a saved rotary inv_freq is not', () => {
    const withBias = checkpoint('bias', (t) => t.set(bias, { shape: [64], data: new Float32Array(64) }));
    expect(() => loadCheckpoint(withBias)).toThrow(
      new UserError(
        `${withBias}/model.safetensors: tensor '${bias}' is not part of a llama layer; flexibench would ignore it (a config.json mismatch, or an architecture it does not run)`,
      ),
    );
    const withInvFreq = checkpoint('inv_freq', (t) => t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [8], data: new Float32Array(8) }));
    expect(loadCheckpoint(withInvFreq).tensors.has('model.layers.0.self_attn.rotary_emb.inv_freq')).toBe(false);
  });

  it('a shard outside the folder, or a tensor in two shards, is refused', () => {
    const outside = checkpoint('outside', undefined, (n) => [n.startsWith('model.layers.1.') ? '../elsewhere.safetensors' : 'a.safetensors']);
    expect(() => loadCheckpoint(outside)).toThrow(
      /model\.safetensors\.index\.json: weight_map gives tensor 'model\.layers\.1\.[^']+' the shard "\.\.\/elsewhere\.safetensors"; expected a file name in /,
    );
    const twice = checkpoint('twice', undefined, (n) => (n === 'model.norm.weight' ? ['a.safetensors', 'b.safetensors'] : ['a.safetensors']));
    expect(() => loadCheckpoint(twice)).toThrow(
      new UserError(`${twice}/b.safetensors: tensor 'model.norm.weight' is also in ${twice}/a.safetensors; each tensor must be in one shard`),
    );
  });
});

describe('rotary tables', () => {
  const config = parseModelConfig(referenceConfig(), 'config.json');

  it('cover every position fed, with the values the graph used to hold, and grow only as far as used', () => {
    const tables = new RotaryTables(config);
    const inv = ropeInverseFrequencies(config);
    const half = config.headDim / 2;
    const first = tables.feeds(3)['cos_cache']!;
    expect(first.dims).toEqual([256, half]);
    expect(tables.feeds(256)['cos_cache']).toBe(first); // no regrowth within the table
    const grown = tables.feeds(700);
    expect(grown['cos_cache']!.dims).toEqual([1024, half]);
    const cos = grown['cos_cache']!.data as Float32Array;
    const sin = grown['sin_cache']!.data as Float32Array;
    for (const pos of [0, 1, 255, 256, 699, 1023]) {
      for (const j of [0, 7, half - 1]) {
        expect(cos[pos * half + j]).toBe(Math.fround(Math.cos(pos * inv[j]!)));
        expect(sin[pos * half + j]).toBe(Math.fround(Math.sin(pos * inv[j]!)));
      }
    }
    // Capped at the model's positions, yet never short of the positions asked for.
    expect(tables.feeds(2000)['cos_cache']!.dims).toEqual([2048, half]);
    expect(tables.feeds(2049)['cos_cache']!.dims).toEqual([2049, half]);
  });
});

describe('llama2.c inputs', () => {
  const out = (name: string): string => join(work, 'imports', name);
  beforeAll(() => mkdirSync(join(work, 'imports')));

  /** A llama2.c v0 checkpoint: the seven header ints, then `floats` float32 zeros (all when not given). */
  function llama2cBin(name: string, header: number[], floats?: number): string {
    const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = header as [number, number, number, number, number, number, number];
    const hd = dim / heads;
    const implied = Math.abs(vocab) * dim + layers * (2 * dim + 2 * dim * dim + 2 * kvHeads * hd * dim + 3 * hidden * dim) + dim + seqLen * hd;
    const file = join(work, `${name}.bin`);
    const buf = Buffer.alloc(28 + 4 * (floats ?? implied));
    header.forEach((v, i) => buf.writeInt32LE(v, 4 * i));
    writeFileSync(file, buf);
    return file;
  }
  /** A llama2.c tokenizer: the header's max_token_length, then each token's score, length and bytes. */
  function llama2cTokenizer(name: string, maxTokenLength: number, tokens: string[]): string {
    const file = join(work, `${name}.tok.bin`);
    const head = Buffer.alloc(4);
    head.writeInt32LE(maxTokenLength);
    const parts = tokens.map((t, i) => {
      const bytes = Buffer.from(t);
      const meta = Buffer.alloc(8);
      meta.writeFloatLE(-i, 0);
      meta.writeInt32LE(bytes.length, 4);
      return Buffer.concat([meta, bytes]);
    });
    writeFileSync(file, Buffer.concat([head, ...parts]));
    return file;
  }
  const tiny = [8, 16, 1, 2, 2, 4, 16];
  const bigToken = 'ab'.repeat(100_000);
  const importArgs = (bin: string, tok: string, name: string): string[] => ['import-llama2c', '--bin', bin, '--tokenizer', tok, '--out', out(name)];

  it.each<[string, () => string, string | RegExp]>([
    ['/dev/zero', () => '/dev/zero', '/dev/zero: the llama2.c checkpoint must be a regular file, not a device'],
    [
      'a FIFO',
      () => {
        const fifo = join(work, 'model.fifo');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
      /^flexibench: .*model\.fifo: the llama2\.c checkpoint must be a regular file, not a pipe\n$/,
    ],
    [
      'a header that implies far more data than the file holds',
      () => llama2cBin('short', [288, 768, 6, 6, 6, 32000, 256], 250),
      /^flexibench: .*short\.bin: the header \(288, 768, 6, 6, 6, 32000, 256\) implies \d+ bytes, the file has 1028 \(truncated, or not a llama2\.c v0 checkpoint\)\n$/,
    ],
    [
      'a header of 1e8 layers',
      () => llama2cBin('deep', [8, 16, 1e8, 2, 2, 4, 16], 10),
      /^flexibench: .*deep\.bin: header, as config\.json: field 'num_hidden_layers' must be an integer from 1 to 1024, got 100000000\n$/,
    ],
  ])('--bin %s is refused before it is read, and nothing is written', (name, bin, message) => {
    const tok = llama2cTokenizer('plain', 8, ['<unk>', '<s>', '</s>', 'ab']);
    expectRefused(flexibenchMeasured(importArgs(bin(), tok, name), { env }), message);
    expect(existsSync(out(name))).toBe(false);
  });

  it('a 200 KB token imports at once when the tokenizer declares it (merges are found in linear time)', () => {
    const bin = llama2cBin('tiny', tiny);
    const tok = llama2cTokenizer('big', bigToken.length, ['<unk>', '<s>', '</s>', bigToken]);
    const r = flexibenchMeasured(importArgs(bin, tok, 'big'), { env });
    expect(r.timedOut).toBe(false);
    expect(r.status, r.stderr).toBe(0);
    const vocab = (JSON.parse(readFileSync(join(out('big'), 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
    expect(vocab[bigToken]).toBe(3);
  });

  it('a token longer than the max_token_length the tokenizer declares is refused, naming the file and token', () => {
    const bin = llama2cBin('tiny-2', tiny);
    const tok = llama2cTokenizer('liar', 16, ['<unk>', '<s>', '</s>', bigToken]);
    expectRefused(flexibenchMeasured(importArgs(bin, tok, 'liar'), { env }), `${tok}: token 3 is 200000 bytes, longer than the file's max_token_length 16`);
    expect(existsSync(out('liar'))).toBe(false);
  });

  it('merges: the same as testing every split; merges past the limit are refused', () => {
    const vocab = ['a', 'b', 'ab', 'ba', 'aba', 'abab', 'x😀', '😀', 'x', '▁a', '▁'];
    const naive = vocab.flatMap((t) =>
      Array.from({ length: [...t].length - 1 }, (_, k) => [[...t].slice(0, k + 1).join(''), [...t].slice(k + 1).join('')]).filter(
        ([l, r]) => vocab.includes(l!) && vocab.includes(r!),
      ),
    );
    expect(vocabularyMerges(new Set(vocab), vocab, 1e6, 'tok')).toEqual(naive.map(([l, r]) => `${l} ${r}`));
    // Every prefix a token: the merges themselves grow with the square of the length, and are bounded.
    const ladder = Array.from({ length: 2000 }, (_, k) => 'a'.repeat(k + 1));
    expect(() => vocabularyMerges(new Set(ladder), ladder, 2 ** 20, 'tok.bin')).toThrow(
      new UserError('tok.bin: its merges (each split of a token into two tokens) pass 1 MiB, the most flexibench reads of a tokenizer.json'),
    );
  });
});
