// bench --synthetic writes checkpoints as real ones are shipped (issue 27): BF16 safetensors shards
// named model-0000K-of-0000N with model.safetensors.index.json, read back through the real loader.
// BF16 rounding is checked against a float64 statement of round-to-nearest-even.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readWeights } from '../src/model/checkpoint.ts';
import { encodeBf16, readSafetensorsHeader } from '../src/model/safetensors.ts';
import { syntheticCheckpointBytes, writeSyntheticCheckpoint } from '../src/model/synthetic-checkpoint.ts';
import { SeededRandom } from '../src/seeded-random.ts';
import { tempDir } from './store-fixtures.ts';

const work = tempDir('fb-synthetic-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The bfloat16 nearest to x (ties to the even mantissa), in float64: 8 significant bits. */
function nearestBf16(x: number): number {
  if (x === 0) return x;
  const exponent = Math.floor(Math.log2(Math.abs(x)));
  const ulp = 2 ** (exponent - 7);
  const scaled = x / ulp;
  const down = Math.floor(scaled);
  const rest = scaled - down;
  const up = rest > 0.5 || (rest === 0.5 && down % 2 !== 0);
  return (up ? down + 1 : down) * ulp;
}

describe('BF16 encoding', () => {
  it('rounds to nearest, ties to even, as a float64 reference says', () => {
    const rng = new SeededRandom(5);
    const values = Float32Array.from({ length: 20_000 }, (_, i) => (rng.nextUint32() / 2 ** 32 - 0.5) * 2 ** ((i % 40) - 20));
    // Exact ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 (rounds down, to even); 1 + 3*2^-8 rounds up.
    values.set([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 0, -0, 1.5, 2 ** -100], 0);
    const out = Buffer.alloc(2 * values.length);
    encodeBf16(values, out);
    const decoded = new Float32Array(values.length);
    new Uint32Array(decoded.buffer).set(Array.from({ length: values.length }, (_, i) => out.readUInt16LE(2 * i) * 65536));
    let rounded = 0;
    for (let i = 0; i < values.length; i++) {
      expect(decoded[i], `value ${values[i]}`).toBe(nearestBf16(values[i]!));
      if (decoded[i] !== values[i]) rounded++;
    }
    // Not a test of values that are already BF16: most draws need rounding.
    expect(rounded).toBeGreaterThan(values.length / 2);
  });
});

describe('writeSyntheticCheckpoint', () => {
  it('writes BF16 shards of at most the shard size, an index naming each tensor once, and loads through the real loader', async () => {
    const dir = join(work, 'ckpt');
    const shardBytes = 200_000;
    await writeSyntheticCheckpoint(dir, { hiddenSize: 128, numLayers: 4, shardBytes });
    const shards = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();
    expect(shards.length).toBeGreaterThan(2);
    shards.forEach((f, k) => expect(f).toBe(`model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));

    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    let data = 0;
    for (const f of shards) {
      const h = readSafetensorsHeader(join(dir, f));
      const bytes = [...h.tensors.values()].reduce((sum, t) => sum + (t.end - t.begin), 0);
      // A shard holds more than the limit only when one tensor alone is larger.
      if (h.tensors.size > 1) expect(bytes).toBeLessThanOrEqual(shardBytes);
      data += bytes;
      for (const [name, t] of h.tensors) {
        expect(t.dtype).toBe('BF16');
        expect(index.weight_map[name]).toBe(f);
      }
    }
    expect(index.metadata.total_size).toBe(data);
    expect(data).toBe(syntheticCheckpointBytes({ hiddenSize: 128, numLayers: 4 }));

    const ckpt = loadCheckpoint(dir);
    expect(ckpt.config.numLayers).toBe(4);
    // Every weight the engine holds is a BF16 value: its low 16 bits are zero.
    for (const t of readWeights(ckpt).values())
      expect(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length).every((b) => (b & 0xffff) === 0)).toBe(true);
  });
});

describe('named shapes', () => {
  it("llama-3-8b has Llama-3-8B's dimensions and, less FlexiDepth's routers and adapters, its 8,030,261,248 parameters", async () => {
    const { NAMED_SHAPES, syntheticConfig } = await import('../src/model/synthetic-checkpoint.ts');
    const { parseModelConfig } = await import('../src/model/config.ts');
    const { expectedTensors } = await import('../src/model/checkpoint.ts');
    const cfg = parseModelConfig(syntheticConfig(NAMED_SHAPES['llama-3-8b']!), 'llama-3-8b');
    expect([cfg.hiddenSize, cfg.numLayers, cfg.numHeads, cfg.numKvHeads, cfg.headDim, cfg.intermediateSize, cfg.vocabSize]).toEqual([
      4096, 32, 32, 8, 128, 14336, 128256,
    ]);
    expect(cfg.routingLayers).toEqual(Array.from({ length: 16 }, (_, k) => 16 + k));
    let llama = 0;
    for (const [name, shape] of expectedTensors(cfg, cfg.intermediateSize / 16))
      if (!/\.router(_proj)?\./.test(name)) llama += shape.reduce((a, b) => a * b, 1);
    expect(llama).toBe(8_030_261_248);
  });
});
