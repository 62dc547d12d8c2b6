// Fault injection on the model side (issue 12): damaged weights, a missing CUDA provider, a prompt
// longer than the context, a damaged cached graph, an output path that is a file. Each bad input
// ends in one line and exit 1, and leaves the user's files and the cache as they were.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../src/errors.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { generate, promptContextProblem } from '../src/model/generate.ts';
import { buildOrReuseGraph } from '../src/model/graph-cache.ts';
import { readSafetensorsFile } from '../src/model/safetensors.ts';
import { requireExecutionProvider, type DecoderSession } from '../src/model/session.ts';
import { flexibench } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir, STORIES260K as STORIES, hasStories260K } from './shared-paths.ts';

const REFERENCE = resolve(import.meta.dirname, '../models/flexidepth-ref');
const work = mkdtempSync(join(tmpdir(), 'fb-rel-model-'));
const model = join(work, 'ddllama');
const cache = join(work, 'cache');
const env = { FLEXIBENCH_CACHE_DIR: cache };

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Every file in `dir` (a checkpoint: no subfolders) with its hash: what "unchanged" is compared on. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, sha(join(dir, f))]),
  );
const graphsIn = (root: string): string[] => (existsSync(join(root, 'graphs')) ? readdirSync(join(root, 'graphs')).sort() : []);
const oneLine = (stderr: string): string => {
  expect(stderr.split('\n')).toHaveLength(2); // the line and the empty string after its newline
  return stderr.trimEnd();
};

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('non-finite weights', () => {
  it('a NaN in the reference model is refused when the graph is built, naming the tensor and file; nothing is built or stored', () => {
    const copy = join(work, 'ref-nan');
    cpSync(REFERENCE, copy, { recursive: true });
    const file = join(copy, 'model.safetensors');
    const bytes = readFileSync(file);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const name = 'model.layers.3.mlp.down_proj.weight';
    expect(header[name]!.dtype).toBe('F32');
    const at = 8 + headerLen + header[name]!.data_offsets[0] + 4 * 17;
    bytes.writeUInt32LE(0x7fc00000, at);
    writeFileSync(file, bytes);
    // The fault is really there, and it is the only difference from the committed model.
    const original = readFileSync(join(REFERENCE, 'model.safetensors'));
    expect(Number.isNaN(readFileSync(file).readFloatLE(at))).toBe(true);
    expect(Buffer.compare(original.subarray(0, at), bytes.subarray(0, at))).toBe(0);
    expect(Buffer.compare(original.subarray(at + 4), bytes.subarray(at + 4))).toBe(0);

    const before = snapshot(copy);
    const dbPath = join(work, 'nan.duckdb');
    const expected = `flexibench: ${file}: tensor '${name}' holds NaN at index 17; the checkpoint is damaged (re-export or re-download it)`;
    const gen = flexibench(['generate', '--model', copy, '--prompt', 'hi', '--max-new-tokens', '1'], env);
    expect(gen.status).toBe(1);
    expect(oneLine(gen.stderr)).toBe(expected);
    const run = flexibench(['run', '--model', copy, '--suites', 'copy', '--limit', '1', '--db', dbPath, '--data-dir', dataDir], env);
    expect(run.status).toBe(1);
    expect(oneLine(run.stderr)).toBe(expected);
    expect(existsSync(dbPath)).toBe(false);
    expect(graphsIn(cache).filter((f) => f.includes('nan'))).toEqual([]);
    expect(snapshot(copy)).toEqual(before);
  });

  it('F16 NaN and BF16 Inf are refused too; finite values of both read back', () => {
    const write = (file: string, dtype: string, halves: number[]): void => {
      const header = Buffer.from(JSON.stringify({ w: { dtype, shape: [halves.length], data_offsets: [0, 2 * halves.length] } }));
      const out = Buffer.alloc(8 + header.length + 2 * halves.length);
      out.writeBigUInt64LE(BigInt(header.length), 0);
      header.copy(out, 8);
      halves.forEach((h, i) => out.writeUInt16LE(h, 8 + header.length + 2 * i));
      writeFileSync(file, out);
    };
    const f16 = join(work, 'h.safetensors');
    const bf16 = join(work, 'b.safetensors');
    write(f16, 'F16', [0x3c00, 0x7e00]); // 1, NaN
    write(bf16, 'BF16', [0x3f80, 0xff80]); // 1, -Inf
    expect(() => readSafetensorsFile(f16)).toThrow(
      new UserError(`${f16}: tensor 'w' holds NaN at index 1; the checkpoint is damaged (re-export or re-download it)`),
    );
    expect(() => readSafetensorsFile(bf16)).toThrow(
      new UserError(`${bf16}: tensor 'w' holds -Infinity at index 1; the checkpoint is damaged (re-export or re-download it)`),
    );
    write(f16, 'F16', [0x3c00, 0x7bff]); // 1, 65504 (the largest finite half)
    write(bf16, 'BF16', [0x3f80, 0x7f7f]); // 1, the largest finite bfloat16
    expect(Array.from(readSafetensorsFile(f16).get('w')!.data)).toEqual([1, 65504]);
    expect(readSafetensorsFile(bf16).get('w')!.data[1]).toBeCloseTo(3.3895e38, -34);
  });
});

