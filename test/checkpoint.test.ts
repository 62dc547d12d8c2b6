// Checkpoint reading: dtypes, shards, RoPE scaling, and the one-line errors a bad checkpoint gives.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, readWeight } from '../src/model/checkpoint.ts';
import { parseModelConfig, ropeInverseFrequencies } from '../src/model/config.ts';
import { readSafetensorsFile, writeSafetensorsFile, type Tensor } from '../src/model/safetensors.ts';
import { flexibench } from './cli.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-ckpt-'));

/** Writes one tensor with a 16-bit dtype by hand, as PyTorch would. */
function write16(file: string, name: string, dtype: 'F16' | 'BF16', halves: number[]): void {
  const header = Buffer.from(JSON.stringify({ [name]: { dtype, shape: [halves.length], data_offsets: [0, 2 * halves.length] } }));
  const out = Buffer.alloc(8 + header.length + 2 * halves.length);
  out.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(out, 8);
  halves.forEach((h, i) => out.writeUInt16LE(h, 8 + header.length + 2 * i));
  writeFileSync(file, out);
}

describe('safetensors', () => {
  it('reads F16 and BF16 exactly', () => {
    // 1.0, -2.0, 0.5, 65504 (f16 max), 2^-24 (smallest subnormal)
    write16(join(work, 'h.safetensors'), 'w', 'F16', [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001]);
    expect(Array.from(readSafetensorsFile(join(work, 'h.safetensors')).get('w')!.data)).toEqual([1, -2, 0.5, 65504, 2 ** -24]);
    // bf16 is the top half of f32: 1.0, -3.0, 1.5
    write16(join(work, 'b.safetensors'), 'w', 'BF16', [0x3f80, 0xc040, 0x3fc0]);
    expect(Array.from(readSafetensorsFile(join(work, 'b.safetensors')).get('w')!.data)).toEqual([1, -3, 1.5]);
  });

  it('round-trips F32 through the writer', () => {
    const t: Tensor = { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6.5) };
    writeSafetensorsFile(join(work, 'f.safetensors'), new Map([['x', t]]));
    const back = readSafetensorsFile(join(work, 'f.safetensors')).get('x')!;
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(t.data));
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', () => {
    const single = join(work, 'single');
    writeRandomCheckpoint(single, { routingLayers: [2, 3] });
    const all = readSafetensorsFile(join(single, 'model.safetensors'));
    const sharded = join(work, 'sharded');
    mkdirSync(sharded);
    copyFileSync(join(single, 'config.json'), join(sharded, 'config.json'));
    const names = [...all.keys()];
    const weightMap: Record<string, string> = {};
    [names.slice(0, 10), names.slice(10)].forEach((part, k) => {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      writeSafetensorsFile(join(sharded, file), new Map(part.map((n) => [n, all.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const ckpt = loadCheckpoint(sharded);
    expect(ckpt.tensors.size).toBe(all.size);
    for (const [n, t] of all) expect(readWeight(ckpt, n).data).toEqual(t.data);
  });
});

describe('config', () => {
  it('applies Llama-3 rope_scaling as published (factor 8, low 1, high 4, original 8192)', () => {
    const cfg = parseModelConfig(
      {
        model_type: 'llama',
        hidden_size: 4096,
        intermediate_size: 14336,
        num_hidden_layers: 32,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        vocab_size: 128256,
        rope_theta: 500000,
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      },
      'config.json',
    );
    const inv = ropeInverseFrequencies(cfg);
    const base = (i: number): number => 1 / 500000 ** ((2 * i) / 128);
    // High frequencies (wavelength < 8192/4 = 2048) are unchanged.
    expect(inv[0]).toBeCloseTo(1, 12);
    expect(inv[10]).toBeCloseTo(base(10), 15);
    // Low frequencies (wavelength > 8192) are divided by the factor.
    expect(inv[63]).toBeCloseTo(base(63) / 8, 18);
    // In between, interpolated: smooth = (8192 / wavelength - 1) / (4 - 1).
    const i = inv.findIndex((_, k) => {
      const w = (2 * Math.PI) / base(k);
      return w >= 2048 && w <= 8192;
    });
    const w = (2 * Math.PI) / base(i);
    const smooth = (8192 / w - 1) / 3;
    expect(inv[i]).toBeCloseTo((1 - smooth) * (base(i) / 8) + smooth * base(i), 18);
  });
});

describe('bad checkpoints give one-line errors that name the culprit', () => {
  const bad = (mutate: (dir: string) => void): string => {
    const dir = mkdtempSync(join(work, 'bad-'));
    writeRandomCheckpoint(dir, { routingLayers: [2, 3] });
    mutate(dir);
    return dir;
  };
  const editConfig = (dir: string, edit: (c: Record<string, unknown>) => void): void => {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    edit(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  };
  const dropTensor = (dir: string, name: string, reshape?: number[]): void => {
    const t = readSafetensorsFile(join(dir, 'model.safetensors'));
    if (reshape) t.set(name, { shape: reshape, data: new Float32Array(reshape.reduce((a, b) => a * b, 1)) });
    else t.delete(name);
    writeSafetensorsFile(join(dir, 'model.safetensors'), t);
  };

  it.each([
    ['a missing model directory', () => join(work, 'nope'), /nope: model directory not found/],
    ['a missing config.json', () => bad((d) => writeFileSync(join(d, 'config.json'), '')), /config\.json: not valid JSON/],
    ['an unknown model_type', () => bad((d) => editConfig(d, (c) => (c['model_type'] = 'mistral'))), /unknown model_type 'mistral'/],
    ['a routing layer out of range', () => bad((d) => editConfig(d, (c) => (c['routing_layers'] = [2, 9]))), /routing layer 9 is out of range 0\.\.3/],
    ['a missing tensor', () => bad((d) => dropTensor(d, 'model.layers.1.mlp.up_proj.weight')), /tensor 'model\.layers\.1\.mlp\.up_proj\.weight' is missing/],
    [
      'a tensor of the wrong shape',
      () => bad((d) => dropTensor(d, 'model.layers.3.router.router_head.weight', [2, 64])),
      /tensor 'model\.layers\.3\.router\.router_head\.weight' has shape \[2, 64\], expected \[1, 64\]/,
    ],
    [
      'a truncated weights file',
      () => bad((d) => writeFileSync(join(d, 'model.safetensors'), readFileSync(join(d, 'model.safetensors')).subarray(0, 20000))),
      /model\.safetensors: tensor '.*' data does not match its shape/,
    ],
  ])('%s', (_what, make, pattern) => {
    const r = flexibench(['generate', '--model', make(), '--bos', '--max-new-tokens', '1'], { FLEXIBENCH_CACHE_DIR: join(work, 'cache') });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
