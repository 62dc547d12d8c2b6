// An fp16 graph's KV cache is float16 end to end (graph-builder.ts, kvCacheType): the session's
// buffers are float16 tensors over Uint16Arrays, grown, extended and moved into a batch's rows by
// the same element-size-generic copies as float32 ones. Decoding through them must give what a
// fresh pass over the same tokens gives, alone and batched, and stay near fp32's decode.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import * as ort from 'onnxruntime-node';
import { kvData, type KvCache } from '../src/model/kv-cache.ts';
import { DecoderSession } from '../src/model/session.ts';
import { relativeDistance } from '../src/model/relative-distance.ts';

const REFERENCE = join(import.meta.dirname, '..', 'models', 'flexidepth-ref');
const ckpt = loadCheckpoint(REFERENCE);
const cacheDir = mkdtempSync(join(tmpdir(), 'fb-fp16-kv-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
const V = ckpt.config.vocabSize;

const tokens = (n: number, seed: number): number[] => Array.from({ length: n }, (_, k) => 3 + ((k * 37 + seed * 11) % 1900));

/** Row t of the logits of every position. */
const row = (logits: Float32Array, t: number): Float32Array => logits.subarray(t * V, (t + 1) * V);

const expectFloat16 = (cache: KvCache): void => {
  const tensors = Object.values(cache.tensors);
  expect(tensors.length).toBe(2 * ckpt.config.numLayers);
  for (const t of tensors) {
    expect(t.type).toBe('float16');
    expect(t.data).toBeInstanceOf(Uint16Array);
  }
};

describe.each(['full', 'flexidepth'] as const)('fp16 KV cache, %s', (variant) => {
  let fp16: DecoderSession;
  let fp32: DecoderSession;
  beforeAll(async () => {
    fp16 = await DecoderSession.create(ckpt, { variant, precision: 'fp16', cacheDir, intraOpThreads: 1 });
    fp32 = await DecoderSession.create(ckpt, { variant, cacheDir, intraOpThreads: 1 });
  });
  afterAll(async () => {
    await fp16.release();
    await fp32.release();
  });

  // Measured over these 76 steps: a step through the cache within 0.09-0.11% of a fresh fp16 pass
  // (a K or V row's float16 rounding can differ between the two), 0.15-0.21% of fp32's decode, and
  // every routing decision fp32's. The bounds leave twice that and more.
  it('decodes across the buffers growing as a fresh pass over the same tokens does, near fp32', async () => {
    // A 60-token prompt gets 128 slots (grownCapacity): decoding to 136 grows them.
    const ids = tokens(136, 1);
    let out = await fp16.step(ids.slice(0, 60), fp16.emptyCache());
    let ref = await fp32.step(ids.slice(0, 60), fp32.emptyCache());
    expectFloat16(out.cache);
    const capacities = new Set([out.cache.capacity]);
    for (let t = 60; t < ids.length; t++) {
      out = await fp16.step([ids[t]!], out.cache);
      ref = await fp32.step([ids[t]!], ref.cache);
      capacities.add(out.cache.capacity);
      expect(relativeDistance(out.logits, ref.logits), `fp32 at ${t}`).toBeLessThan(0.005);
      expect(Array.from(out.gates, (g) => g > 0.5)).toEqual(Array.from(ref.gates, (g) => g > 0.5));
      if (t % 16 === 0 || t === ids.length - 1) {
        const fresh = await fp16.step(ids.slice(0, t + 1), fp16.emptyCache());
        expect(relativeDistance(out.logits, row(fresh.logits, t)), `fresh at ${t}`).toBeLessThan(0.004);
        if (variant === 'flexidepth') {
          const gates = Float32Array.from({ length: out.gates.length }, (_, r) => fresh.gates[r * (t + 1) + t]!);
          expect(relativeDistance(out.gates, gates)).toBeLessThan(0.004);
        }
      }
    }
    expect(capacities.size, 'the buffers grew during the test').toBeGreaterThan(1);
    expectFloat16(out.cache);
  });

  it('a batch of sequences, prompted together and decoded together, gives each its own steps', async () => {
    const prompts = [tokens(7, 2), tokens(12, 3), tokens(3, 4)];
    const batch = fp16.batchCache(3);
    expect(batch.type).toBe('float16');
    const together = await fp16.prefillBatch(prompts, batch);
    const alone: KvCache[] = [];
    for (const [b, prompt] of prompts.entries()) {
      const own = await fp16.step(prompt, fp16.emptyCache(), 0.5, undefined, 'last');
      expect(relativeDistance(row(together.logits, b), own.logits), `prompt ${b}`).toBeLessThan(0.002);
      alone.push(own.cache);
    }
    for (const [k, next] of [
      [5, 9, 11],
      [13, 17, 19],
    ].entries()) {
      const step = await fp16.stepBatch(next, batch);
      for (const [b, id] of next.entries()) {
        const own = await fp16.step([id], alone[b]!);
        alone[b] = own.cache;
        expect(relativeDistance(row(step.logits, b), own.logits), `step ${k}, row ${b}`).toBeLessThan(0.002);
      }
    }
    // The last row moves into a removed row's place, and a row added from a single sequence's
    // float16 cache decodes as that sequence does.
    batch.remove(0);
    batch.add(alone[1]!);
    const step = await fp16.stepBatch([21, 23, 21], batch);
    expect(relativeDistance(row(step.logits, 0), (await fp16.step([21], alone[2]!)).logits)).toBeLessThan(0.002);
    expect(relativeDistance(row(step.logits, 2), (await fp16.step([21], alone[1]!)).logits)).toBeLessThan(0.002);
  });
});

describe('kvData', () => {
  it('views float16 data handed out as another 2-byte array (Float16Array, where the runtime has it) as its bits, without copying', () => {
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff);
    const other = new Int16Array(bits.buffer);
    const view = kvData({ type: 'float16', data: other, size: 3 } as unknown as ort.Tensor);
    expect(view).toBeInstanceOf(Uint16Array);
    expect(view.buffer).toBe(bits.buffer);
    expect(Array.from(view)).toEqual([0x3c00, 0xc000, 0x7bff]);
    const f32 = new ort.Tensor('float32', Float32Array.of(1, 2), [2]);
    expect(kvData(f32)).toBe(f32.data);
    expect(() => kvData(new ort.Tensor('int64', BigInt64Array.of(1n), [1]))).toThrow('KV cache: a int64 tensor, expected float32 or float16');
  });
});