const cudaHere = await requireExecutionProvider('cuda').then(
  () => true,
  () => false,
);

describe.skipIf(cudaHere)('--ep cuda without CUDA', () => {
  it.each([
    ['generate', ['--prompt', 'hi', '--max-new-tokens', '1']],
    ['bench', ['--tokens', '1', '--rounds', '1']],
    ['run', ['--suites', 'repetition', '--limit', '1', '--db', join(work, 'cuda-run', 'study.duckdb')]],
  ])('%s says so in one line, with no ONNX Runtime log, before building any graph', (command, args) => {
    const root = join(work, `cuda-${command}`);
    const r = flexibench([command, '--model', model, '--ep', 'cuda', ...args], { FLEXIBENCH_CACHE_DIR: root });
    // run: no study file was started either.
    expect(existsSync(join(work, 'cuda-run', 'study.duckdb'))).toBe(false);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toMatch(
      /^flexibench: --ep cuda: the CUDA execution provider is not available \(.+\); use --ep cpu, or install onnxruntime-node with CUDA \(/,
    );
    expect(r.stdout).toBe('');
    expect(graphsIn(root)).toEqual([]);
  });
});

describe('prompt longer than the context', () => {
  // The random checkpoint has 256 positions and a character tokenizer: BOS + one id per character.
  const gen = (prompt: string, more: string[] = []) =>
    flexibench(['generate', '--model', model, '--prompt', prompt, ...more], { FLEXIBENCH_CACHE_DIR: join(work, 'long') });

  it('generate names the token count and the context in one line, before building the graph', () => {
    const r = gen('a'.repeat(300), ['--max-new-tokens', '2']);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `flexibench: generate: --prompt: the prompt has 301 tokens, more than the model's 256 positions (max_position_embeddings in ${join(model, 'config.json')}); shorten the prompt`,
    );
    const full = gen('a'.repeat(255), ['--max-new-tokens', '2']);
    expect(full.status).toBe(1);
    expect(oneLine(full.stderr)).toMatch(/the prompt has 256 tokens, all of the model's 256 positions, leaving none to generate/);
    expect(graphsIn(join(work, 'long'))).toEqual([]);
    // The boundary is the context itself: a prompt that fills it runs when nothing is generated.
    const noNew = gen('a'.repeat(255), ['--max-new-tokens', '0']);
    expect(noNew.status, noNew.stderr).toBe(0);
  });

  it("the engine throws the same one-line UserError (run stores it as the failed sample's reason)", async () => {
    const session = { config: { maxPositionEmbeddings: 8 } } as unknown as DecoderSession;
    await expect(
      generate(
        session,
        Array.from({ length: 9 }, () => 5),
        { maxNewTokens: 1 },
      ),
    ).rejects.toThrow(new UserError("the prompt has 9 tokens, more than the model's 8 positions"));
    expect(promptContextProblem(8, 0, 8)).toBeNull();
    expect(promptContextProblem(7, 5, 8)).toBeNull();
  });
});

describe('damaged cached graph', () => {
  it('is rebuilt with a one-line notice, by generate and by run, and the command goes on', () => {
    const root = join(work, 'graph-cache');
    const args = ['generate', '--model', model, '--variant', 'full', '--prompt', 'abc', '--max-new-tokens', '4'];
    const first = flexibench(args, { FLEXIBENCH_CACHE_DIR: root });
    expect(first.status, first.stderr).toBe(0);
    const [name] = graphsIn(root);
    const file = join(root, 'graphs', name!);
    const good = sha(file);

    writeFileSync(file, Buffer.from('this is not protobuf \xff\xff\xff\xff'.repeat(40), 'latin1'));
    expect(sha(file)).not.toBe(good);
    const again = flexibench(args, { FLEXIBENCH_CACHE_DIR: root });
    expect(again.status, again.stderr).toBe(0);
    expect(oneLine(again.stderr)).toMatch(new RegExp(`^flexibench: rebuilding cached graph ${file}: not a valid ONNX model \\(.+\\)$`));
    expect(again.stdout).toBe(first.stdout);
    expect(sha(file)).toBe(good);

    // run opens graphs in worker threads: the check happens before they start.
    truncateSync(file, 1000);
    const run = flexibench(
      [
        'run',
        '--model',
        model,
        '--variants',
        'full',
        '--suites',
        'copy',
        '--limit',
        '1',
        '--workers',
        '1',
        '--db',
        join(work, 'cache-run.duckdb'),
        '--data-dir',
        dataDir,
      ],
      { FLEXIBENCH_CACHE_DIR: root },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr.split('\n')[0]).toMatch(new RegExp(`^flexibench: rebuilding cached graph ${file}: not a valid ONNX model`));
    expect(sha(file)).toBe(good);
    expect(graphsIn(root)).toEqual([name]); // no temporary file left behind
  });

  it('a truncated or missing external data file is caught too', () => {
    const root = join(work, 'external');
    const ckpt = loadCheckpoint(model);
    const notices: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (notices.push(String(chunk)), true));
    try {
      const file = buildOrReuseGraph(ckpt, { variant: 'full' }, root, 0);
      const data = `${file}.data`;
      const good = sha(data);
      truncateSync(data, 100);
      expect(buildOrReuseGraph(ckpt, { variant: 'full' }, root, 0)).toBe(file);
      expect(sha(data)).toBe(good);
      expect(notices).toEqual([
        expect.stringMatching(/rebuilding cached graph .*: its external data file .*\.onnx\.data is truncated \(100 bytes, \d+ needed\)\n$/),
      ]);
      expect(graphsIn(root)).toEqual([`${file.split('/').at(-1)}`, `${file.split('/').at(-1)}.data`]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe.skipIf(!hasStories260K())('import-llama2c --out that is not a folder', () => {
  const args = ['import-llama2c', '--bin', join(STORIES, 'stories260K.bin'), '--tokenizer', join(STORIES, 'tok512.bin'), '--out'];

  it('an existing file is refused in one line, even with --force, and kept as it was', () => {
    const file = join(work, 'notes.txt');
    writeFileSync(file, 'mine');
    for (const extra of [[], ['--force']]) {
      const r = flexibench([...args, file, ...extra], env);
      expect(r.status).toBe(1);
      expect(oneLine(r.stderr)).toBe(`flexibench: ${file}: exists and is not a folder (import-llama2c --out)`);
      expect(readFileSync(file, 'utf8')).toBe('mine');
    }
    const under = join(file, 'model');
    const r = flexibench([...args, under], env);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toBe(`flexibench: ${under}: cannot create it, ${file} is not a folder`);
  });

  it('a dangling symbolic link is refused before converting, and left in place', () => {
    const dir = join(work, 'links');
    mkdirSync(dir);
    const link = join(dir, 'ckpt');
    symlinkSync(join(work, 'nowhere'), link);
    const r = flexibench([...args, link], env);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toBe(`flexibench: ${link}: exists and is not a folder (import-llama2c --out)`);
    expect(readlinkSync(link)).toBe(join(work, 'nowhere'));
    expect(readdirSync(dir)).toEqual(['ckpt']);
  });
});
